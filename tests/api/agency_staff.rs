//! Staff belong to agencies (issue 29): an account of a local agency sees and acts on
//! that agency's live calls, callback requests, requests, recordings and payments only,
//! and another agency's record answers exactly as a missing one; a statewide account
//! sees all and can narrow a listing to one agency; an account's agency must be one of
//! the agencies file. On both stores.

use crate::helpers as common;

use axum::http::StatusCode;
use caseline::staff::Role;
use common::{Backend, TestApp, settings};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const RECORDING: &str = "RE0123456789abcdef0123456789abcdef";
// The demo people: Marco's case is in Fresno; Jordan's first case in Kern.
const MARCO: (&str, &str) = ("900234567", "4820193757");
const JORDAN: (&str, &str) = ("900345678", "5512908812");
/// A CallSid no call has.
const NO_CALL: &str = "CA00000000000000000000000000000000";
/// An id no record has.
const NO_ID: i64 = 9999;

on_both_stores!(
    an_agent_sees_and_moves_only_their_agencys_live_calls_and_payments,
    a_supervisor_works_only_their_agencys_callbacks_requests_and_recordings,
    a_statewide_supervisor_sees_every_agency_and_filters_by_one,
    an_account_names_an_agency_of_the_agencies_file_or_none,
    a_local_agencys_live_calls_are_found_among_more_than_500_of_the_state,
);

/// The live-call list reads at most 500 calls: a local account's are looked for by its
/// agency, so 500 newer calls of another agency do not hide its own.
async fn a_local_agencys_live_calls_are_found_among_more_than_500_of_the_state(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let provider = MockServer::start().await;
    let app = spawn(b, dir.path(), &provider).await;
    let mut marco = app.call();
    marco.dial().await;
    marco.press("1").await;
    let heard = marco.verify_for_payments(MARCO.0, MARCO.1).await;
    assert!(heard.says("monthly support"), "{}", heard.said());
    let store = &app.state.line.store;
    let now = app.state.line.now();
    for n in 0..501 {
        let sid = caseline::session::CallSid::parse(&format!("CA{n:032x}")).unwrap();
        let mut s =
            caseline::session::Session::new(sid, caseline::words::prompts::Channel::Voice, now + 1);
        s.belongs_to = Some("kern".into());
        store.sessions().save(&s, now + 1).await.expect("save");
    }
    let kim = app.staff_login_of("kim", Role::Agent, Some("fresno")).await;
    let (status, calls) = get(&app, &kim, "/staff/calls").await;
    assert_eq!(status, StatusCode::OK, "{calls}");
    assert_eq!(column(&calls, "calls", "call_sid"), vec![json!(marco.sid)]);
    let alex = app.staff_login("alex", Role::Agent).await;
    let (_, all) = get(&app, &alex, "/staff/calls").await;
    let listed = column(&all, "calls", "call_sid");
    assert_eq!(listed.len(), 500, "the state's newest 500");
    assert!(
        !listed.contains(&json!(marco.sid)),
        "the state's list ends before him"
    );
}

/// A server with the demo people, the test agencies (Fresno, Kern, Tulare, and Valley
/// for the other counties) and a provider at `provider` (the folder must outlive it).
async fn spawn(b: Backend, dir: &std::path::Path, provider: &MockServer) -> TestApp {
    let mut s = settings();
    s.agencies_file = Some(crate::routing::agencies_file(dir));
    s.twilio_account_sid = Some(ACCOUNT.into());
    s.twilio_api_base = provider.uri();
    TestApp::spawn_with(b, s).await.with_demo_data().await
}

