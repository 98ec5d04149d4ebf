//! Reaching a person: office hours (holidays, the clock changes), the queue with the
//! caller's context, the screen pop, queue announcements, callbacks and the emergency
//! announcement; on both stores.

use crate::helpers as common;

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use common::{Backend, PUBLIC_URL, TestApp, closed_time, settings};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const MARCO: (&str, &str) = ("900234567", "4820193757");
const POP_SECRET: &str = "screen-pop-test-secret";

on_both_stores!(
    representative_follows_hours_holidays_and_the_clock_changes,
    verified_caller_reaches_the_queue_with_context_and_a_signed_screen_pop,
    sip_transfer_carries_the_context_as_headers,
    slow_or_down_crm_changes_nothing_for_the_caller,
    queue_says_the_place_in_line_and_offers_a_callback,
    callback_after_hours_to_another_number_one_open_per_number,
    announcement_is_heard_in_both_languages_until_cleared,
    a_finished_or_failed_transfer_ends_well,
    the_hours_callers_hear_are_the_configured_hours,
    a_unit_that_never_opens_still_gives_its_number,
);

fn california() -> caseline::clock::hours::Hours {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/holidays/california.txt");
    let days = caseline::clock::hours::load_holidays(std::path::Path::new(file)).unwrap();
    caseline::clock::hours::Hours::new(
        chrono_tz::America::Los_Angeles,
        caseline::clock::hours::DEFAULT_HOURS,
        days,
    )
    .unwrap()
}

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

/// Requests the mock server has seen, waiting up to five seconds for `n` of them.
async fn requests(server: &MockServer, n: usize) -> Vec<wiremock::Request> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let got = server.received_requests().await.unwrap_or_default();
        if got.len() >= n || Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn quick_retries() -> caseline::config::RetryPolicy {
    caseline::config::RetryPolicy {
        attempts: 3,
        timeout: Duration::from_millis(300),
        backoff: Duration::from_millis(20),
    }
}

async fn representative_follows_hours_holidays_and_the_clock_changes(b: Backend) {
    let mut s = settings();
    s.hours = california();
    let app = TestApp::spawn_with(b, s).await;
    // (time, open?, what the closed message says)
    let cases = [
        // Tuesday 10:00 PST.
        (utc(2026, 11, 24, 18, 0), true, ""),
        // Tuesday 19:00 PST.
        (closed_time(), false, "We open again tomorrow at 8 a.m."),
        // Thanksgiving 10:00, and the day after is a holiday too.
        (
            utc(2026, 11, 26, 18, 0),
            false,
            "closed today for Thanksgiving Day. Our Customer Service Unit is closed right now. We open again Saturday, November 28, at 8 a.m.",
        ),
        // Spring forward, 2026-03-08: 08:30 PDT is open, 07:30 PDT is not.
        (utc(2026, 3, 8, 15, 30), true, ""),
        (
            utc(2026, 3, 8, 14, 30),
            false,
            "We open again today at 8 a.m.",
        ),
        // Fall back, 2026-11-01: 08:30 PST is open; 07:30 PST (08:30 by summer time) is not.
        (utc(2026, 11, 1, 16, 30), true, ""),
        (
            utc(2026, 11, 1, 15, 30),
            false,
            "We open again today at 8 a.m.",
        ),
    ];
    for (now, open, says) in cases {
        app.clock.set(now);
        let mut call = app.call();
        call.dial().await;
        call.press("1").await;
        let heard = call.press("0").await;
        if open {
            assert!(heard.find("Enqueue").is_some(), "{now}: {}", heard.xml);
        } else {
            assert!(
                heard.find("Enqueue").is_none(),
                "{now}: never an empty queue"
            );
            assert!(heard.says(says), "{now}: {}", heard.said());
            assert!(heard.says("call you back when we're open, press 1"));
        }
    }
    // In Spanish, the next opening as a Spanish speaker says it.
    app.clock.set(closed_time());
    let mut call = app.call();
    call.dial().await;
    call.press("2").await;
    let heard = call.press("0").await;
    assert!(
        heard.says("Volvemos a abrir mañana a las 8 de la mañana."),
        "{}",
        heard.said()
    );
    app.clock.set(utc(2026, 11, 26, 18, 0));
    let mut call = app.call();
    call.dial().await;
    call.press("2").await;
    let heard = call.press("0").await;
    assert!(
        heard.says("Hoy nuestra oficina está cerrada por el Día de Acción de Gracias."),
        "{}",
        heard.said()
    );
}

