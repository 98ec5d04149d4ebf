//! Whole calls through the router, signed like the provider signs them, on SQLite and
//! on PostgreSQL.

use crate::helpers as common;

use common::{Backend, PUBLIC_URL, TTY_LINE, TestApp, closed_time};

on_both_stores!(
    caller_chooses_english_or_spanish,
    every_public_menu_tells_its_facts,
    star_repeats_and_pound_gives_more_time,
    silence_escalates_then_reaches_a_person_when_open,
    wrong_keys_escalate_then_say_goodbye_when_closed,
    representative_path_depends_on_office_hours,
    tty_line_uses_text_turns,
    a_restarted_server_continues_the_call,
    a_second_server_shares_calls_only_on_postgres,
    a_call_whose_last_position_was_lost_carries_on,
    status_callback_ends_the_session,
    announcement_plays_only_when_set,
);

on_postgres!(
    a_server_answers_its_own_turn_from_memory_and_other_turns_from_the_database,
    a_queued_position_never_overwrites_a_later_save_or_revives_an_ended_call,
    two_servers_that_read_one_copy_never_mistake_each_others_answers,
    saves_of_many_calls_share_a_commit_and_each_answers_after_it,
    an_announcement_set_on_another_server_plays_within_a_second,
);

async fn caller_chooses_english_or_spanish(b: Backend) {
    let app = TestApp::spawn(b).await;
    let mut call = app.call();
    let welcome = call.dial().await;
    assert!(welcome.says("Thank you for calling California Child Support Services."));
    assert!(welcome.says("Gracias por llamar"));
    assert!(welcome.says("For English, press 1."));
    assert!(welcome.says("Para español, oprima 2."));
    assert!(welcome.languages().contains(&"es-US".to_string()));
    let menu = call.press("1").await;
    assert!(
        menu.says("For payment information, or to make a payment by card, press 1."),
        "{}",
        menu.xml
    );
    assert!(menu.languages().iter().all(|l| l == "en-US"));

    let mut call = app.call();
    call.dial().await;
    let menu = call.press("2").await;
    assert!(
        menu.says("Para información sobre pagos, o para hacer un pago con tarjeta, oprima 1."),
        "{}",
        menu.xml
    );
    assert!(menu.languages().iter().all(|l| l == "es-US"));
    // 9 on the main menu goes back to the language choice.
    let lang = call.press("9").await;
    assert!(lang.says("For English, press 1."));
}

async fn every_public_menu_tells_its_facts(b: Backend) {
    let app = TestApp::spawn(b).await;
    let mut call = app.call();
    call.dial().await;
    call.press("1").await;
    let info = call.press("3").await;
    assert!(info.says("General information."));
    let topics: &[(&str, &[&str])] = &[
        (
            "1",
            &[
                "every day from 8 a.m. to 4 p.m.",
                "8 6 6, 9 0 1, 3 2 1 2",
                "8 6 6, 3 9 9, 4 0 9 6",
            ],
        ),
        (
            "2",
            &[
                "no income requirement",
                "CalWORKs",
                "35 dollars",
                "online",
                "in person",
                "mailing",
            ],
        ),
        ("3", &["paycheck", "kiosks", "1, 8 7 7, 7 7 7, 1 6 1 7"]),
        (
            "4",
            &[
                "parentage",
                "custody or visitation",
                "Family Law Facilitator",
            ],
        ),
        (
            "5",
            &[
                "Customer Connect",
                "child support dot C A dot gov",
                "let us know",
                "EPPICard",
            ],
        ),
    ];
    for (key, facts) in topics {
        let topic = call.press(key).await;
        for fact in *facts {
            assert!(
                topic.says(fact),
                "topic {key} should say {fact:?}: {}",
                topic.said()
            );
        }
        assert!(topic.says("To hear that again, press star."));
        // Facts are inside the gather, so a key pressed during them is kept (barge-in).
        let gather = topic.gather();
        assert!(
            gather
                .children
                .iter()
                .any(|c| c.text.as_deref().is_some_and(|t| t.contains(facts[0])))
        );
        let back = call.press("8").await;
        assert!(back.says("General information."), "8 returns to topics");
    }
    let main = call.press("9").await;
    assert!(main.says("For payment information, or to make a payment by card, press 1."));
}