/// A callback request of `agency` (none: the statewide unit's) from `number`; its id.
async fn callback_of(app: &TestApp, agency: Option<&str>, number: &str) -> i64 {
    let store = &app.state.line.store;
    let added = store
        .callback_queue()
        .add(&caseline::domain::callbacks::NewCallback {
            number,
            lang: "en",
            channel: "voice",
            call_sid: &format!("CA{}", uuid::Uuid::new_v4().simple()),
            case_number: None,
            role: None,
            requested_at: app.state.line.now(),
            day: 0,
            agency,
        })
        .await
        .expect("a callback request");
    assert_eq!(added, caseline::domain::callbacks::Added::Created);
    let all = store.callback_queue().list(true).await.expect("callbacks");
    all.iter()
        .find(|c| c.number == number)
        .map(|c| c.id)
        .expect("the request stored")
}

/// An address change of `agency` with a recording, for case row `case_id`; its id.
async fn request_of(app: &TestApp, agency: Option<&str>, case_id: i64) -> i64 {
    let store = &app.state.line.store;
    let number = format!("19000000{case_id:04}");
    store
        .requests()
        .add(&caseline::store::requests::NewRequest {
            kind: "address",
            case_id,
            case_number: &number,
            participant_id: case_id,
            lang: "en",
            call_sid: &format!("CA{}", uuid::Uuid::new_v4().simple()),
            requested_at: app.state.line.now(),
            extra: caseline::store::requests::Extra {
                details: None,
                recording_sid: Some(RECORDING.into()),
                agency: agency.map(String::from),
            },
        })
        .await
        .expect("stored")
        .expect("a new request");
    let all = store.requests().list(true).await.expect("requests");
    all.iter()
        .find(|r| r.case_number == number)
        .map(|r| r.id)
        .expect("the request stored")
}

/// A card payment of `agency` with confirmation code `code`.
async fn payment_of(app: &TestApp, agency: Option<&str>, code: &str) {
    let call_sid = format!("CA{}", uuid::Uuid::new_v4().simple());
    let added = app
        .state
        .line
        .store
        .card_payments()
        .add(&crate::helpers::paid(
            code,
            &call_sid,
            app.state.line.now(),
            agency,
        ))
        .await
        .expect("a payment");
    assert!(added);
}

/// The values of `key` in the listing `list` of a staff answer.
fn column(body: &Value, list: &str, key: &str) -> Vec<Value> {
    body[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list} in {body}"))
        .iter()
        .map(|item| item[key].clone())
        .collect()
}

/// `GET path` as `token`: the status and body, which must be JSON.
async fn get(app: &TestApp, token: &str, path: &str) -> (StatusCode, Value) {
    app.staff("GET", path, Some(token), None).await
}