/// Marco verifies and hears his payments, then presses 0.
async fn verified_marco_presses_zero(app: &TestApp) -> (common::Phone<'_>, common::Twiml) {
    let mut call = app.call();
    call.dial().await;
    call.press("1").await;
    let heard = call.verify_for_payments(MARCO.0, MARCO.1).await;
    assert!(heard.says("monthly support"), "{}", heard.said());
    let transfer = call.press("0").await;
    (call, transfer)
}

async fn verified_caller_reaches_the_queue_with_context_and_a_signed_screen_pop(b: Backend) {
    let crm = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/screen-pop"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&crm)
        .await;
    let mut s = settings();
    s.csu_workflow_sid = Some("WW0123456789abcdef0123456789abcdef".into());
    s.screen_pop_url = Some(format!("{}/screen-pop", crm.uri()));
    s.screen_pop_secret = Some(POP_SECRET.into());
    s.screen_pop_retry = quick_retries();
    let app = TestApp::spawn_with(b, s).await.with_demo_data().await;
    let (call, transfer) = verified_marco_presses_zero(&app).await;

    assert!(transfer.says("Please hold"), "{}", transfer.said());
    let enqueue = transfer.find("Enqueue").expect("enqueued");
    assert_eq!(
        enqueue.get("workflowSid"),
        Some("WW0123456789abcdef0123456789abcdef")
    );
    assert_eq!(
        enqueue.get("waitUrl"),
        Some(format!("{PUBLIC_URL}/voice/queue/wait").as_str())
    );
    let task = transfer
        .find("Task")
        .and_then(|t| t.text.clone())
        .expect("a task");
    let task: serde_json::Value = serde_json::from_str(&task).unwrap();
    assert_eq!(task["language"], "en");
    assert_eq!(task["verified"], true);
    assert_eq!(task["case_number"], "190000123456");
    assert_eq!(task["role"], "noncustodial");
    assert_eq!(task["topics_heard"], serde_json::json!(["payments"]));
    assert_eq!(task["queue"], "customer-service");
    for secret in [MARCO.0, MARCO.1] {
        assert!(
            !transfer.xml.contains(secret),
            "no SSN or PAR ID in the TwiML"
        );
    }

    let got = requests(&crm, 1).await;
    assert_eq!(got.len(), 1, "one screen pop");
    let pop = &got[0];
    let body = std::str::from_utf8(&pop.body).unwrap();
    let signature = pop
        .headers
        .get("x-caseline-signature")
        .and_then(|v| v.to_str().ok())
        .expect("signed");
    assert_eq!(
        signature,
        caseline::domain::transfer::screenpop::sign(POP_SECRET, &pop.body)
    );
    let event: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(event["event"], "transfer");
    assert_eq!(event["call_sid"], call.sid.as_str());
    assert_eq!(event["case_number"], "190000123456");
    assert_eq!(event["verified"], true);
    assert_eq!(event["destination"], "queue:customer-service");
    for secret in [MARCO.0, MARCO.1, "900-23-4567"] {
        assert!(
            !body.contains(secret),
            "no SSN or PAR ID in the screen pop: {body}"
        );
    }
}

async fn sip_transfer_carries_the_context_as_headers(b: Backend) {
    let mut s = settings();
    s.csu_number = Some("sip:csu@pbx.agency.example".into());
    let app = TestApp::spawn_with(b, s).await.with_demo_data().await;
    let (_call, transfer) = verified_marco_presses_zero(&app).await;
    let dial = transfer.find("Dial").expect("dialled");
    assert_eq!(
        dial.get("action"),
        Some(format!("{PUBLIC_URL}/voice/step/representative-after").as_str())
    );
    let uri = transfer.find("Sip").and_then(|s| s.text.clone()).unwrap();
    assert!(uri.starts_with("sip:csu@pbx.agency.example?"), "{uri}");
    for header in [
        "X-Caseline-Lang=en",
        "X-Caseline-Verified=yes",
        "X-Caseline-Case=190000123456",
        "X-Caseline-Role=noncustodial",
        "X-Caseline-Heard=payments",
    ] {
        assert!(uri.contains(header), "{header} in {uri}");
    }
    assert!(!uri.contains(MARCO.0) && !uri.contains(MARCO.1));
}

