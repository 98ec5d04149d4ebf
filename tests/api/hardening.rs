//! What hostile and faulty conditions found, each kept fixed: bursts of guesses,
//! forged hand-off headers, repeated deliveries, odd requests, on both stores.

use crate::helpers as common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use caseline::staff::Role;
use common::{Backend, PUBLIC_URL, TestApp};
use futures::future::join_all;
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

const MARCO: (&str, &str) = ("900234567", "4820193757");

on_both_stores!(
    a_burst_of_guesses_with_the_right_password_late_gets_no_token,
    guesses_over_many_accounts_from_one_address_check_at_most_the_limit,
    an_unknown_name_locks_like_a_real_account,
    simultaneous_par_id_guesses_for_one_ssn_check_at_most_the_limit,
    a_return_to_with_sip_headers_is_refused,
    the_address_limit_reads_the_entry_the_proxy_appended,
    every_signed_webhook_answers_twiml,
    a_repeated_par_id_delivery_answers_the_same_again,
    health_says_503_while_the_store_is_down,
    staff_answers_are_nosniff_and_large_bodies_413,
    an_entry_at_a_step_the_caller_came_back_to_runs_again,
    a_second_forwarded_for_line_is_the_proxy_s,
    a_guess_cancelled_before_its_check_gives_its_slot_back,
    a_password_typed_as_the_name_is_not_kept,
    two_right_guesses_at_once_both_succeed,
);

// SQLite serves sessions from memory through one writer: no table lock to hold there,
// and no connection for a server to drop.
on_postgres!(
    queue_wait_and_staff_api_answer_while_the_sessions_table_is_locked,
    a_connection_the_database_closed_is_retried,
);