async fn star_repeats_and_pound_gives_more_time(b: Backend) {
    let app = TestApp::spawn(b).await;
    let mut call = app.call();
    call.dial().await;
    let first = call.press("1").await;
    let again = call.press("*").await;
    assert_eq!(first.said(), again.said());
    let more = call.press("#").await;
    assert!(more.says("take your time"), "{}", more.said());
    assert_eq!(more.gather().get("timeout"), Some("30"));
    // More time is not a miss: the next silence is still the first.
    let silent = call.silence().await;
    assert!(silent.says("There's no hurry."), "{}", silent.said());
}

async fn silence_escalates_then_reaches_a_person_when_open(b: Backend) {
    let app = TestApp::spawn(b).await;
    let mut call = app.call();
    call.dial().await;
    call.press("1").await;
    let first = call.silence().await;
    assert!(first.says("There's no hurry."), "{}", first.said());
    assert!(
        first.says("press the pound key"),
        "first silence says how to get more time"
    );
    assert!(first.says("For payment information, or to make a payment by card, press 1."));
    let second = call.silence().await;
    assert!(second.says("in more detail"));
    assert!(
        second.says("This is the main menu."),
        "the second miss says more"
    );
    let third = call.silence().await;
    assert!(third.says("connect you"), "{}", third.said());
    assert_eq!(third.last_verb(), "Enqueue");
}

async fn wrong_keys_escalate_then_say_goodbye_when_closed(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.clock.set(closed_time());
    let mut call = app.call();
    call.dial().await;
    call.press("1").await;
    let first = call.press("7").await;
    assert!(first.says("isn't one of the choices"));
    let second = call.press("5").await;
    assert!(second.says("This is the main menu."));
    let third = call.press("6").await;
    assert!(
        third.says("We're sorry we couldn't help this time."),
        "{}",
        third.said()
    );
    assert_eq!(third.last_verb(), "Hangup");
}

async fn representative_path_depends_on_office_hours(b: Backend) {
    let app = TestApp::spawn(b).await;
    let mut call = app.call();
    call.dial().await;
    call.press("1").await;
    let open = call.press("0").await;
    assert!(open.says("Please hold"));
    let enqueue = open.find("Enqueue").expect("enqueue");
    assert_eq!(enqueue.text.as_deref(), Some("customer-service"));
    assert!(
        enqueue
            .get("action")
            .is_some_and(|a| a.starts_with(PUBLIC_URL))
    );

    app.clock.set(closed_time());
    let mut call = app.call();
    call.dial().await;
    call.press("2").await;
    let closed = call.press("0").await;
    assert!(closed.says("cerrada"), "{}", closed.said());
    assert!(
        closed.find("Enqueue").is_none(),
        "never rings an empty queue"
    );
    assert!(
        closed.says("Para usar nuestros menús automáticos, oprima 2"),
        "offers the self-service menus: {}",
        closed.said()
    );
    let menu = call.press("2").await;
    assert!(
        menu.says("Para información sobre pagos"),
        "back to the menu"
    );
    // 0 from the language menu works too.
    let mut call = app.call();
    call.dial().await;
    let closed = call.press("0").await;
    assert!(closed.says("closed right now"));
}

async fn tty_line_uses_text_turns(b: Backend) {
    let app = TestApp::spawn(b).await;
    let mut call = app.call_to(TTY_LINE);
    let hello = call.dial().await;
    assert!(hello.says("TTY"), "{}", hello.said());
    let gather = hello.gather();
    assert_eq!(gather.get("input"), Some("dtmf"));
    let timeout: u32 = gather.get("timeout").unwrap().parse().unwrap();
    assert!(timeout >= 20, "TTY timeouts are long: {timeout}");
    assert!(hello.said().ends_with("GA"), "{}", hello.said());
    assert!(hello.elements().iter().all(|e| e.get("voice").is_none()));
    let menu = call.press("1").await;
    assert!(menu.says("MAIN MENU."), "{}", menu.said());
    assert!(menu.said().ends_with("GA"));
    // Misses until goodbye when closed: the last text ends with SK before hanging up.
    app.clock.set(closed_time());
    call.silence().await;
    call.silence().await;
    let bye = call.silence().await;
    assert_eq!(bye.last_verb(), "Hangup");
    assert!(bye.said().ends_with("SK"), "{}", bye.said());
}