async fn slow_or_down_crm_changes_nothing_for_the_caller(b: Backend) {
    // The same call three times: no screen pop, a CRM that takes 5 s, a CRM that is down.
    let slow = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&slow)
        .await;
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        format!("http://{addr}/screen-pop")
    };
    let mut answers = Vec::new();
    for url in [None, Some(slow.uri()), Some(down)] {
        let mut s = settings();
        s.csu_workflow_sid = Some("WW0123456789abcdef0123456789abcdef".into());
        s.screen_pop_secret = url.as_ref().map(|_| POP_SECRET.to_string());
        s.screen_pop_url = url;
        s.screen_pop_retry = quick_retries();
        let app = TestApp::spawn_with(b.clone(), s)
            .await
            .with_demo_data()
            .await;
        let started = Instant::now();
        let (call, transfer) = verified_marco_presses_zero(&app).await;
        let elapsed = started.elapsed();
        // The transfer answer does not wait for the CRM (which takes 5 s, or never answers).
        assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
        answers.push(transfer.xml.replace(call.sid.as_str(), "SID"));
    }
    assert_eq!(answers[0], answers[1], "a slow CRM changes nothing");
    assert_eq!(answers[0], answers[2], "a CRM that is down changes nothing");
}

async fn queue_says_the_place_in_line_and_offers_a_callback(b: Backend) {
    let app = TestApp::spawn(b).await;
    let mut call = app.call();
    call.dial().await;
    call.press("1").await;
    let transfer = call.press("0").await;
    let wait_url = transfer
        .find("Enqueue")
        .and_then(|e| e.get("waitUrl"))
        .unwrap()
        .to_string();
    let wait = call
        .post(
            &wait_url,
            &[
                ("QueuePosition", "3"),
                ("AvgQueueTime", "130"),
                ("QueueSid", "QU1"),
            ],
        )
        .await;
    assert!(wait.says("You are number 3 in line."), "{}", wait.said());
    assert!(wait.says("The wait is about 3 minutes."));
    assert!(wait.says("press 1"));
    assert!(!wait.says("longer than usual"));
    let gather = wait.gather();
    assert!(
        gather.children.iter().any(|c| c.name == "Pause"),
        "holds between announcements"
    );
    // A long line says so.
    let long = call
        .post(
            &wait_url,
            &[("QueuePosition", "8"), ("AvgQueueTime", "600")],
        )
        .await;
    assert!(long.says("longer than usual"), "{}", long.said());
    // Another key keeps the place; 1 leaves the queue for a callback.
    let stay = call.press("5").await;
    assert!(stay.says("stay on the line"), "{}", stay.said());
    assert!(stay.find("Leave").is_none());
    call.post(&wait_url, &[("QueuePosition", "2")]).await;
    let leave = call.press("1").await;
    assert_eq!(leave.last_verb(), "Leave");
    // The provider then requests the Enqueue action.
    let action = transfer
        .find("Enqueue")
        .and_then(|e| e.get("action"))
        .unwrap()
        .to_string();
    let offer = call
        .post(&action, &[("QueueResult", "leave"), ("QueueTime", "95")])
        .await;
    assert!(
        offer.says("We'll call you back at the number ending in 0 1 2 3."),
        "{}",
        offer.said()
    );
    let saved = call.press("1").await;
    assert!(
        saved.says("A representative will call you back"),
        "{}",
        saved.said()
    );
    let open = app
        .state
        .line
        .store
        .callback_queue()
        .list(false)
        .await
        .unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].number, "+15592310123");
    assert_eq!(open[0].masked_number(), "***-***-0123");
    assert_eq!(open[0].lang, "en");
    assert_eq!(open[0].case_number, None, "not verified");
    // Silence after the confirmation is a goodbye, not the queue again.
    let bye = call.silence().await;
    assert_eq!(bye.last_verb(), "Hangup");
}