/// One login from `address`, as its own request: (status, body).
async fn login(app: &TestApp, name: &str, password: &str, address: &str) -> (StatusCode, String) {
    let req = Request::post("/staff/login")
        .header("content-type", "application/json")
        .header("x-forwarded-for", address)
        .body(Body::from(
            json!({"name": name, "password": password}).to_string(),
        ))
        .expect("request");
    let res = app.router.clone().oneshot(req).await.expect("answer");
    let status = res.status();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

async fn a_burst_of_guesses_with_the_right_password_late_gets_no_token(b: Backend) {
    let app = TestApp::spawn(b).await;
    let right = app.add_staff("dana", Role::Agent).await;
    let right = right.as_str();
    let checks_before = app.state.line.hasher.checks();
    let guesses: Vec<String> = (0..80)
        .map(|i| {
            if i == 50 {
                right.to_string()
            } else {
                format!("wrong guess number {i}")
            }
        })
        .collect();
    let answers = join_all(
        guesses
            .iter()
            .map(|pw| login(&app, "dana", pw, "198.51.100.9")),
    )
    .await;
    let checked = app.state.line.hasher.checks() - checks_before;
    assert!(
        answers.iter().all(|(s, _)| *s != StatusCode::OK),
        "a token came out of the burst: {answers:?}"
    );
    assert!(
        checked <= u64::from(caseline::staff::LOCK_AFTER),
        "{checked} passwords were checked"
    );
    let unchecked = answers
        .iter()
        .filter(|(s, _)| [StatusCode::LOCKED, StatusCode::TOO_MANY_REQUESTS].contains(s))
        .count();
    assert!(
        unchecked >= 75,
        "{unchecked} of 80 turned away: {answers:?}"
    );
}

async fn guesses_over_many_accounts_from_one_address_check_at_most_the_limit(b: Backend) {
    let app = TestApp::spawn(b).await;
    let checks_before = app.state.line.hasher.checks();
    let app = &app;
    let answers = join_all((0..150).map(|i| async move {
        let name = format!("user{}", i % 30);
        login(app, &name, "not the password", "198.51.100.10").await
    }))
    .await;
    let checked = app.state.line.hasher.checks() - checks_before;
    assert!(
        checked <= u64::from(caseline::staff::ADDRESS_LIMIT),
        "{checked} passwords were checked from one address"
    );
    let turned_away = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(turned_away >= 130, "{turned_away} of 150 turned away");
    // Another address is not affected.
    let (status, _) = login(app, "user1", "not the password", "198.51.100.11").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn an_unknown_name_locks_like_a_real_account(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.add_staff("dana", Role::Agent).await;
    let mut last = Vec::new();
    for name in ["dana", "nobody"] {
        let mut answers = Vec::new();
        for i in 0..6 {
            // A different address each time: only the per-name count is at work.
            answers.push(login(&app, name, "wrong password", &format!("192.0.2.{i}")).await);
        }
        last.push(answers);
    }
    assert_eq!(
        last[0], last[1],
        "a real account and an unknown name answer alike"
    );
    assert_eq!(last[1][4].0, StatusCode::LOCKED, "{:?}", last[1]);
    assert_eq!(last[1][5].0, StatusCode::LOCKED, "{:?}", last[1]);
}

async fn simultaneous_par_id_guesses_for_one_ssn_check_at_most_the_limit(b: Backend) {
    let app = TestApp::spawn(b).await.with_demo_data().await;
    // Twelve calls each reach the PAR ID question for the same SSN...
    let mut calls = Vec::new();
    for _ in 0..12 {
        let mut call = app.call();
        call.dial().await;
        call.press("1").await;
        call.press("1").await;
        let ask = call.press(MARCO.0).await;
        assert!(ask.says("PAR ID"), "{}", ask.said());
        calls.push(call);
    }
    // ...eleven of them guess at once (on PostgreSQL, as truly concurrently as its pool
    // allows)...
    let checks_before = app.state.line.hasher.checks();
    let mut right = calls.pop().expect("twelve calls");
    join_all(
        calls
            .iter_mut()
            .enumerate()
            .map(|(i, call)| async move { call.press(&format!("11111111{i:02}")).await }),
    )
    .await;
    let checked = app.state.line.hasher.checks() - checks_before;
    assert!(checked <= 5, "{checked} PAR IDs were checked for one SSN");
    // ...and the right PAR ID after them finds the SSN locked, unchecked.
    let last = right.press(MARCO.1).await;
    assert!(
        !last.says("balance") && !last.says("payment of"),
        "the SSN should be locked: {}",
        last.said()
    );
    assert_eq!(app.state.line.hasher.checks() - checks_before, checked);
}

async fn a_return_to_with_sip_headers_is_refused(b: Backend) {
    let app = TestApp::spawn(b).await;
    let token = app.staff_login("dana", Role::Agent).await;
    for return_to in [
        "sip:agent@pbx.example?X-Caseline-Verified=true&X-Caseline-Case=190000123456",
        "sip:agent@pbx.example?x-caseline-verified=true",
        "sip:agent@pbx.example?Other=1",
    ] {
        let (status, body) = app
            .staff(
                "POST",
                "/staff/calls/CA0123456789abcdef0123456789abcdef/transfer",
                Some(&token),
                Some(json!({"entry": "verify", "return_to": return_to})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{return_to}: {body}");
        assert!(
            body["message"].as_str().unwrap_or("").contains("headers"),
            "{body}"
        );
    }
    // A configured CSU address may carry headers, but never ours.
    for (uri, ok) in [
        ("sip:csu@pbx.example?X-Queue=main", true),
        ("sip:csu@pbx.example?X-CASELINE-Verified=true", false),
        ("sip:csu@pbx.example?X%2DCaseline%2DCase=1", false),
    ] {
        assert_eq!(
            caseline::domain::transfer::Destination::parse(uri).is_ok(),
            ok,
            "{uri}"
        );
    }
}

async fn the_address_limit_reads_the_entry_the_proxy_appended(b: Backend) {
    let app = TestApp::spawn(b).await;
    let mut last = StatusCode::OK;
    for i in 0..25 {
        // The client makes up the first entry each time; the proxy's is the same.
        let forwarded = format!("10.9.8.{i}, 198.51.100.77");
        last = login(&app, &format!("guess{i}"), "x", &forwarded).await.0;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
}

async fn every_signed_webhook_answers_twiml(b: Backend) {
    let app = TestApp::spawn(b).await;
    let params = [
        ("CallSid", "CA0123456789abcdef0123456789abcdef"),
        ("To", common::TOLL_FREE),
    ];
    for path in [
        "/voice/step/%FF",
        "/voice/input/%FF%FE",
        "/voice/staff/%C0",
        "/voice/recover?attempt=1&attempt=2",
        "/voice/recover?attempt=%FF",
        "/voice/no-such-thing",
    ] {
        let answer = app
            .post_signed(&format!("{PUBLIC_URL}{path}"), &params)
            .await;
        let twiml = answer.twiml();
        assert!(!twiml.said().is_empty(), "{path}: {}", twiml.xml);
    }
    // A repeated identical parameter is signed once, as the provider's libraries do.
    let url = format!("{PUBLIC_URL}/voice/incoming");
    let twice = [
        ("CallSid", "CA0123456789abcdef0123456789abcdee"),
        ("To", common::TOLL_FREE),
        ("Digits", "1"),
        ("Digits", "1"),
    ];
    let answer = app.post_signed(&url, &twice).await;
    assert!(answer.twiml().find("Gather").is_some(), "{}", answer.body);
}

async fn a_repeated_par_id_delivery_answers_the_same_again(b: Backend) {
    let app = TestApp::spawn(b).await.with_demo_data().await;
    let mut call = app.call();
    call.dial().await;
    call.press("1").await;
    call.press("1").await;
    call.press(MARCO.0).await;
    let url = call
        .last
        .as_ref()
        .and_then(|t| t.gather().get("action").map(String::from))
        .expect("the PAR ID question");
    let first = call.press(MARCO.1).await;
    assert!(!first.says("couldn't"), "{}", first.said());
    // The same request again, as a provider retry would send it.
    let again = call.post(&url, &[("Digits", MARCO.1)]).await;
    assert_eq!(again.xml, first.xml, "a repeated delivery answers the same");
    // The call goes on, verified.
    let detail = app.session_of(&call.sid).await;
    assert!(detail.verified);
    let audit = app
        .state
        .line
        .store
        .audit_log()
        .recent(50)
        .await
        .expect("audit");
    let oks = audit
        .iter()
        .filter(|a| a.event == "verify" && a.outcome == "ok")
        .count();
    assert_eq!(oks, 1, "verified once, not twice");
}

async fn health_says_503_while_the_store_is_down(b: Backend) {
    let app = TestApp::spawn(b.clone()).await;
    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
    let down = TestApp::spawn(b).await;
    down.state.line.store.close().await;
    assert_eq!(
        down.get("/healthz").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

async fn staff_answers_are_nosniff_and_large_bodies_413(b: Backend) {
    let app = TestApp::spawn(b).await;
    for path in ["/staff", "/staff/console.js", "/staff/me"] {
        let res = app
            .router
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).expect("request"))
            .await
            .expect("answer");
        assert_eq!(
            res.headers()
                .get("x-content-type-options")
                .map(|v| v.as_bytes()),
            Some(&b"nosniff"[..]),
            "{path}"
        );
    }
    let huge = "x".repeat(200 * 1024);
    let (status, body) = app
        .staff(
            "POST",
            "/staff/login",
            None,
            Some(json!({"name": "dana", "password": huge})),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"], "too-large");
}

/// Holds an exclusive lock on the test schema's `call_sessions` until dropped.
async fn lock_sessions(url: &str, schema: &str) -> sqlx::PgConnection {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
    sqlx::query("BEGIN")
        .execute(&mut conn)
        .await
        .expect("begin");
    let sql = format!("LOCK TABLE {schema}.call_sessions IN ACCESS EXCLUSIVE MODE");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut conn)
        .await
        .expect("lock");
    conn
}

async fn queue_wait_and_staff_api_answer_while_the_sessions_table_is_locked(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (url, schema) = app.postgres().expect("a PostgreSQL scenario");
    let token = app.staff_login("dana", Role::Agent).await;
    let _lock = lock_sessions(&url, &schema).await;
    let started = std::time::Instant::now();
    let wait_url = format!("{PUBLIC_URL}/voice/queue/wait");
    let (wait, (status, _)) = tokio::join!(
        app.post_signed(
            &wait_url,
            &[
                ("CallSid", "CA0123456789abcdef0123456789abcdef"),
                ("QueuePosition", "2"),
                ("AvgQueueTime", "90"),
            ],
        ),
        app.staff("GET", "/staff/calls", Some(&token), None),
    );
    let took = started.elapsed();
    let wait = wait.twiml();
    assert!(wait.find("Gather").is_some(), "{}", wait.xml);
    assert!(wait.says("2"), "the place in line: {}", wait.said());
    assert!(status.is_server_error(), "{status}");
    assert!(
        took < caseline::staff::api::DEADLINE,
        "answered in {took:?}, past the deadline"
    );
}

async fn a_connection_the_database_closed_is_retried(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (url, schema) = app.postgres().expect("a PostgreSQL scenario");
    let mut call = app.call();
    call.dial().await;
    let admin = sqlx::PgPool::connect(&url).await.expect("connect");
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
    )
    .bind(format!("caseline {schema}"))
    .fetch_all(&admin)
    .await
    .expect("terminate");
    admin.close().await;
    assert!(!killed.is_empty(), "no connection of this test to close");
    let menu = call.press("1").await;
    assert!(
        menu.find("Gather").is_some() && !menu.says("sorry"),
        "{}",
        menu.said()
    );
}

async fn an_entry_at_a_step_the_caller_came_back_to_runs_again(b: Backend) {
    let app = TestApp::spawn(b).await.with_demo_data().await;
    let mut call = app.call();
    call.dial().await;
    call.press("1").await;
    call.press("1").await;
    let asked = call.press(MARCO.0).await;
    assert!(asked.says("PAR ID"), "{}", asked.said());
    // Meanwhile other calls lock Marco's SSN.
    for _ in 0..2 {
        let mut other = app.call();
        other.dial().await;
        other.press("1").await;
        other.press("1").await;
        for i in 0..3 {
            let again = other.press(MARCO.0).await;
            if !again.says("PAR ID") {
                break;
            }
            if other
                .press(&format!("111111112{i}"))
                .await
                .find("Gather")
                .is_none()
            {
                break;
            }
        }
    }
    // The call is taken back to the SSN question (as a recovery would) and the caller
    // keys the same SSN: that is a new entry, and it must hear the lock.
    let back = call
        .post(&format!("{PUBLIC_URL}/voice/step/ask-ssn"), &[])
        .await;
    assert!(back.says("Social Security"), "{}", back.said());
    let again = call.press(MARCO.0).await;
    assert!(!again.says("PAR ID"), "the SSN is locked: {}", again.said());
}

async fn a_second_forwarded_for_line_is_the_proxy_s(b: Backend) {
    let app = TestApp::spawn(b).await;
    let mut last = StatusCode::OK;
    for i in 0..25 {
        let req = Request::post("/staff/login")
            .header("content-type", "application/json")
            .header("x-forwarded-for", format!("10.1.2.{i}"))
            .header("x-forwarded-for", "198.51.100.88")
            .body(Body::from(
                json!({"name": format!("g{i}"), "password": "x"}).to_string(),
            ))
            .expect("request");
        last = app
            .router
            .clone()
            .oneshot(req)
            .await
            .expect("answer")
            .status();
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
}

async fn a_guess_cancelled_before_its_check_gives_its_slot_back(b: Backend) {
    use caseline::store::{Guard, Limit, Reservation, Slot};
    let app = TestApp::spawn(b).await;
    let store = &app.state.line.store;
    let limit = Limit {
        max: 5,
        window_secs: 900,
        lock_secs: 900,
    };
    let now = app.state.line.now();
    // Five guesses reserve their slots and are dropped before their checks are counted
    // (a request cancelled by its deadline): each slot is given back.
    for _ in 0..5 {
        let got = store
            .attempts()
            .reserve(Guard::StaffName, "dana", now, limit)
            .await
            .expect("reserve");
        assert_eq!(got, Reservation::Granted);
        drop(Slot::new(store, Guard::StaffName, "dana"));
    }
    // The releases run in the background: a sixth guess is granted once they land.
    let mut granted = false;
    for _ in 0..200 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let got = store
            .attempts()
            .reserve(Guard::StaffName, "dana", now, limit)
            .await
            .expect("reserve");
        if got == Reservation::Granted {
            granted = true;
            break;
        }
    }
    assert!(granted, "dropped guesses kept their slots");
    // A settled slot is not given back: five counted guesses, then the sixth is refused.
    let store2 = TestApp::spawn(Backend::Sqlite).await;
    let s2 = &store2.state.line.store;
    for _ in 0..5 {
        s2.attempts()
            .reserve(Guard::StaffName, "lee", now, limit)
            .await
            .expect("reserve");
        Slot::new(s2, Guard::StaffName, "lee").settle();
    }
    let sixth = s2
        .attempts()
        .reserve(Guard::StaffName, "lee", now, limit)
        .await
        .expect("reserve");
    assert_ne!(sixth, Reservation::Granted);
}

async fn a_password_typed_as_the_name_is_not_kept(b: Backend) {
    let app = TestApp::spawn(b).await;
    let typed = "hunter2-my-real-passphrase";
    let (status, _) = login(&app, typed, "whatever", "192.0.2.77").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let stored = match app.db_path() {
        Some(dir) => {
            let db = rusqlite::Connection::open(dir.join("caseline.db")).expect("open");
            let mut q = db
                .prepare("SELECT key FROM staff_login_limits")
                .expect("query");
            q.query_map([], |r| r.get::<_, String>(0))
                .expect("rows")
                .collect::<Result<Vec<_>, _>>()
                .expect("keys")
                .join("\n")
        }
        None => app.dump_postgres().await,
    };
    assert!(stored.contains("name:"), "the name was counted: {stored}");
    assert!(!stored.contains(typed), "the typed name is kept: {stored}");
}

/// The same person verifying on two lines at once (found by `caseline loadtest`): the
/// first right guess clears the count, and the second must not read that as a lock.
async fn two_right_guesses_at_once_both_succeed(b: Backend) {
    use caseline::store::{Guard, Limit, Reservation, Slot};
    let app = TestApp::spawn(b).await;
    let store = &app.state.line.store;
    let limit = Limit {
        max: 5,
        window_secs: 900,
        lock_secs: 900,
    };
    let now = app.state.line.now();
    for guard in [Guard::Ssn, Guard::StaffName] {
        for _ in 0..2 {
            let got = store
                .attempts()
                .reserve(guard, "same-key", now, limit)
                .await
                .expect("reserve");
            assert_eq!(got, Reservation::Granted);
        }
        for line in ["first", "second"] {
            let ok = store
                .attempts()
                .succeeded(guard, "same-key", now)
                .await
                .expect("succeeded");
            assert!(ok, "the {line} right guess was refused ({guard:?})");
            Slot::new(store, guard, "same-key").settle();
        }
    }
    // A lock still refuses a right guess.
    for _ in 0..5 {
        store
            .attempts()
            .reserve(Guard::Ssn, "locked-key", now, limit)
            .await
            .expect("reserve");
    }
    let locked = store
        .attempts()
        .failed(Guard::Ssn, "locked-key", now, limit)
        .await
        .expect("failed");
    assert!(locked);
    let ok = store
        .attempts()
        .succeeded(Guard::Ssn, "locked-key", now)
        .await
        .expect("succeeded");
    assert!(!ok, "a locked key let a right guess through");
}
