//! Two PostgreSQL servers behind a balancer that alternates every request (round-robin,
//! as nginx and most cloud balancers do by default): whole calls go on as on one server,
//! and a request that reaches the server that did not give its turn costs that server
//! no read of the session (the URL carries it, sealed) or, where the URL does not carry
//! it, one read; never a wait (issue 27).

use crate::helpers as common;

use axum::http::StatusCode;
use caseline::staff::Role;
use caseline::store::SessionReads;
use common::{Backend, Phone, TestApp, Twiml};
use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const MARCO: (&str, &str) = ("900234567", "4820193757");
const ANA: (&str, &str) = ("900123456", "4820193756");

on_postgres!(
    a_whole_call_alternating_between_two_servers_costs_one_read_a_request,
    a_staff_hand_off_alternating_between_two_servers_costs_one_read_a_request,
    reads_at_the_same_time_share_statements_and_each_gets_its_own_call,
    a_turn_url_whose_seal_does_not_open_reads_the_database_once,
    a_repeated_entry_reaching_the_other_server_is_answered_again_not_run_again,
    ends_of_the_same_calls_on_two_servers_at_once_end_each_call_once,
    one_batch_writes_each_calls_last_change_with_its_save_or_its_end,
);

/// Sends each request to the other server than the last, and checks what it cost.
struct RoundRobin<'a> {
    servers: [&'a TestApp; 2],
    next: usize,
    /// Requests answered from a server's copy, and from one read of the database.
    from_memory: u64,
    from_database: u64,
    requests: u64,
}

impl<'a> RoundRobin<'a> {
    fn new(first: &'a TestApp, second: &'a TestApp) -> RoundRobin<'a> {
        RoundRobin {
            servers: [first, second],
            next: 0,
            from_memory: 0,
            from_database: 0,
            requests: 0,
        }
    }

    /// Points the call at the next server; answers that server and its counts.
    fn route(&mut self, call: &mut Phone<'a>) -> (usize, SessionReads) {
        let i = self.next;
        self.next = 1 - i;
        call.app = self.servers[i];
        (i, reads(self.servers[i]))
    }

    /// What the request cost the server it reached: at most one read, no wait.
    fn check(&mut self, (i, before): (usize, SessionReads), what: &str) {
        let after = reads(self.servers[i]);
        let database = after.from_database - before.from_database;
        let memory = after.from_memory - before.from_memory;
        assert!(
            database <= 1,
            "{what}: {database} reads of the session on server {i}"
        );
        assert_eq!(after.waited, before.waited, "{what}: server {i} waited");
        self.requests += 1;
        self.from_database += database;
        self.from_memory += memory;
    }
}

fn reads(app: &TestApp) -> SessionReads {
    app.state
        .line
        .store
        .sessions()
        .reads()
        .expect("PostgreSQL counts its reads")
}

/// A first call through both servers: a server carries the session in its URLs once
/// requests have crossed to it (alone, or behind a sticky balancer, it pays nothing for
/// it), so the first crossing request of each reads the database. Then the counts
/// start again.
async fn warm_up(rr: &mut RoundRobin<'_>) {
    let mut call = rr.servers[0].call();
    for _ in 0..2 {
        call.app = rr.servers[rr.next];
        rr.next = 1 - rr.next;
        call.dial().await;
    }
    for key in ["1", "3"] {
        call.app = rr.servers[rr.next];
        rr.next = 1 - rr.next;
        call.press(key).await;
    }
    rr.next = 0;
    rr.from_memory = 0;
    rr.from_database = 0;
    rr.requests = 0;
}

/// One request through the balancer: `via!(rr, call, press("1"))`.
macro_rules! via {
    ($rr:expr, $call:expr, $($request:tt)+) => {{
        let routed = $rr.route(&mut $call);
        let answer: Twiml = $call.$($request)+.await;
        $rr.check(routed, stringify!($($request)+));
        answer
    }};
}