async fn callback_after_hours_to_another_number_one_open_per_number(b: Backend) {
    let app = TestApp::spawn(b).await.with_demo_data().await;
    app.clock.set(closed_time());
    let mut call = app.call();
    call.dial().await;
    call.press("2").await;
    let heard = call.verify_for_payments(MARCO.0, MARCO.1).await;
    assert!(
        heard.says("pagos") || heard.says("manutención"),
        "{}",
        heard.said()
    );
    let closed = call.press("0").await;
    assert!(closed.says("cerrada"), "{}", closed.said());
    let confirm = call.press("1").await;
    assert!(confirm.says("termina en 0 1 2 3"), "{}", confirm.said());
    call.press("2").await;
    let again = call.press("916231018").await;
    assert!(
        again.says("no es un número de teléfono de 10 dígitos"),
        "{}",
        again.said()
    );
    let confirm = call.press("9162310188").await;
    assert!(confirm.says("termina en 0 1 8 8"), "{}", confirm.said());
    let saved = call.press("1").await;
    assert!(
        saved.says("Un representante le llamará"),
        "{}",
        saved.said()
    );

    // A second request for the same number finds the first.
    let mut second = app.call();
    second.dial().await;
    second.press("1").await;
    second.press("4").await;
    second.press("5").await;
    second.press("2").await;
    second.press("9162310188").await;
    let dup = second.press("1").await;
    assert!(
        dup.says("There's already a callback waiting"),
        "{}",
        dup.said()
    );

    let open = app
        .state
        .line
        .store
        .callback_queue()
        .list(false)
        .await
        .unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    let c = &open[0];
    assert_eq!(c.number, "+19162310188");
    assert_eq!(c.lang, "es");
    assert_eq!(c.case_number.as_deref(), Some("190000123456"));
    assert_eq!(c.role.as_deref(), Some("noncustodial"));
    let line = caseline::domain::callbacks::listing_line(c, chrono_tz::America::Los_Angeles);
    assert!(
        line.contains("***-***-0188") && !line.contains("916231"),
        "{line}"
    );
    assert!(line.contains("case 190000123456"), "{line}");
}

async fn announcement_is_heard_in_both_languages_until_cleared(b: Backend) {
    let app = TestApp::spawn(b).await;
    let now = app.state.line.clock.now();
    let a = caseline::domain::announcement::build(
        "All offices are closed today because of the storm.",
        "Todas las oficinas están cerradas hoy por la tormenta.",
        None,
        Some("2030-01-01T00:00:00Z"),
        app.state.line.settings.hours.tz,
        now,
    )
    .unwrap();
    app.state
        .line
        .store
        .announcements()
        .set(&a, now.timestamp())
        .await
        .unwrap();
    let mut call = app.call();
    let hello = call.dial().await;
    assert!(
        hello.says("closed today because of the storm"),
        "{}",
        hello.said()
    );
    assert!(
        hello.says("cerradas hoy por la tormenta"),
        "{}",
        hello.said()
    );
    let said = hello.said();
    assert!(
        said.find("Thank you for calling") < said.find("storm"),
        "right after the welcome"
    );
    app.state.line.store.announcements().clear().await.unwrap();
    let mut call = app.call();
    let hello = call.dial().await;
    assert!(
        !hello.says("storm") && !hello.says("tormenta"),
        "{}",
        hello.said()
    );
}

async fn a_finished_or_failed_transfer_ends_well(b: Backend) {
    let app = TestApp::spawn(b).await;
    let after = format!("{PUBLIC_URL}/voice/step/representative-after");
    let mut call = app.call();
    call.dial().await;
    call.press("1").await;
    call.press("0").await;
    let done = call.post(&after, &[("QueueResult", "bridged")]).await;
    assert!(done.says("Thank you for calling"), "{}", done.said());
    assert_eq!(done.last_verb(), "Hangup");
    let mut call = app.call();
    call.dial().await;
    call.press("1").await;
    call.press("0").await;
    let nobody = call.post(&after, &[("DialCallStatus", "no-answer")]).await;
    assert!(
        nobody.says("no one could take your call"),
        "{}",
        nobody.said()
    );
    assert!(nobody.says("call you back, press 1"));
    let menu = call.press("2").await;
    assert!(menu.says("For payment information, or to make a payment by card, press 1."));
}

