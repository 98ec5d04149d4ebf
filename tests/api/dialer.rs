//! The callback dialer: requests dialled by the server when the unit is open and the
//! queue is short, against a wiremock provider and a fixed clock; each tick is run by
//! the test (`caseline::domain::callbacks::dialer::tick`), so nothing waits on a timer. On both stores,
//! and two servers on one PostgreSQL database dial a request once.

use crate::helpers as common;

use std::time::Duration;

use axum::http::StatusCode;
use caseline::domain::callbacks::dialer::{Tick, tick};
use caseline::domain::outbound::{Purpose, Refusal};
use caseline::staff::Role;
use chrono::TimeZone;
use common::{Backend, PUBLIC_URL, TestApp, Twiml};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const AGENCY: &str = "+18669013212";
const CALLER: &str = "+15592310123";
const MARCO: (&str, &str) = ("900234567", "4820193757");
/// The CallSid the wiremock provider gives every call it places.
const DIAL_SID: &str = "CA99999999999999999999999999999999";

on_both_stores!(
    the_dial_and_a_person_who_presses_1_2_or_3,
    a_machine_hears_no_personal_data,
    unanswered_calls_are_retried_after_the_gap_then_closed,
    no_call_when_closed_late_busy_or_paused,
    provider_trouble_is_retried_and_a_refused_number_closes,
    later_and_silence_count_every_dial_and_the_last_closes_the_request,
    a_stored_number_the_policy_refuses_is_never_dialled,
    a_person_called_back_is_put_through_without_a_zip_question,
    a_callback_rings_in_its_own_agencys_hours_with_its_caller_id,
    a_long_queue_at_one_agency_holds_back_only_its_own_callbacks,
    an_agency_sets_how_many_callers_may_wait_in_its_own_queue,
    an_agencys_own_numbers_are_never_called_back,
);
on_postgres!(two_servers_dial_a_request_once);

fn calls_path() -> String {
    format!("/2010-04-01/Accounts/{ACCOUNT}/Calls.json")
}

async fn provider_answering(status: u16) -> MockServer {
    let provider = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(calls_path()))
        .respond_with(
            ResponseTemplate::new(status).set_body_string(
                r#"{"sid":"CA99999999999999999999999999999999","status":"queued"}"#,
            ),
        )
        .mount(&provider)
        .await;
    provider
}

async fn dialler_app(b: Backend, provider: &MockServer) -> TestApp {
    let mut s = common::settings();
    s.twilio_account_sid = Some(ACCOUNT.into());
    s.twilio_api_base = provider.uri();
    s.provider_timeout = Duration::from_millis(400);
    s.dialer.from = Some(AGENCY.into());
    s.csu_workflow_sid = Some("WW0123456789abcdef0123456789abcdef".into());
    TestApp::spawn_with(b, s).await.with_demo_data().await
}

/// A callback request left in a call (verified first when `verify`); answers its id.
async fn request_callback(app: &TestApp, verify: bool) -> i64 {
    let mut call = app.call();
    call.dial().await;
    call.press("1").await;
    if verify {
        call.verify_for_payments(MARCO.0, MARCO.1).await;
        call.press("9").await;
    }
    call.press("4").await;
    call.press("5").await;
    let saved = call.press("1").await;
    assert!(saved.says("will call you back"), "{}", saved.said());
    let open = app
        .state
        .line
        .store
        .callback_queue()
        .list(false)
        .await
        .expect("list");
    open.last().expect("a request").id
}

/// The provider's answer webhook for callback `id`, answered as `by`.
async fn answered<'a>(app: &'a TestApp, id: i64, by: &str) -> common::Phone<'a> {
    let mut callee = app.call_to(CALLER);
    callee.sid = DIAL_SID.to_string();
    let url = format!("{PUBLIC_URL}/voice/callback/answer?request={id}");
    callee
        .post(&url, &[("AnsweredBy", by), ("Direction", "outbound-api")])
        .await;
    callee
}

async fn ended(app: &TestApp, id: i64, status: &str) {
    let url = format!("{PUBLIC_URL}/voice/callback/status?request={id}");
    let answer = app
        .post_signed(&url, &[("CallSid", DIAL_SID), ("CallStatus", status)])
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
}

async fn status_of(app: &TestApp, id: i64) -> (String, i64) {
    app.state
        .line
        .store
        .callback_queue()
        .state(id)
        .await
        .expect("state")
        .expect("the request")
}