async fn a_restarted_server_continues_the_call(b: Backend) {
    let app = TestApp::spawn(b).await;
    let mut call = app.call();
    call.dial().await;
    call.press("2").await; // Spanish, on the first server.
    let first = call.silence().await; // One miss counted there.
    assert!(first.says("No hay prisa."));
    let (sid, last) = (call.sid.clone(), call.last.clone());
    let twin = app.restart().await;
    let mut same = twin.call();
    same.sid = sid;
    same.last = last;
    let second = same.silence().await;
    assert!(
        second.says("con más detalle"),
        "the miss count survived: {}",
        second.said()
    );
    let info = same.press("3").await;
    assert!(
        info.says("Información general."),
        "the language survived: {}",
        info.said()
    );
}

/// Several servers behind a load balancer need PostgreSQL: there the call moves between
/// them at every step. A SQLite file belongs to one server, which keeps its sessions in
/// memory, so a second one on the same file refuses to start rather than miss its saves.
async fn a_second_server_shares_calls_only_on_postgres(b: Backend) {
    let sqlite = matches!(b, Backend::Sqlite);
    let app = TestApp::spawn(b).await;
    let second = app.second_server().await;
    if sqlite {
        let err = format!(
            "{:#}",
            second.err().expect("a second SQLite server was allowed")
        );
        assert!(err.contains("another Caseline server"), "{err}");
        assert!(err.contains("PostgreSQL"), "{err}");
        return;
    }
    let twin = second.expect("a second PostgreSQL server");
    let mut on_a = app.call();
    on_a.dial().await;
    on_a.press("2").await; // Spanish, on the first server.
    let mut on_b = twin.call();
    on_b.sid = on_a.sid.clone();
    on_b.last = on_a.last.clone();
    assert!(
        on_b.silence().await.says("No hay prisa."),
        "the language crossed"
    );
    on_a.last = on_b.last.clone();
    let again = on_a.silence().await;
    assert!(
        again.says("con más detalle"),
        "both misses counted: {}",
        again.said()
    );
    on_b.last = on_a.last.clone();
    assert!(on_b.press("3").await.says("Información general."));
}

/// A menu step answers before its save is committed on SQLite, so a crash in that
/// moment loses where the caller was (only that: everything else waits for its
/// commit). Here the file is put back one step, as such a crash would leave it: the
/// caller heard the information menu, the file still says main menu. The next key the
/// caller presses is for the step the caller heard, and the call goes on.
async fn a_call_whose_last_position_was_lost_carries_on(b: Backend) {
    let app = TestApp::spawn(b).await;
    let mut call = app.call();
    call.dial().await;
    call.press("1").await; // English: the main menu.
    let sid = caseline::session::CallSid::parse(&call.sid).unwrap();
    let store = &app.state.line.store;
    let at_main_menu = store
        .sessions()
        .load(&sid, app.state.line.now(), None)
        .await
        .unwrap()
        .unwrap();
    assert!(call.press("3").await.says("General information."));
    store
        .sessions()
        .save(&at_main_menu, app.state.line.now())
        .await
        .unwrap();
    let (sid, last) = (call.sid.clone(), call.last.clone());
    let twin = app.restart().await;
    let mut same = twin.call();
    same.sid = sid;
    same.last = last;
    let back = same.press("9").await; // 9 on the information menu: back to the main menu.
    assert!(
        back.says("For payment information, or to make a payment by card, press 1."),
        "{}",
        back.said()
    );
    assert!(!back.says("isn't one of the choices"), "{}", back.said());
}

async fn status_callback_ends_the_session(b: Backend) {
    let app = TestApp::spawn(b).await;
    let mut call = app.call();
    call.dial().await;
    call.press("1").await;
    let done = call.hang_up().await;
    assert_eq!(done.status, 200);
    let sid = caseline::session::CallSid::parse(&call.sid).unwrap();
    let end = app.state.line.store.sessions().ended(&sid).await.unwrap();
    assert_eq!(end.as_deref(), Some("completed"));
    assert!(
        app.state
            .line
            .store
            .sessions()
            .load(&sid, app.state.line.now(), None)
            .await
            .unwrap()
            .is_none()
    );
    // Stale sessions are swept a day later.
    app.clock.advance(25 * 3600);
    assert_eq!(
        app.state
            .line
            .store
            .sessions()
            .expire(app.state.line.now())
            .await
            .unwrap(),
        1
    );
}