/// Marco calls, verifies for his payments, hears them, asks for a payment history by
/// mail, then for a person: every request on the other server than the one before.
async fn a_whole_call_alternating_between_two_servers_costs_one_read_a_request(b: Backend) {
    let app = TestApp::spawn(b).await.with_demo_data().await;
    let other = app.second_server().await.expect("a second server");
    let mut rr = RoundRobin::new(&app, &other);
    warm_up(&mut rr).await;
    let mut call = app.call();

    via!(rr, call, dial());
    let menu = via!(rr, call, press("1"));
    assert!(menu.says("For payment information"), "{}", menu.said());
    let ask = via!(rr, call, press("1"));
    assert!(ask.says("Social Security"), "{}", ask.said());
    let ask = via!(rr, call, press(MARCO.0));
    assert!(ask.says("PAR ID"), "{}", ask.said());
    let heard = via!(rr, call, press(MARCO.1));
    assert!(heard.says("monthly support"), "{}", heard.said());
    assert!(heard.says("requests by mail"), "{}", heard.said());

    let menu = via!(rr, call, press("3"));
    assert!(menu.says("Requests and callbacks"), "{}", menu.said());
    via!(rr, call, press("1"));
    let done = via!(rr, call, press("1"));
    assert!(done.says("Your request is in"), "{}", done.said());

    let person = via!(rr, call, press("0"));
    assert!(person.says("Please hold"), "{}", person.said());
    let enqueue = person.find("Enqueue").expect("queued for a person");
    assert!(enqueue.text.is_some() || enqueue.get("workflowSid").is_some());
    let task = person.find("Task").and_then(|t| t.text.clone());
    if let Some(task) = task {
        let task: serde_json::Value = serde_json::from_str(&task).expect("a task");
        assert_eq!(task["verified"], true, "verified on the other server");
    }
    assert!(
        !person.xml.contains(MARCO.0) && !person.xml.contains(MARCO.1),
        "no SSN or PAR ID in the TwiML"
    );
    // The wait music is fetched by URL with no turn: one read too.
    let wait = format!("{}/voice/queue/wait", common::PUBLIC_URL);
    let waiting = via!(rr, call, post(&wait, &[("QueuePosition", "1")]));
    assert!(!waiting.xml.is_empty());

    assert_eq!(
        rr.from_memory, 0,
        "every request after the first reached the server that did not give its turn"
    );
    assert_eq!(
        rr.from_database, 3,
        "every crossing request opened its session from its URL but three, which read it \
         once: the SSN and the PAR ID (an entry is always read, so a repeated delivery \
         finds its answer) and the queue's wait URL (the provider's, with no turn); the \
         one after the payments, whose session keeps that long answer for a repeated \
         delivery, is carried too now that the seal is compressed"
    );
    // Both servers see the call as it is.
    for server in [&app, &other] {
        let session = server.session_of(&call.sid).await;
        assert!(session.verified, "verified everywhere");
    }
}