async fn dials(provider: &MockServer) -> Vec<std::collections::HashMap<String, String>> {
    provider
        .received_requests()
        .await
        .expect("requests")
        .iter()
        .filter(|r| r.url.path() == calls_path())
        .map(|r| {
            form_urlencoded::parse(&r.body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .collect()
}

async fn the_dial_and_a_person_who_presses_1_2_or_3(b: Backend) {
    let provider = provider_answering(201).await;
    let app = dialler_app(b, &provider).await;
    let id = request_callback(&app, true).await;
    assert_eq!(
        tick(&app.state.dialer()).await.expect("tick"),
        Tick::Dialled(id)
    );

    // The exact request, and nothing of the caller's in it.
    let sent = dials(&provider).await;
    assert_eq!(sent.len(), 1);
    let form = &sent[0];
    let expected = [
        ("To", CALLER.to_string()),
        ("From", AGENCY.to_string()),
        (
            "Url",
            format!("{PUBLIC_URL}/voice/callback/answer?request={id}"),
        ),
        ("Method", "POST".to_string()),
        (
            "StatusCallback",
            format!("{PUBLIC_URL}/voice/callback/status?request={id}"),
        ),
        ("StatusCallbackMethod", "POST".to_string()),
        ("StatusCallbackEvent", "completed".to_string()),
        ("MachineDetection", "DetectMessageEnd".to_string()),
        ("Timeout", "30".to_string()),
    ];
    assert_eq!(form.len(), expected.len(), "{form:?}");
    for (k, v) in &expected {
        assert_eq!(form.get(*k), Some(v), "{k}");
    }
    let body = format!("{form:?}");
    for secret in [MARCO.0, MARCO.1, "190000123456", "3456"] {
        assert!(!body.contains(secret), "{secret} in {body}");
    }
    assert_eq!(status_of(&app, id).await, ("dialling".to_string(), 1));

    // A person answers: who is calling and why, and the choices.
    let mut callee = answered(&app, id, "human").await;
    let menu = callee.last.clone().expect("answered");
    assert!(
        menu.says("calling you back as you asked"),
        "{}",
        menu.said()
    );
    assert!(menu.says("To speak with a representative now, press 1."));
    // 1: the queue, ahead of the others, with the request's context.
    let queued = callee.press("1").await;
    let task = queued.find("Task").expect("a TaskRouter task");
    assert_eq!(task.get("priority"), Some("10"), "{}", queued.xml);
    let attrs: serde_json::Value =
        serde_json::from_str(task.text.as_deref().unwrap_or("")).expect("task JSON");
    assert_eq!(attrs["callback_request"], id);
    assert_eq!(attrs["case_number"], "190000123456");
    assert_eq!(attrs["role"], "noncustodial");
    assert_eq!(attrs["language"], "en");
    assert_eq!(status_of(&app, id).await.0, "connected");
    ended(&app, id, "completed").await;
    assert_eq!(
        status_of(&app, id).await.0,
        "done",
        "put through, and the call is over"
    );

    // 2: called again after the gap; 3: cancelled.
    let later = request_again(&app).await;
    assert_eq!(
        tick(&app.state.dialer()).await.expect("tick"),
        Tick::Dialled(later)
    );
    let mut callee = answered(&app, later, "unknown").await;
    let bye = callee.press("2").await;
    // In the language of the request (Spanish here).
    assert!(bye.says("Le llamaremos otra vez"), "{}", bye.said());
    assert_eq!(status_of(&app, later).await.0, "open");
    assert_eq!(
        tick(&app.state.dialer()).await.expect("tick"),
        Tick::Nothing,
        "not due yet"
    );
    app.clock.advance(15 * 60);
    assert_eq!(
        tick(&app.state.dialer()).await.expect("tick"),
        Tick::Dialled(later)
    );
    let mut callee = answered(&app, later, "human").await;
    let gone = callee.press("3").await;
    assert!(gone.says("quedó cancelada"), "{}", gone.said());
    assert_eq!(status_of(&app, later).await.0, "cancelled");
    let attempts = app
        .state
        .line
        .store
        .callback_queue()
        .attempts(later)
        .await
        .expect("attempts");
    let results: Vec<&str> = attempts.iter().map(|(_, r)| r.as_str()).collect();
    assert_eq!(results, ["dialled", "later", "dialled", "cancelled"]);
}

/// A second request, from another number.
async fn request_again(app: &TestApp) -> i64 {
    stored_request(app, "+15302310188", "es").await
}

/// A request stored as a call leaves one, for `number`; answers its id.
async fn stored_request(app: &TestApp, number: &str, lang: &str) -> i64 {
    app.state
        .line
        .store
        .callback_queue()
        .add(&caseline::domain::callbacks::NewCallback {
            number,
            lang,
            channel: "voice",
            call_sid: "CA0123456789abcdef0123456789abcdef",
            case_number: None,
            role: None,
            requested_at: app.state.line.now(),
            day: 1,
            agency: None,
        })
        .await
        .expect("stored");
    let open = app
        .state
        .line
        .store
        .callback_queue()
        .list(false)
        .await
        .expect("list");
    open.iter()
        .find(|c| c.number == number)
        .expect("the request")
        .id
}

async fn a_machine_hears_no_personal_data(b: Backend) {
    let provider = provider_answering(201).await;
    let app = dialler_app(b, &provider).await;
    let id = request_callback(&app, true).await;
    tick(&app.state.dialer()).await.expect("tick");
    let callee = answered(&app, id, "machine_end_beep").await;
    let heard: Twiml = callee.last.clone().expect("answered");
    assert!(heard.says("returning your call"), "{}", heard.said());
    assert!(heard.says("8 6 6, 9 0 1, 3 2 1 2"), "{}", heard.said());
    assert_eq!(heard.last_verb(), "Hangup");
    for secret in ["190000123456", "3 4 5 6", "Marco", "payment", "case"] {
        assert!(!heard.said().contains(secret), "{secret}: {}", heard.said());
    }
    // The attempt counts; due again after the gap. The call's end, reported after,
    // changes nothing more.
    assert_eq!(status_of(&app, id).await, ("open".to_string(), 1));
    ended(&app, id, "completed").await;
    assert_eq!(status_of(&app, id).await, ("open".to_string(), 1));
    assert_eq!(
        tick(&app.state.dialer()).await.expect("tick"),
        Tick::Nothing
    );
    let attempts = app
        .state
        .line
        .store
        .callback_queue()
        .attempts(id)
        .await
        .expect("attempts");
    assert_eq!(attempts.len(), 2, "dialled, machine: {attempts:?}");

    // A person who presses 0 reaches a representative too; one who says nothing three
    // times is called again later, never queued unasked.
    app.clock.advance(15 * 60);
    assert_eq!(
        tick(&app.state.dialer()).await.expect("tick"),
        Tick::Dialled(id)
    );
    let mut callee = answered(&app, id, "human").await;
    let queued = callee.press("0").await;
    assert!(queued.find("Enqueue").is_some(), "{}", queued.xml);
    assert_eq!(status_of(&app, id).await.0, "connected");
    let other = request_again(&app).await;
    assert_eq!(
        tick(&app.state.dialer()).await.expect("tick"),
        Tick::Dialled(other)
    );
    let mut callee = answered(&app, other, "unknown").await;
    callee.silence().await;
    callee.silence().await;
    let bye = callee.silence().await;
    assert_eq!(bye.last_verb(), "Hangup", "{}", bye.xml);
    assert!(bye.find("Enqueue").is_none());
    assert_eq!(status_of(&app, other).await.0, "open");
}

async fn unanswered_calls_are_retried_after_the_gap_then_closed(b: Backend) {
    let provider = provider_answering(201).await;
    let app = dialler_app(b, &provider).await;
    let id = request_callback(&app, false).await;
    for (n, result) in ["no-answer", "busy", "failed"].into_iter().enumerate() {
        assert_eq!(
            tick(&app.state.dialer()).await.expect("tick"),
            Tick::Dialled(id),
            "attempt {n}"
        );
        ended(&app, id, result).await;
        assert_eq!(
            tick(&app.state.dialer()).await.expect("tick"),
            Tick::Nothing,
            "before the gap"
        );
        app.clock.advance(15 * 60);
    }
    assert_eq!(status_of(&app, id).await, ("unreached".to_string(), 3));
    // A dial whose end never comes counts after ten minutes.
    let lost = request_again(&app).await;
    assert_eq!(
        tick(&app.state.dialer()).await.expect("tick"),
        Tick::Dialled(lost)
    );
    app.clock.advance(11 * 60);
    tick(&app.state.dialer()).await.expect("tick");
    let (status, attempts) = status_of(&app, lost).await;
    assert_eq!(
        (status.as_str(), attempts),
        ("open", 1),
        "due again after the gap"
    );
    assert_eq!(
        tick(&app.state.dialer()).await.expect("tick"),
        Tick::Nothing
    );
    assert_eq!(dials(&provider).await.len(), 4);
    // Staff see the attempts and the state.
    let token = app.staff_login("sam", Role::Supervisor).await;
    let (_, list) = app
        .staff("GET", "/staff/callbacks?all=true", Some(&token), None)
        .await;
    let row = &list["callbacks"][0];
    assert_eq!(row["status"], "unreached");
    assert_eq!(row["attempts"], 3);
    let audit = app
        .state
        .line
        .store
        .audit_log()
        .recent(50)
        .await
        .expect("audit");
    assert!(
        audit.iter().any(|a| a.event == "callback.attempt"),
        "{audit:?}"
    );
}

async fn no_call_when_closed_late_busy_or_paused(b: Backend) {
    let provider = provider_answering(201).await;
    let mut s = common::settings();
    s.twilio_account_sid = Some(ACCOUNT.into());
    s.twilio_api_base = provider.uri();
    s.dialer.from = Some(AGENCY.into());
    // Open around the clock, to see the 9 p.m. limit on its own.
    s.hours = caseline::clock::hours::Hours::new(
        chrono_tz::America::Los_Angeles,
        "mon-sun 00:00-23:59",
        Default::default(),
    )
    .expect("hours");
    let app = TestApp::spawn_with(b.clone(), s)
        .await
        .with_demo_data()
        .await;
    let id = request_callback(&app, false).await;
    // 9:30 p.m. Pacific: open, but too late to ring anyone.
    app.clock.set(
        chrono::Utc
            .with_ymd_and_hms(2026, 11, 25, 5, 30, 0)
            .unwrap(),
    );
    assert_eq!(tick(&app.state.dialer()).await.expect("tick"), Tick::Closed);
    // 10 a.m.: a long queue holds callbacks back.
    app.clock.set(common::open_time());
    let wait = format!("{PUBLIC_URL}/voice/queue/wait");
    app.post_signed(
        &wait,
        &[
            ("CallSid", "CA0123456789abcdef0123456789abcde0"),
            ("QueuePosition", "3"),
            ("CurrentQueueSize", "3"),
        ],
    )
    .await;
    assert_eq!(
        tick(&app.state.dialer()).await.expect("tick"),
        Tick::QueueLong
    );
    // The queue empties (its news goes stale), but a supervisor paused the dialer.
    app.clock.advance(5 * 60);
    let token = app.staff_login("sam", Role::Supervisor).await;
    let (status, _) = app
        .staff(
            "POST",
            "/staff/callbacks/dialer",
            Some(&token),
            Some(json!({"paused": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tick(&app.state.dialer()).await.expect("tick"), Tick::Paused);
    app.staff(
        "POST",
        "/staff/callbacks/dialer",
        Some(&token),
        Some(json!({"paused": false})),
    )
    .await;
    assert!(dials(&provider).await.is_empty(), "no call while held back");
    assert_eq!(
        tick(&app.state.dialer()).await.expect("tick"),
        Tick::Dialled(id)
    );

    // Closed hours (the default hours, 7 p.m.): no call.
    let provider = provider_answering(201).await;
    let mut s = common::settings();
    s.twilio_account_sid = Some(ACCOUNT.into());
    s.twilio_api_base = provider.uri();
    s.dialer.from = Some(AGENCY.into());
    let app = TestApp::spawn_with(b, s).await;
    request_callback(&app, false).await;
    app.clock.set(common::closed_time());
    assert_eq!(tick(&app.state.dialer()).await.expect("tick"), Tick::Closed);
    assert!(dials(&provider).await.is_empty());
}

async fn provider_trouble_is_retried_and_a_refused_number_closes(b: Backend) {
    let provider = provider_answering(500).await;
    let app = dialler_app(b, &provider).await;
    let id = request_callback(&app, false).await;
    assert_eq!(
        tick(&app.state.dialer()).await.expect("tick"),
        Tick::Retry(id)
    );
    assert_eq!(
        status_of(&app, id).await,
        ("open".to_string(), 0),
        "not counted"
    );
    // Held back a minute, so a request that cannot go out does not block the others.
    assert_eq!(
        tick(&app.state.dialer()).await.expect("tick"),
        Tick::Nothing
    );
    app.clock.advance(61);
    // The provider too slow: the same.
    provider.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_delay(Duration::from_secs(2)))
        .mount(&provider)
        .await;
    assert_eq!(
        tick(&app.state.dialer()).await.expect("tick"),
        Tick::Retry(id)
    );
    assert_eq!(status_of(&app, id).await, ("open".to_string(), 0));
    app.clock.advance(61);
    // Our own mistake (a From number the account does not own, 21212; a 404): not the
    // caller's number, so nothing is closed.
    for (status, body) in [(400, r#"{"code":21212}"#), (404, "{}")] {
        provider.reset().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(status).set_body_string(body))
            .mount(&provider)
            .await;
        assert_eq!(
            tick(&app.state.dialer()).await.expect("tick"),
            Tick::Retry(id),
            "{status}"
        );
        assert_eq!(status_of(&app, id).await, ("open".to_string(), 0));
        app.clock.advance(61);
    }
    // A 400 about the number (21211, invalid): closed as failed.
    provider.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_string(r#"{"code":21211}"#))
        .mount(&provider)
        .await;
    assert_eq!(
        tick(&app.state.dialer()).await.expect("tick"),
        Tick::Refused(id)
    );
    assert_eq!(status_of(&app, id).await.0, "failed");

    // Staff: dial now, and cancel.
    provider.reset().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_string(r#"{"sid":"CA99999999999999999999999999999999"}"#),
        )
        .mount(&provider)
        .await;
    let next = request_again(&app).await;
    let token = app.staff_login("sam", Role::Supervisor).await;
    let (status, body) = app
        .staff(
            "POST",
            "/staff/callbacks",
            Some(&token),
            Some(json!({"id": next, "action": "dial-now"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(status_of(&app, next).await, ("dialling".to_string(), 1));
    let (status, _) = app
        .staff(
            "POST",
            "/staff/callbacks",
            Some(&token),
            Some(json!({"id": next, "action": "cancel"})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a request being dialled is not cancelled"
    );
    ended(&app, next, "no-answer").await;
    let (status, _) = app
        .staff(
            "POST",
            "/staff/callbacks",
            Some(&token),
            Some(json!({"id": next, "action": "cancel"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(status_of(&app, next).await.0, "cancelled");
}

async fn two_servers_dial_a_request_once(b: Backend) {
    let provider = provider_answering(201).await;
    let app = dialler_app(b, &provider).await;
    let other = app.second_server().await.expect("a second server");
    let id = request_callback(&app, false).await;
    let (a, b) = (app.state.dialer(), other.state.dialer());
    let (one, two) = tokio::join!(tick(&a), tick(&b));
    let ticks = [one.expect("tick"), two.expect("tick")];
    assert_eq!(
        ticks.iter().filter(|t| **t == Tick::Dialled(id)).count(),
        1,
        "{ticks:?}"
    );
    assert_eq!(dials(&provider).await.len(), 1);
}

/// Every dial counts, whatever the callee chooses: "later" (2) and silence (three
/// misses) reopen the request only while attempts are left, and the last closes it
/// (and says so, offering no "later").
async fn later_and_silence_count_every_dial_and_the_last_closes_the_request(b: Backend) {
    let provider = provider_answering(201).await;
    let app = dialler_app(b, &provider).await;
    assert_eq!(app.state.line.settings.dialer.attempts, 3);
    let id = request_callback(&app, false).await;
    for round in 1..=3 {
        assert_eq!(
            tick(&app.state.dialer()).await.expect("tick"),
            Tick::Dialled(id),
            "round {round}"
        );
        let mut callee = answered(&app, id, "human").await;
        let menu = callee.last.clone().expect("answered");
        match round {
            1 => {
                assert!(
                    menu.says("To be called again later, press 2."),
                    "{}",
                    menu.said()
                );
                callee.press("2").await;
            }
            2 => {
                for _ in 0..3 {
                    callee.silence().await;
                }
            }
            _ => {
                // The last attempt offers no "later": nobody would call again.
                assert!(menu.says("This is our last try"), "{}", menu.said());
                assert!(!menu.says("press 2"), "{}", menu.said());
                let mut bye = callee.silence().await;
                for _ in 0..2 {
                    bye = callee.silence().await;
                }
                assert!(bye.says("We won't call again"), "{}", bye.said());
            }
        }
        ended(&app, id, "completed").await;
        app.clock.advance(15 * 60);
    }
    assert_eq!(status_of(&app, id).await, ("unreached".to_string(), 3));
    for _ in 0..3 {
        assert_eq!(
            tick(&app.state.dialer()).await.expect("tick"),
            Tick::Nothing
        );
        app.clock.advance(15 * 60);
    }
    assert_eq!(
        dials(&provider).await.len(),
        3,
        "never more than the attempts"
    );
    let token = app.staff_login("sam", Role::Supervisor).await;
    let (_, list) = app
        .staff("GET", "/staff/callbacks?all=true", Some(&token), None)
        .await;
    assert_eq!(list["callbacks"][0]["outcome"], "declined by the callee");
    // Staff cannot have it dialled again either.
    assert_eq!(
        caseline::domain::callbacks::dialer::dial_now(&app.state.dialer(), id)
            .await
            .expect("dial now"),
        None
    );
}

/// A request stored before the policy (or a narrower setting) is checked where it is
/// dialled: closed as failed, never rung.
async fn a_stored_number_the_policy_refuses_is_never_dialled(b: Backend) {
    let provider = provider_answering(201).await;
    let app = dialler_app(b, &provider).await;
    let id = stored_request(&app, "+18762101234", "en").await;
    assert_eq!(
        tick(&app.state.dialer()).await.expect("tick"),
        Tick::Refused(id)
    );
    assert_eq!(status_of(&app, id).await.0, "failed");
    assert!(dials(&provider).await.is_empty());
}

/// With local agencies and a ZIP table loaded, a person the dialer called back (not
/// verified in that call) is put through at once, never asked their ZIP code.
async fn a_person_called_back_is_put_through_without_a_zip_question(b: Backend) {
    let provider = provider_answering(201).await;
    let dir = tempfile::tempdir().unwrap();
    let mut s = common::settings();
    s.twilio_account_sid = Some(ACCOUNT.into());
    s.twilio_api_base = provider.uri();
    s.provider_timeout = Duration::from_millis(400);
    s.dialer.from = Some(AGENCY.into());
    s.agencies_file = Some(crate::routing::agencies_file(dir.path()));
    let app = TestApp::spawn_with(b, s).await.with_demo_data().await;
    let id = request_callback(&app, false).await;
    assert_eq!(
        tick(&app.state.dialer()).await.expect("tick"),
        Tick::Dialled(id)
    );
    let mut callee = answered(&app, id, "human").await;
    let queued = callee.press("1").await;
    assert!(!queued.says("ZIP code"), "{}", queued.said());
    assert!(queued.find("Enqueue").is_some(), "{}", queued.xml);
}

/// Each agency's caller ID, TTY line and put-through number are the agency's own: a
/// caller who leaves one as their callback number is refused, as for the unit's.
async fn an_agencys_own_numbers_are_never_called_back(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let provider = provider_answering(201).await;
    let app = dialler_of_agencies(b, &provider, dir.path(), |text| {
        text.replace(
            "reach = \"queue:kern-csu\"\n",
            "reach = \"tel:+16614440199\"\ntty_phone = \"+16614440198\"\n",
        )
    })
    .await;
    let policy = &app.state.line.outbound;
    for own in [AGENCY, "+16614440199", "+16614440198"] {
        assert_eq!(
            policy.check(own, Purpose::Callback, None),
            Err(Refusal::Own),
            "{own}"
        );
    }
    assert_eq!(
        policy.check("+19162101234", Purpose::Callback, None),
        Ok(())
    );
}

/// Fresno's file says no callback while anyone waits in its queue
/// (`callback_max_waiting = 0`); Kern keeps the unit's limit (2).
async fn an_agency_sets_how_many_callers_may_wait_in_its_own_queue(b: Backend) {
    let provider = provider_answering(201).await;
    let dir = tempfile::tempdir().unwrap();
    let app = dialler_of_agencies(b, &provider, dir.path(), |text| {
        text.replace(
            "reach = \"queue:fresno-csu\"\n",
            "reach = \"queue:fresno-csu\"\ncallback_max_waiting = 0\n",
        )
    })
    .await;
    app.clock.set(december(3));
    let fresno = agency_request(&app, 1, "+15592310101", Some("fresno")).await;
    let kern = agency_request(&app, 2, "+16612310102", Some("kern")).await;
    let one_waiting = [
        ("CallSid", "CA0123456789abcdef0123456789abcde0"),
        ("QueuePosition", "1"),
        ("CurrentQueueSize", "1"),
    ];
    for queue in ["fresno-csu", "kern-csu"] {
        let url = format!("{PUBLIC_URL}/voice/queue/wait?queue={queue}");
        let heard = app.post_signed(&url, &one_waiting).await;
        assert_eq!(heard.status, StatusCode::OK, "{}", heard.body);
    }
    assert_eq!(
        tick(&app.state.dialer()).await.expect("tick"),
        Tick::Dialled(kern),
        "one caller waiting is too many for Fresno, not for Kern"
    );
    assert_eq!(
        tick(&app.state.dialer()).await.expect("tick"),
        Tick::Nothing
    );
    assert_eq!(status_of(&app, fresno).await, ("open".to_string(), 0));
}

const FRESNO_FROM: &str = "+15594440100";
const KERN_FROM: &str = "+16614440100";

/// A dialler with the routing tests' agencies (Fresno closed on its founders' day,
/// 2026-12-02; Kern open every day; Tulare still to be filled in), Fresno and Kern
/// calling back from their own numbers. The folder must outlive it.
async fn agencies_dialler(b: Backend, provider: &MockServer, dir: &std::path::Path) -> TestApp {
    dialler_of_agencies(b, provider, dir, |text| {
        text.replace(
            "reach = \"queue:fresno-csu\"\n",
            &format!("reach = \"queue:fresno-csu\"\ncallback_from = \"{FRESNO_FROM}\"\n"),
        )
        .replace(
            "reach = \"queue:kern-csu\"\n",
            &format!("reach = \"queue:kern-csu\"\ncallback_from = \"{KERN_FROM}\"\n"),
        )
    })
    .await
}

/// A dialler with the demo people and the routing tests' agencies file as `edit` leaves
/// it. The folder must outlive it.
async fn dialler_of_agencies(
    b: Backend,
    provider: &MockServer,
    dir: &std::path::Path,
    edit: impl FnOnce(String) -> String,
) -> TestApp {
    let file = crate::routing::agencies_file(dir);
    let text = edit(std::fs::read_to_string(&file).unwrap());
    std::fs::write(&file, text).unwrap();
    let mut s = common::settings();
    s.twilio_account_sid = Some(ACCOUNT.into());
    s.twilio_api_base = provider.uri();
    s.provider_timeout = Duration::from_millis(400);
    s.dialer.from = Some(AGENCY.into());
    s.agencies_file = Some(file);
    TestApp::spawn_with(b, s).await.with_demo_data().await
}

/// A request left for `agency` (`None`: the statewide unit's) from `number` in call
/// `n`; answers its id.
async fn agency_request(app: &TestApp, n: u32, number: &str, agency: Option<&str>) -> i64 {
    let call_sid = format!("CA0123456789abcdef0123456789ab{n:04}");
    app.state
        .line
        .store
        .callback_queue()
        .add(&caseline::domain::callbacks::NewCallback {
            number,
            lang: "en",
            channel: "voice",
            call_sid: &call_sid,
            case_number: None,
            role: None,
            requested_at: app.state.line.now(),
            day: 1,
            agency,
        })
        .await
        .expect("stored");
    let open = app
        .state
        .line
        .store
        .callback_queue()
        .list(false)
        .await
        .expect("list");
    let request = open
        .iter()
        .find(|c| c.number == number)
        .expect("the request");
    assert_eq!(request.agency.as_deref(), agency);
    request.id
}

/// Who each dial went to, and from which caller ID, in order.
async fn dialled_from(provider: &MockServer) -> Vec<(String, String)> {
    dials(provider)
        .await
        .iter()
        .map(|f| (f["To"].clone(), f["From"].clone()))
        .collect()
}

/// 10 a.m. Pacific on `day` of December 2026 (the 2nd: Fresno's holiday; the 3rd: a
/// Thursday, everyone open).
fn december(day: u32) -> chrono::DateTime<chrono::Utc> {
    chrono::Utc
        .with_ymd_and_hms(2026, 12, day, 18, 0, 0)
        .unwrap()
}

/// Fresno closed for its holiday, Kern open: Fresno's request, older, waits for
/// Fresno's next open day and is dialled then with Fresno's caller ID; Kern's is
/// dialled at once with Kern's, and its callee reaches Kern's queue; an agency still to
/// be filled in goes by the unit's hours and caller ID.
async fn a_callback_rings_in_its_own_agencys_hours_with_its_caller_id(b: Backend) {
    let provider = provider_answering(201).await;
    let dir = tempfile::tempdir().unwrap();
    let app = agencies_dialler(b, &provider, dir.path()).await;
    app.clock.set(december(2));
    let fresno = agency_request(&app, 1, "+15592310101", Some("fresno")).await;
    let kern = agency_request(&app, 2, "+16612310102", Some("kern")).await;
    let tulare = agency_request(&app, 3, "+15592310103", Some("tulare")).await;
    assert_eq!(
        tick(&app.state.dialer()).await.expect("tick"),
        Tick::Dialled(kern),
        "Fresno's request is older, but Fresno is closed"
    );
    assert_eq!(
        dialled_from(&provider).await,
        [("+16612310102".to_string(), KERN_FROM.to_string())]
    );
    // Kern's callee asks for a person: Kern's queue, whose wait names it.
    let mut callee = answered(&app, kern, "human").await;
    let queued = callee.press("1").await;
    assert!(!queued.says("ZIP code"), "{}", queued.said());
    let enqueue = queued.find("Enqueue").expect("queued");
    assert_eq!(enqueue.text.as_deref(), Some("kern-csu"), "{}", queued.xml);
    assert_eq!(
        enqueue.get("waitUrl"),
        Some(format!("{PUBLIC_URL}/voice/queue/wait?queue=kern-csu").as_str())
    );
    ended(&app, kern, "completed").await;

    // Tulare has no line of its own: the unit's hours (open) and caller ID.
    assert_eq!(
        tick(&app.state.dialer()).await.expect("tick"),
        Tick::Dialled(tulare)
    );
    assert_eq!(
        dialled_from(&provider).await[1],
        ("+15592310103".to_string(), AGENCY.to_string())
    );
    assert_eq!(
        tick(&app.state.dialer()).await.expect("tick"),
        Tick::Nothing,
        "Fresno is still closed"
    );
    assert_eq!(status_of(&app, fresno).await, ("open".to_string(), 0));

    // Fresno's next open day.
    app.clock.set(december(3));
    assert_eq!(
        tick(&app.state.dialer()).await.expect("tick"),
        Tick::Dialled(fresno)
    );
    assert_eq!(
        dialled_from(&provider).await[2],
        ("+15592310101".to_string(), FRESNO_FROM.to_string())
    );
}

/// Kern's queue is long: Kern's request waits, Fresno's (younger) is dialled; the
/// statewide queue's length holds back only the unit's; once Kern's queue news goes
/// stale, Kern's is dialled before the unit's younger one.
async fn a_long_queue_at_one_agency_holds_back_only_its_own_callbacks(b: Backend) {
    let provider = provider_answering(201).await;
    let dir = tempfile::tempdir().unwrap();
    let app = agencies_dialler(b, &provider, dir.path()).await;
    app.clock.set(december(3));
    let kern = agency_request(&app, 1, "+16612310102", Some("kern")).await;
    let fresno = agency_request(&app, 2, "+15592310101", Some("fresno")).await;
    let unit = agency_request(&app, 3, "+15302310104", None).await;
    let wait = |queue: &str| match queue {
        "" => format!("{PUBLIC_URL}/voice/queue/wait"),
        q => format!("{PUBLIC_URL}/voice/queue/wait?queue={q}"),
    };
    let waiting = [
        ("CallSid", "CA0123456789abcdef0123456789abcde0"),
        ("QueuePosition", "3"),
        ("CurrentQueueSize", "3"),
    ];
    let heard = app.post_signed(&wait("kern-csu"), &waiting).await;
    assert_eq!(heard.status, StatusCode::OK, "{}", heard.body);
    app.post_signed(&wait(""), &waiting).await;
    assert_eq!(
        tick(&app.state.dialer()).await.expect("tick"),
        Tick::Dialled(fresno),
        "Kern's queue is long, and so is the unit's"
    );
    assert_eq!(
        tick(&app.state.dialer()).await.expect("tick"),
        Tick::Nothing
    );
    assert_eq!(status_of(&app, kern).await, ("open".to_string(), 0));
    assert_eq!(status_of(&app, unit).await, ("open".to_string(), 0));

    // Kern's queue has been quiet for two minutes; the unit's is still long.
    app.clock.advance(2 * 60);
    app.post_signed(&wait(""), &waiting).await;
    assert_eq!(
        tick(&app.state.dialer()).await.expect("tick"),
        Tick::Dialled(kern)
    );
    assert_eq!(
        dialled_from(&provider).await,
        [
            ("+15592310101".to_string(), FRESNO_FROM.to_string()),
            ("+16612310102".to_string(), KERN_FROM.to_string()),
        ]
    );
    assert_eq!(status_of(&app, unit).await, ("open".to_string(), 0));
}