/// Every menu in the shipped flows reaches a person with 0: the representative step,
/// or a step that records something and goes there (the dialer's callee menu).
#[tokio::test]
async fn zero_reaches_a_representative_from_every_menu() {
    let s = settings();
    let flow = caseline::app::load_flows(&s).unwrap().flow;
    let representative = flow.find("representative").unwrap();
    let mut menus = 0;
    for step in &flow.steps {
        if let caseline::flow::StepKind::Menu(m) = &step.kind {
            menus += 1;
            let reaches = |t: usize| {
                t == representative
                    || matches!(&flow.step(t).kind, caseline::flow::StepKind::Sequence(verbs)
                        if matches!(verbs.last(), Some(caseline::flow::Verb::Goto(g)) if *g == representative))
            };
            assert!(
                m.keys.iter().any(|(k, t)| *k == '0' && reaches(*t)),
                "menu {} has no 0 for a representative",
                step.name
            );
        }
    }
    assert!(menus > 10);
}

/// The screen pop's retries, against a real HTTP server.
#[tokio::test]
async fn screen_pop_retries_server_errors_then_gives_up() {
    use caseline::domain::transfer::screenpop::{DeliveryError, ScreenPop};
    let flaky = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(2)
        .mount(&flaky)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&flaky)
        .await;
    let pop = ScreenPop::new(flaky.uri(), POP_SECRET.into(), quick_retries()).unwrap();
    assert_eq!(
        pop.deliver(b"{}".to_vec()).await.unwrap(),
        3,
        "two 500s, then delivered"
    );

    let broken = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&broken)
        .await;
    let pop = ScreenPop::new(broken.uri(), POP_SECRET.into(), quick_retries()).unwrap();
    let err = pop.deliver(b"{}".to_vec()).await.unwrap_err();
    assert!(
        matches!(err, DeliveryError::GaveUp { attempts: 3, .. }),
        "{err}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        requests(&broken, 3).await.len(),
        3,
        "no more than the bound"
    );

    let refusing = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&refusing)
        .await;
    let pop = ScreenPop::new(refusing.uri(), POP_SECRET.into(), quick_retries()).unwrap();
    assert!(matches!(
        pop.deliver(b"{}".to_vec()).await,
        Err(DeliveryError::Refused(401))
    ));
    assert_eq!(
        requests(&refusing, 1).await.len(),
        1,
        "a refusal is not retried"
    );
}

async fn the_hours_callers_hear_are_the_configured_hours(b: Backend) {
    let mut s = settings();
    s.hours = caseline::clock::hours::Hours::new(
        chrono_tz::America::Los_Angeles,
        "mon-fri 07:30-17:00",
        Default::default(),
    )
    .unwrap();
    let app = TestApp::spawn_with(b, s).await;
    for (lang_key, tty) in [("1", false), ("2", false), ("1", true)] {
        let mut call = if tty {
            app.call_to(common::TTY_LINE)
        } else {
            app.call()
        };
        call.dial().await;
        call.press(lang_key).await;
        call.press("3").await;
        let hours = call.press("1").await;
        let said = hours.said();
        let (open, close) = match (lang_key, tty) {
            ("2", _) => ("7:30 de la mañana", "5 de la tarde"),
            _ => ("7:30 a.m.", "5 p.m."),
        };
        assert!(
            said.contains(open) && said.contains(close),
            "{lang_key} tty={tty}: {said}"
        );
        for stale in ["8 a.m.", "4 p.m.", "8 de la mañana", "4 de la tarde"] {
            assert!(!said.contains(stale), "{stale} in: {said}");
        }
    }
}

async fn a_unit_that_never_opens_still_gives_its_number(b: Backend) {
    let mut s = settings();
    s.hours = caseline::clock::hours::Hours::new(
        chrono_tz::America::Los_Angeles,
        "closed",
        Default::default(),
    )
    .unwrap();
    let app = TestApp::spawn_with(b, s).await;
    let mut call = app.call();
    let goodbye = call
        .post(&format!("{PUBLIC_URL}/voice/fallback"), &[])
        .await;
    assert!(
        goodbye.says("8 6 6, 9 0 1, 3 2 1 2") && goodbye.says("no set hours"),
        "{}",
        goodbye.said()
    );
}