async fn an_agent_sees_and_moves_only_their_agencys_live_calls_and_payments(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let provider = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&provider)
        .await;
    let app = spawn(b, dir.path(), &provider).await;
    // Marco verifies (his case is in Fresno) and hears his payments.
    let mut marco = app.call();
    marco.dial().await;
    marco.press("1").await;
    let heard = marco.verify_for_payments(MARCO.0, MARCO.1).await;
    assert!(heard.says("monthly support"), "{}", heard.said());
    // Jordan verifies and chooses the Kern case.
    let mut jordan = app.call();
    jordan.dial().await;
    jordan.press("1").await;
    jordan.press("2").await;
    jordan.press(JORDAN.0).await;
    jordan.press(JORDAN.1).await;
    let status = jordan.press("1").await;
    assert!(status.says("case ending in 2 1 9 0"), "{}", status.said());
    // A caller still at the main menu belongs to no agency yet: the statewide unit's.
    let mut unknown = app.call();
    unknown.dial().await;
    unknown.press("1").await;

    let kim = app.staff_login_of("kim", Role::Agent, Some("fresno")).await;
    let (status, calls) = get(&app, &kim, "/staff/calls").await;
    assert_eq!(status, StatusCode::OK, "{calls}");
    assert_eq!(
        column(&calls, "calls", "call_sid"),
        vec![json!(marco.sid)],
        "Fresno's agent sees Fresno's caller alone"
    );
    let (status, detail) = get(&app, &kim, &format!("/staff/calls/{}", marco.sid)).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["verification"], "verified");

    // Kern's caller, and the statewide unit's, answer as a call that is not there.
    let missing = get(&app, &kim, &format!("/staff/calls/{NO_CALL}")).await;
    assert_eq!(missing.0, StatusCode::NOT_FOUND, "{}", missing.1);
    for other in [&jordan.sid, &unknown.sid] {
        let seen = get(&app, &kim, &format!("/staff/calls/{other}")).await;
        assert_eq!(seen, missing, "the detail of {other}");
        let moved = app
            .staff(
                "POST",
                &format!("/staff/calls/{other}/transfer"),
                Some(&kim),
                Some(json!({"entry": "verify", "return_to": "sip:kim@pbx.agency.example"})),
            )
            .await;
        assert_eq!(moved, missing, "a transfer of {other}");
    }
    assert!(
        provider.received_requests().await.unwrap().is_empty(),
        "nothing was asked of the provider for another agency's call"
    );
    // Her own caller she sends into the IVR as before.
    let (status, moved) = app
        .staff(
            "POST",
            &format!("/staff/calls/{}/transfer", marco.sid),
            Some(&kim),
            Some(json!({"entry": "payments", "return_to": "sip:kim@pbx.agency.example"})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{moved}");
    assert_eq!(provider.received_requests().await.unwrap().len(), 1);
    // A local agent asks for another agency's listing: refused, not quietly empty.
    let (status, body) = get(&app, &kim, "/staff/calls?agency=kern").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // Card payments: Fresno's alone.
    payment_of(&app, Some("fresno"), "ch_fresno1").await;
    payment_of(&app, Some("kern"), "ch_kern1").await;
    payment_of(&app, None, "ch_statewide1").await;
    let (status, paid) = get(&app, &kim, "/staff/payments").await;
    assert_eq!(status, StatusCode::OK, "{paid}");
    assert_eq!(
        column(&paid, "payments", "confirmation"),
        vec![json!("ch_fresno1")]
    );
    // Roles are as before: an agent works no callback queue, of any agency.
    let (status, _) = get(&app, &kim, "/staff/callbacks").await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A statewide agent sees all three callers.
    let alex = app.staff_login("alex", Role::Agent).await;
    let (_, calls) = get(&app, &alex, "/staff/calls").await;
    let mut sids = column(&calls, "calls", "call_sid");
    sids.sort_by_key(|v| v.to_string());
    let mut want = vec![json!(marco.sid), json!(jordan.sid), json!(unknown.sid)];
    want.sort_by_key(|v| v.to_string());
    assert_eq!(sids, want);
    let (_, calls) = get(&app, &alex, "/staff/calls?agency=kern").await;
    assert_eq!(column(&calls, "calls", "call_sid"), vec![json!(jordan.sid)]);
}

async fn a_supervisor_works_only_their_agencys_callbacks_requests_and_recordings(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let provider = MockServer::start().await;
    let audio = b"ID3\x04\x00fake mp3 frames".to_vec();
    Mock::given(method("GET"))
        .and(path(format!(
            "/2010-04-01/Accounts/{ACCOUNT}/Recordings/{RECORDING}.mp3"
        )))
        .respond_with(ResponseTemplate::new(200).set_body_raw(audio.clone(), "audio/mpeg"))
        .mount(&provider)
        .await;
    Mock::given(method("DELETE"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&provider)
        .await;
    let app = spawn(b, dir.path(), &provider).await;
    let fresno_cb = callback_of(&app, Some("fresno"), "+15595550101").await;
    let kern_cb = callback_of(&app, Some("kern"), "+16615550102").await;
    let state_cb = callback_of(&app, None, "+19165550103").await;
    let fresno_rq = request_of(&app, Some("fresno"), 1).await;
    let kern_rq = request_of(&app, Some("kern"), 2).await;
    let state_rq = request_of(&app, None, 3).await;
    let pat = app
        .staff_login_of("pat", Role::Supervisor, Some("fresno"))
        .await;

    // The listings hold Fresno's alone.
    let (status, callbacks) = get(&app, &pat, "/staff/callbacks?all=true").await;
    assert_eq!(status, StatusCode::OK, "{callbacks}");
    assert_eq!(
        column(&callbacks, "callbacks", "id"),
        vec![json!(fresno_cb)]
    );
    assert_eq!(callbacks["callbacks"][0]["agency"], "fresno");
    let (status, requests) = get(&app, &pat, "/staff/requests?all=true").await;
    assert_eq!(status, StatusCode::OK, "{requests}");
    assert_eq!(column(&requests, "requests", "id"), vec![json!(fresno_rq)]);

    // Every action on Kern's or the statewide unit's answers as on an id nobody has.
    let work = |route: &'static str, id: i64, action: &'static str| {
        let app = &app;
        let pat = &pat;
        async move {
            app.staff(
                "POST",
                route,
                Some(pat),
                Some(json!({"id": id, "action": action, "outcome": "called back"})),
            )
            .await
        }
    };
    for action in ["claim", "complete", "cancel", "dial-now"] {
        let missing = work("/staff/callbacks", NO_ID, action).await;
        assert_eq!(missing.0, StatusCode::NOT_FOUND, "{action}: {}", missing.1);
        assert_eq!(missing.1["message"], "no callback with that id");
        for other in [kern_cb, state_cb] {
            let seen = work("/staff/callbacks", other, action).await;
            assert_eq!(seen, missing, "{action} callback {other}");
        }
    }
    for action in ["claim", "complete"] {
        let missing = work("/staff/requests", NO_ID, action).await;
        assert_eq!(missing.0, StatusCode::NOT_FOUND, "{action}: {}", missing.1);
        for other in [kern_rq, state_rq] {
            let seen = work("/staff/requests", other, action).await;
            assert_eq!(seen, missing, "{action} request {other}");
        }
    }
    let missing = get(&app, &pat, &format!("/staff/requests/{NO_ID}/recording")).await;
    assert_eq!(missing.0, StatusCode::NOT_FOUND, "{}", missing.1);
    for other in [kern_rq, state_rq] {
        let heard = get(&app, &pat, &format!("/staff/requests/{other}/recording")).await;
        assert_eq!(heard, missing, "the recording of request {other}");
    }
    // Nothing of theirs changed, and no recording was fetched or deleted for them.
    assert!(provider.received_requests().await.unwrap().is_empty());
    let store = &app.state.line.store;
    for id in [kern_cb, state_cb] {
        let (st, _) = store.callback_queue().state(id).await.unwrap().unwrap();
        assert_eq!(st, "open", "callback {id}");
    }
    for id in [kern_rq, state_rq] {
        let r = store.requests().get(id).await.unwrap().unwrap();
        assert_eq!((r.status.as_str(), r.claimed_by), ("open", None));
    }

    // Fresno's own: claimed (the whole number shown to her), completed, heard.
    let (status, body) = work("/staff/callbacks", fresno_cb, "claim").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, callbacks) = get(&app, &pat, "/staff/callbacks").await;
    assert_eq!(callbacks["callbacks"][0]["number"], "+15595550101");
    let (status, body) = work("/staff/callbacks", fresno_cb, "complete").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = work("/staff/requests", fresno_rq, "claim").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let recording = format!("/staff/requests/{fresno_rq}/recording");
    let req = axum::http::Request::get(&recording)
        .header("authorization", format!("Bearer {pat}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let res = tower::ServiceExt::oneshot(app.router.clone(), req)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let bytes = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(bytes.to_vec(), audio);
    let (status, body) = work("/staff/requests", fresno_rq, "complete").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A second claim of her own is still a conflict, not a missing id.
    let (status, _) = work("/staff/callbacks", fresno_cb, "claim").await;
    assert_eq!(status, StatusCode::CONFLICT);

    // What reaches every agency at once is for statewide accounts: the announcement
    // every caller hears, the dialer's pause, the audit table of everyone's work.
    let announce = json!({"en": "Closed today.", "es": "Cerrado hoy."});
    for (verb, route, body) in [
        ("PUT", "/staff/announcement", Some(announce.clone())),
        ("DELETE", "/staff/announcement", None),
        (
            "POST",
            "/staff/callbacks/dialer",
            Some(json!({"paused": true})),
        ),
        ("GET", "/staff/audit", None),
    ] {
        let (status, answer) = app.staff(verb, route, Some(&pat), body.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{verb} {route}: {answer}");
        assert!(
            answer["message"]
                .as_str()
                .unwrap()
                .contains("statewide account"),
            "{answer}"
        );
    }
    let (_, dialer) = get(&app, &pat, "/staff/callbacks/dialer").await;
    assert_eq!(dialer["can_pause"], false);
    assert!(!store.callback_queue().paused().await.unwrap());
    let sam = app.staff_login("sam", Role::Supervisor).await;
    let (status, body) = app
        .staff("PUT", "/staff/announcement", Some(&sam), Some(announce))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = get(&app, &sam, "/staff/audit").await;
    assert_eq!(status, StatusCode::OK);
}

async fn a_statewide_supervisor_sees_every_agency_and_filters_by_one(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let provider = MockServer::start().await;
    let app = spawn(b, dir.path(), &provider).await;
    let fresno_cb = callback_of(&app, Some("fresno"), "+15595550101").await;
    let kern_cb = callback_of(&app, Some("kern"), "+16615550102").await;
    let state_cb = callback_of(&app, None, "+19165550103").await;
    let fresno_rq = request_of(&app, Some("fresno"), 1).await;
    let kern_rq = request_of(&app, Some("kern"), 2).await;
    let state_rq = request_of(&app, None, 3).await;
    payment_of(&app, Some("fresno"), "ch_fresno1").await;
    payment_of(&app, Some("kern"), "ch_kern1").await;
    payment_of(&app, None, "ch_statewide1").await;
    let sam = app.staff_login("sam", Role::Supervisor).await;

    let (_, callbacks) = get(&app, &sam, "/staff/callbacks").await;
    assert_eq!(
        column(&callbacks, "callbacks", "id"),
        vec![json!(fresno_cb), json!(kern_cb), json!(state_cb)]
    );
    let (_, requests) = get(&app, &sam, "/staff/requests").await;
    assert_eq!(
        column(&requests, "requests", "id"),
        vec![json!(fresno_rq), json!(kern_rq), json!(state_rq)]
    );
    let (_, paid) = get(&app, &sam, "/staff/payments").await;
    assert_eq!(column(&paid, "payments", "confirmation").len(), 3);

    // Narrowed to Kern.
    let (status, callbacks) = get(&app, &sam, "/staff/callbacks?agency=kern").await;
    assert_eq!(status, StatusCode::OK, "{callbacks}");
    assert_eq!(column(&callbacks, "callbacks", "id"), vec![json!(kern_cb)]);
    let (_, requests) = get(&app, &sam, "/staff/requests?agency=kern&all=true").await;
    assert_eq!(column(&requests, "requests", "id"), vec![json!(kern_rq)]);
    let (_, paid) = get(&app, &sam, "/staff/payments?agency=kern").await;
    assert_eq!(
        column(&paid, "payments", "confirmation"),
        vec![json!("ch_kern1")]
    );
    // An agency the file does not have is a mistake, said as one.
    let (status, body) = get(&app, &sam, "/staff/callbacks?agency=kerm").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("no agency 'kerm'"),
        "{body}"
    );
    // The filter lists: every agency of the file, by name.
    let (_, agencies) = get(&app, &sam, "/staff/agencies").await;
    assert_eq!(
        column(&agencies, "agencies", "id"),
        vec![
            json!("fresno"),
            json!("kern"),
            json!("tulare"),
            json!("valley")
        ]
    );
    // A statewide supervisor acts on any agency's record.
    let (status, body) = app
        .staff(
            "POST",
            "/staff/callbacks",
            Some(&sam),
            Some(json!({"id": kern_cb, "action": "cancel"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A local supervisor may name their own agency, and only it.
    let pat = app
        .staff_login_of("pat", Role::Supervisor, Some("fresno"))
        .await;
    let (status, callbacks) = get(&app, &pat, "/staff/callbacks?agency=fresno").await;
    assert_eq!(status, StatusCode::OK, "{callbacks}");
    assert_eq!(
        column(&callbacks, "callbacks", "id"),
        vec![json!(fresno_cb)]
    );
    let (status, body) = get(&app, &pat, "/staff/requests?agency=kern").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (_, agencies) = get(&app, &pat, "/staff/agencies").await;
    assert_eq!(column(&agencies, "agencies", "id"), vec![json!("fresno")]);
}

async fn an_account_names_an_agency_of_the_agencies_file_or_none(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let provider = MockServer::start().await;
    let app = spawn(b.clone(), dir.path(), &provider).await;
    let admin = app.staff_login("root", Role::Admin).await;
    let add = |agency: Value, name: &'static str| {
        let app = &app;
        let admin = &admin;
        async move {
            app.staff(
                "POST",
                "/staff/accounts",
                Some(admin),
                Some(json!({"name": name, "role": "agent", "agency": agency,
                            "password": "a long enough passphrase"})),
            )
            .await
        }
    };
    let (status, body) = add(json!("fresn0"), "lee").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("no agency 'fresn0'"),
        "{body}"
    );
    let (status, body) = add(json!("kern"), "kim").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["agency"], "kern");
    let (status, _) = add(Value::Null, "ray").await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, accounts) = get(&app, &admin, "/staff/accounts").await;
    let agency_of = |name: &str| {
        accounts["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .map(|a| a["agency"].clone())
    };
    assert_eq!(agency_of("kim"), Some(json!("kern")));
    assert_eq!(agency_of("ray"), Some(Value::Null), "statewide");
    assert_eq!(agency_of("lee"), None, "refused, not created");
    // The audit line says whose the account is.
    let audit = app.state.line.store.audit_log().recent(50).await.unwrap();
    assert!(
        audit.iter().any(|l| l.event == "staff.add"
            && l.actor.as_deref() == Some("kim")
            && l.outcome == "agent, agency kern"),
        "{audit:?}"
    );
    // The signed-in member learns their agency and its name.
    let (status, login) = app
        .staff(
            "POST",
            "/staff/login",
            None,
            Some(json!({"name": "kim", "password": "a long enough passphrase"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{login}");
    assert_eq!(login["agency"], "kern");
    assert_eq!(login["agency_name"], "Kern County Child Support Services");
    let token = login["token"].as_str().unwrap();
    let (_, me) = get(&app, token, "/staff/me").await;
    assert_eq!(me["agency_name"], "Kern County Child Support Services");

    // An admin of one agency manages no accounts: they could make a statewide one.
    let local = app.staff_login_of("ada", Role::Admin, Some("fresno")).await;
    let (status, _) = get(&app, &local, "/staff/accounts").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .staff(
            "POST",
            "/staff/accounts",
            Some(&local),
            Some(json!({"name": "boss", "role": "admin",
                        "password": "a long enough passphrase"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Without an agencies file there is no agency to name.
    let plain = TestApp::spawn(b).await;
    let admin = plain.staff_login("root", Role::Admin).await;
    let (status, body) = plain
        .staff(
            "POST",
            "/staff/accounts",
            Some(&admin),
            Some(json!({"name": "kim", "role": "agent", "agency": "kern",
                        "password": "a long enough passphrase"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("no agencies file"),
        "{body}"
    );
}