/// The storm closure announcement, in force from `starts_at` until `ends_at`.
fn storm(starts_at: Option<i64>, ends_at: i64) -> caseline::store::Announcement {
    caseline::store::Announcement {
        text_en: "Our offices are closed today because of a storm.".into(),
        text_es: "Nuestras oficinas están cerradas hoy por una tormenta.".into(),
        starts_at,
        ends_at: Some(ends_at),
    }
}

async fn announcement_plays_only_when_set(b: Backend) {
    let app = TestApp::spawn(b).await;
    let mut call = app.call();
    let quiet = call.dial().await;
    assert!(!quiet.says("Important notice"));
    let now = app.state.line.now();
    app.state
        .line
        .store
        .announcements()
        .set(&storm(Some(now - 60), now + 3600), now)
        .await
        .unwrap();
    let mut call = app.call();
    let loud = call.dial().await;
    assert!(loud.says("Important notice. Our offices are closed today because of a storm."));
    assert!(loud.says("Aviso importante. Nuestras oficinas están cerradas hoy por una tormenta."));
    app.clock.advance(7200);
    let mut call = app.call();
    assert!(
        !call.dial().await.says("Important notice"),
        "past its end time"
    );
    app.state.line.store.announcements().clear().await.unwrap();
}

/// Each server reads the announcement's slot at most once a second (every greeting
/// asks for it): one set through another server (or `caseline announce`) plays here
/// within that second, and its end is kept exactly.
async fn an_announcement_set_on_another_server_plays_within_a_second(b: Backend) {
    let app = TestApp::spawn(b).await;
    let other = app.second_server().await.expect("a second server");
    assert!(!app.call().dial().await.says("Important notice"));
    let now = app.state.line.now();
    other
        .state
        .line
        .store
        .announcements()
        .set(&storm(None, now + 3600), now)
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert!(app.call().dial().await.says("Important notice"));
    app.clock.advance(3600);
    assert!(
        !app.call().dial().await.says("Important notice"),
        "past its end, from the slot already read"
    );
}

/// Puts the row of a call in Spanish behind the servers' backs (no server would): a
/// change only a read of the database can see.
async fn spanish_in_the_database(app: &TestApp, sid: &str) {
    let (url, schema) = app.postgres().expect("PostgreSQL");
    let pool = sqlx::PgPool::connect(&url).await.expect("connect");
    let sql = format!(
        "UPDATE {schema}.call_sessions SET state = jsonb_set(state::jsonb, '{{lang}}', '\"es\"')::text \
         WHERE call_sid = $1"
    );
    let changed = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(sid)
        .execute(&pool)
        .await
        .expect("update")
        .rows_affected();
    assert_eq!(changed, 1);
    pool.close().await;
}

/// On PostgreSQL the server that gave out a turn answers the provider's request for it
/// from the session it holds, without reading the database; a request naming another
/// turn (the call went through another server, or a late retry) reads it.
async fn a_server_answers_its_own_turn_from_memory_and_other_turns_from_the_database(b: Backend) {
    let app = TestApp::spawn(b).await;
    let mut call = app.call();
    call.dial().await;
    call.press("1").await; // English: the main menu.
    assert!(call.press("3").await.says("General information."));
    app.session_of(&call.sid).await; // Its queued position is in.
    spanish_in_the_database(&app, &call.sid).await;
    let from_memory = call.press("9").await;
    assert!(
        from_memory.says("For payment information"),
        "the turn this server gave is answered from memory: {}",
        from_memory.said()
    );
    app.session_of(&call.sid).await;
    spanish_in_the_database(&app, &call.sid).await;
    let action = call
        .last
        .as_ref()
        .unwrap()
        .gather()
        .get("action")
        .unwrap()
        .to_string();
    let (path, query) = action.split_once("?t=").expect("the action names its turn");
    let turn: u64 = query.split('&').next().unwrap().parse().unwrap();
    let older = format!("{path}?t={}", turn - 1);
    let from_database = call.post(&older, &[("Digits", "3")]).await;
    assert!(
        from_database.says("Información general."),
        "another turn reads the database: {}",
        from_database.said()
    );
}