/// Staff on one server send Ana's call into verification; the provider's requests then
/// alternate, and the verified caller is sent back to the agent with her case.
async fn a_staff_hand_off_alternating_between_two_servers_costs_one_read_a_request(b: Backend) {
    let provider = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "in-progress"})))
        .mount(&provider)
        .await;
    let mut s = common::settings();
    s.twilio_account_sid = Some(ACCOUNT.into());
    s.twilio_api_base = provider.uri();
    let app = TestApp::spawn_with(b, s).await.with_demo_data().await;
    let other = app.second_server().await.expect("a second server");
    let mut rr = RoundRobin::new(&app, &other);
    warm_up(&mut rr).await;
    let mut call = app.call();
    via!(rr, call, dial());
    via!(rr, call, press("1"));
    let queued = via!(rr, call, press("0"));
    assert!(queued.find("Enqueue").is_some(), "{}", queued.xml);

    // The agent, signed in on the second server, sends the call into verification.
    let token = other.staff_login("dana", Role::Agent).await;
    let (status, moved) = other
        .staff(
            "POST",
            &format!("/staff/calls/{}/transfer", call.sid),
            Some(&token),
            Some(json!({"entry": "verify", "return_to": "sip:agent7@pbx.agency.example"})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{moved}");
    let got = provider.received_requests().await.expect("requests");
    let entry = got
        .last()
        .and_then(|r| {
            form_urlencoded::parse(&r.body)
                .find(|(k, _)| k == "Url")
                .map(|(_, v)| v.into_owned())
        })
        .expect("the entry URL");

    let sent = via!(rr, call, post(&entry, &[("CallStatus", "in-progress")]));
    assert!(sent.says("Social Security"), "{}", sent.said());
    via!(rr, call, press(ANA.0));
    let back = via!(rr, call, press(ANA.1));
    assert!(back.says("connecting you back"), "{}", back.said());
    let sip = back
        .find("Sip")
        .and_then(|s| s.text.clone())
        .expect("sent back");
    assert!(sip.contains("X-Caseline-Verified=yes"), "{sip}");
    assert_eq!(rr.from_memory, 0);
    assert_eq!(
        rr.from_database, 3,
        "the hand-off's entry URL (no turn), the SSN and the PAR ID (entries) read the \
         session once; every other request opened it from its URL"
    );
}

/// Many calls crossing to a server at once: their reads share statements, each read
/// answers its own call (two reads of one call included), and a call that ended reads
/// as over.
async fn reads_at_the_same_time_share_statements_and_each_gets_its_own_call(b: Backend) {
    use caseline::session::{CallSid, Session};
    use caseline::words::prompts::Channel;

    let app = TestApp::spawn(b).await;
    let other = app.second_server().await.expect("a second server");
    let now = app.state.line.now();
    let sessions = app.state.line.store.sessions();
    let mut sids = Vec::new();
    for i in 0..64u32 {
        let sid = CallSid::parse(&format!("CA{i:032x}")).unwrap();
        let mut s = Session::new(sid.clone(), Channel::Voice, now);
        s.step = Some(format!("step-{i}"));
        sessions.save(&s, now).await.unwrap();
        sids.push(sid);
    }
    assert!(sessions.end(&sids[0], "completed", now).await.unwrap());
    let before = reads(&other);
    let theirs = other.state.line.store.sessions();
    let read = futures::future::join_all(
        sids.iter()
            .chain(sids.iter().take(8))
            .map(|sid| theirs.load(sid, now, None)),
    )
    .await;
    for (i, got) in read.into_iter().enumerate() {
        let got = got.expect("read");
        let i = i % 64;
        if i == 0 {
            assert!(got.is_none(), "the ended call is over");
        } else {
            assert_eq!(got.and_then(|s| s.step), Some(format!("step-{i}")));
        }
    }
    let after = reads(&other);
    assert_eq!(after.from_database - before.from_database, 72);
    let statements = after.statements - before.statements;
    assert!(
        (1..72).contains(&statements),
        "72 reads at once took {statements} statements"
    );
}

/// A turn URL whose sealed session does not open (bent, or sealed under another key):
/// the server reads the call from the database once, and the call goes on.
async fn a_turn_url_whose_seal_does_not_open_reads_the_database_once(b: Backend) {
    let app = TestApp::spawn(b).await;
    let other = app.second_server().await.expect("a second server");
    let mut rr = RoundRobin::new(&app, &other);
    warm_up(&mut rr).await;
    let mut call = app.call();
    call.dial().await;
    let menu = call.press("1").await;
    let action = menu.gather().get("action").expect("an action").to_string();
    let (url, sealed) = action
        .rsplit_once('.')
        .filter(|(url, _)| url.contains("?t="))
        .expect("the turn URL carries the session");
    assert!(sealed.len() > 40, "{sealed}");
    assert!(
        !sealed.contains("main-menu"),
        "sealed, not readable: {sealed}"
    );
    let bent = format!(
        "{url}.{}",
        sealed.replace(|c: char| c.is_ascii_digit(), "x")
    );
    call.app = &other;
    let before = reads(&other);
    let info = call.post(&bent, &[("Digits", "3")]).await;
    assert!(info.says("General information."), "{}", info.said());
    let after = reads(&other);
    assert_eq!(after.from_database - before.from_database, 1);
    assert_eq!(after.waited, before.waited);
}

/// An answer without the sessions its turn URLs carry (`?t=TURN.SEALED` becomes
/// `?t=TURN`).
fn unsealed(xml: &str) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(at) = rest.find("?t=") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let digits = tail
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(tail.len());
        out.push_str(&tail[..digits]);
        rest = &tail[digits..];
        if let Some(sealed) = rest.strip_prefix('.') {
            let end = sealed
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
                .unwrap_or(sealed.len());
            rest = &sealed[end..];
        }
    }
    out.push_str(rest);
    out
}

/// The PAR ID delivered twice (a balancer retrying a request whose server answered but
/// whose answer was lost), the second time to the other server: the same answer again,
/// one verification, not two.
async fn a_repeated_entry_reaching_the_other_server_is_answered_again_not_run_again(b: Backend) {
    let app = TestApp::spawn(b).await.with_demo_data().await;
    let other = app.second_server().await.expect("a second server");
    let mut rr = RoundRobin::new(&app, &other);
    warm_up(&mut rr).await;
    let mut call = app.call();
    call.dial().await;
    call.press("1").await;
    call.press("1").await;
    let ask = call.press(MARCO.0).await;
    let url = ask
        .gather()
        .get("action")
        .expect("the PAR ID question")
        .to_string();
    let sealed = url.split_once("?t=").and_then(|(_, t)| t.split_once('.'));
    assert!(sealed.is_some(), "the URL carries the session: {url}");
    let first = call.press(MARCO.1).await;
    assert!(first.says("monthly support"), "{}", first.said());
    assert_ne!(
        first.xml,
        unsealed(&first.xml),
        "the first answer carries its session"
    );
    call.app = &other;
    let again = call.post(&url, &[("Digits", MARCO.1)]).await;
    assert_eq!(
        again.xml,
        unsealed(&first.xml),
        "a repeated delivery answers the same (what was kept to answer again carries no \
         session: its next request reads the call)"
    );
    let oks = app.audited(&call.sid, "verify", "ok").await;
    assert_eq!(oks, 1, "verified once, not twice");
}