/// A position is saved behind the answer and committed with others later; it must not
/// overwrite a later save, nor bring back a call another server has ended.
async fn a_queued_position_never_overwrites_a_later_save_or_revives_an_ended_call(b: Backend) {
    use caseline::session::{CallSid, Session};
    use caseline::words::prompts::Channel;

    let app = TestApp::spawn(b).await;
    let now = app.state.line.now();
    let sid = CallSid::parse("CA0000000000000000000000000000beef").unwrap();
    let mut later = Session::new(sid.clone(), Channel::Voice, now);
    // Turns as servers give them: the count of answers in the high bits.
    let turn = |count: u64| (count << 32) | 1;
    later.turn = turn(5);
    later.step = Some("main-menu".into());
    let mut earlier = later.clone();
    earlier.turn = turn(4);
    earlier.step = Some("info-menu".into());

    let first = app.second_server().await.expect("a server");
    first
        .state
        .line
        .store
        .sessions()
        .save(&later, now)
        .await
        .unwrap();
    first
        .state
        .line
        .store
        .sessions()
        .save_position(earlier, now)
        .await
        .unwrap();
    first.state.line.store.close().await; // Commits what it queued.
    let read = app
        .state
        .line
        .store
        .sessions()
        .load(&sid, now, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (read.turn, read.step.as_deref()),
        (turn(5), Some("main-menu"))
    );

    // Another server queues a move while this one ends the call.
    let second = app.second_server().await.expect("a server");
    let mut moved = read.clone();
    moved.turn = turn(6);
    moved.step = Some("info-menu".into());
    assert!(
        app.state
            .line
            .store
            .sessions()
            .end(&sid, "completed", now)
            .await
            .unwrap()
    );
    second
        .state
        .line
        .store
        .sessions()
        .save_position(moved, now)
        .await
        .unwrap();
    second.state.line.store.close().await;
    let sessions = app.state.line.store.sessions();
    assert!(
        sessions.load(&sid, now, None).await.unwrap().is_none(),
        "still over"
    );
    assert_eq!(
        sessions.ended(&sid).await.unwrap().as_deref(),
        Some("completed")
    );
    let (url, schema) = app.postgres().expect("PostgreSQL");
    let pool = sqlx::PgPool::connect(&url).await.expect("connect");
    let sql = format!("SELECT turn, state FROM {schema}.call_sessions WHERE call_sid = $1");
    let (row_turn, state): (i64, String) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(sid.as_str())
        .fetch_one(&pool)
        .await
        .expect("the row");
    assert_eq!(
        row_turn,
        turn(5) as i64,
        "the ended call's row was not moved"
    );
    assert!(state.contains("main-menu"), "{state}");
    pool.close().await;
}

/// Two servers that read the same copy of a session (one's change of position still
/// queued) give different turns, and a change of position never overwrites another
/// server's save of the same turn: the provider follows the answer it got, and whichever
/// server that request reaches serves the change that answer was built on.
async fn two_servers_that_read_one_copy_never_mistake_each_others_answers(b: Backend) {
    use caseline::session::{CallSid, Session};
    use caseline::words::prompts::{Channel, Lang};

    let app = TestApp::spawn(b).await;
    let other = app.second_server().await.expect("a second server");
    let (a, b) = (
        app.state.line.store.sessions(),
        other.state.line.store.sessions(),
    );
    let now = app.state.line.now();
    let sid = CallSid::parse("CA0000000000000000000000000000cafe").unwrap();
    let mut first = Session::new(sid.clone(), Channel::Voice, now);
    a.number(&mut first, None);
    a.save(&first, now).await.unwrap();

    // The same request, delivered twice: A moves the caller (queued), B changes the
    // language (committed). The provider keeps B's answer.
    let mut on_a = first.clone();
    a.number(&mut on_a, Some(first.turn));
    on_a.step = Some("info-menu".into());
    let mut on_b = b.load(&sid, now, Some(first.turn)).await.unwrap().unwrap();
    b.number(&mut on_b, Some(first.turn));
    on_b.lang = Some(Lang::Es);
    b.save(&on_b, now).await.unwrap();
    a.save_position(on_a.clone(), now).await.unwrap();
    assert_ne!(on_a.turn, on_b.turn, "two servers gave the same turn");
    assert_eq!(on_a.answers(), on_b.answers());

    // B's answer's next request reaches A.
    let read = a.load(&sid, now, Some(on_b.turn)).await.unwrap().unwrap();
    assert_eq!(read.lang, Some(Lang::Es), "A served its own copy");
    assert_eq!(read.turn, on_b.turn);
}

/// On PostgreSQL a save that waits for its commit goes through the writer with other
/// calls' saves (group commit; `store::pg`'s unit tests show how a batch is made up).
/// Each save is in the database when it answers; a call that ended and starts afresh is
/// live again; a save overwrites a position queued before it, even a later one; and a
/// hang-up's end waits for the save queued before it, so it is never undone by it.
async fn saves_of_many_calls_share_a_commit_and_each_answers_after_it(b: Backend) {
    use caseline::session::{CallSid, Session};
    use caseline::words::prompts::Channel;

    let app = TestApp::spawn(b).await;
    // Another server holds nothing in memory: what it loads is what was committed.
    let reader = app.second_server().await.expect("a server");
    let now = app.state.line.now();
    let turn = |count: u64| (count << 32) | 1;
    let session = |i: u32, count: u64, step: &str| {
        let sid = CallSid::parse(&format!("CA{i:032x}")).unwrap();
        let mut s = Session::new(sid, Channel::Voice, now);
        s.turn = turn(count);
        s.step = Some(step.to_string());
        s
    };
    let sessions = app.state.line.store.sessions();
    let committed = |sid: CallSid| {
        let reader = &reader;
        async move {
            let read = reader
                .state
                .line
                .store
                .sessions()
                .load(&sid, now, None)
                .await;
            read.unwrap().map(|s| (s.turn, s.step))
        }
    };

    // 64 new calls at once, each read from the database as soon as its save answers.
    let many: Vec<Session> = (0..64).map(|i| session(i, 1, "language")).collect();
    let seen = futures::future::join_all(many.iter().map(|s| async {
        sessions.save(s, now).await.expect("saved");
        committed(s.call_sid.clone()).await
    }))
    .await;
    for read in seen {
        assert_eq!(read, Some((turn(1), Some("language".to_string()))));
    }

    // A call that ended at its third answer starts afresh at its first: live again.
    let old = session(100, 3, "main-menu");
    sessions.save(&old, now).await.unwrap();
    assert!(sessions.end(&old.call_sid, "completed", now).await.unwrap());
    assert_eq!(committed(old.call_sid.clone()).await, None);
    let afresh = session(100, 1, "language");
    sessions.save(&afresh, now).await.unwrap();
    assert_eq!(
        committed(afresh.call_sid.clone()).await,
        Some((turn(1), Some("language".to_string()))),
        "live again"
    );

    // A position queued (a later count, as two deliveries of one request can give),
    // then a save: the save is what the call holds, in the database and here.
    let moved = session(101, 7, "info-menu");
    let saved = session(101, 6, "main-menu");
    sessions.save_position(moved, now).await.unwrap();
    sessions.save(&saved, now).await.unwrap();
    let ours = sessions.load(&saved.call_sid, now, None).await.unwrap();
    assert_eq!(ours.map(|s| s.turn), Some(turn(6)));
    assert_eq!(
        committed(saved.call_sid.clone()).await,
        Some((turn(6), Some("main-menu".to_string())))
    );

    // The caller hangs up while the new call's save is queued: the end waits for it.
    let new = session(102, 1, "language");
    let (saved, ended) = tokio::join!(
        sessions.save(&new, now),
        sessions.end(&new.call_sid, "completed", now)
    );
    saved.unwrap();
    assert!(ended.unwrap(), "the end found the saved call");
    assert_eq!(
        committed(new.call_sid.clone()).await,
        None,
        "and it stays over"
    );
}