/// Status callbacks for the same calls reaching both servers at once, one server taking
/// them in one order and the other in the reverse (each server's writer ends many calls
/// in one statement): every end answers and each call is ended exactly once. With the
/// ends' rows locked in the order the batch named them (not CallSid order), this failed
/// one run in two with PostgreSQL's "deadlock detected".
async fn ends_of_the_same_calls_on_two_servers_at_once_end_each_call_once(b: Backend) {
    use caseline::session::{CallSid, Session};
    use caseline::words::prompts::Channel;

    let app = TestApp::spawn(b).await;
    let other = app.second_server().await.expect("a second server");
    let now = app.state.line.now();
    let ours = app.state.line.store.sessions();
    let theirs = other.state.line.store.sessions();
    let sids: Vec<CallSid> = (0..300u32)
        .map(|i| CallSid::parse(&format!("CA{:032x}", 0xe000 + i)).unwrap())
        .collect();
    for sid in &sids {
        ours.save(&Session::new(sid.clone(), Channel::Voice, now), now)
            .await
            .unwrap();
    }
    let forwards =
        futures::future::join_all(sids.iter().map(|sid| ours.end(sid, "completed", now)));
    let backwards = futures::future::join_all(
        sids.iter()
            .rev()
            .map(|sid| theirs.end(sid, "completed", now)),
    );
    let (forwards, mut backwards) = tokio::join!(forwards, backwards);
    backwards.reverse();
    // A deadlock fails one side's statement (PostgreSQL picks a victim).
    for (i, (a, b)) in forwards.into_iter().zip(backwards).enumerate() {
        let (a, b) = (
            a.expect("ended on the first"),
            b.expect("ended on the second"),
        );
        assert!(a ^ b, "call {i}: ended by the first {a}, by the second {b}");
    }
}

/// A server's writer puts a batch's saves, positions and ends in one statement, one
/// change per call: a position queued behind its call's save is written as the save, one
/// queued with its call's end is written by the end (and the end answers it), and a save
/// queued with its call's end is written before it. Another server reads each as the
/// last change queued. (The test's runtime has one thread: what is queued before the
/// writer runs is one batch.)
async fn one_batch_writes_each_calls_last_change_with_its_save_or_its_end(b: Backend) {
    use caseline::session::{CallSid, Session};
    use caseline::words::prompts::Channel;

    let app = TestApp::spawn(b).await;
    let other = app.second_server().await.expect("a second server");
    let now = app.state.line.now();
    let ours = app.state.line.store.sessions();
    let theirs = other.state.line.store.sessions();
    let call = |i: u32, step: &str| {
        let mut s = Session::new(
            CallSid::parse(&format!("CA{i:032x}")).unwrap(),
            Channel::Voice,
            now,
        );
        ours.number(&mut s, None);
        s.step = Some(step.to_string());
        s
    };
    let moved = |s: &Session, step: &str| {
        let mut m = s.clone();
        ours.number(&mut m, Some(s.turn));
        m.step = Some(step.to_string());
        m
    };

    // A save and the position after it.
    let first = call(1, "saved");
    let (saved, queued) = tokio::join!(
        ours.save(&first, now),
        ours.save_position(moved(&first, "moved on"), now)
    );
    saved.expect("saved");
    queued.expect("queued");
    // A live call's position and its end.
    let second = call(2, "saved");
    ours.save(&second, now).await.expect("saved");
    let (queued, ended) = tokio::join!(
        ours.save_position(moved(&second, "last step"), now),
        ours.finish(&second.call_sid, "completed", now)
    );
    queued.expect("queued");
    let ended = ended.expect("ended").expect("was live").expect("readable");
    assert_eq!(
        ended.step.as_deref(),
        Some("last step"),
        "the end answers the last position"
    );
    // A new call's save and its end.
    let third = call(3, "hung up at once");
    let (saved, ended) = tokio::join!(
        ours.save(&third, now),
        ours.finish(&third.call_sid, "completed", now)
    );
    saved.expect("saved");
    let ended = ended.expect("ended").expect("was live").expect("readable");
    assert_eq!(ended.step.as_deref(), Some("hung up at once"));

    let read = theirs.load(&first.call_sid, now, None).await.expect("read");
    assert_eq!(read.and_then(|s| s.step).as_deref(), Some("moved on"));
    for ended in [&second, &third] {
        assert!(
            theirs
                .load(&ended.call_sid, now, None)
                .await
                .expect("read")
                .is_none()
        );
        assert_eq!(
            ours.ended(&ended.call_sid).await.expect("read").as_deref(),
            Some("completed")
        );
    }
}
