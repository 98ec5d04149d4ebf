//! Staff hand-offs: accounts and login, roles, the staff API, and transfers into the IVR
//! through the provider's REST API (a wiremock server), on both stores.

use crate::helpers as common;

use std::time::Duration;

use axum::http::StatusCode;
use base64::Engine;
use caseline::staff::Role;
use common::{Backend, PUBLIC_URL, TOKEN, TestApp, settings};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const MARCO: (&str, &str) = ("900234567", "4820193757");
const RETURN_TO: &str = "sip:agent7@pbx.agency.example";

on_both_stores!(
    transfer_into_verify_then_back_verified,
    failed_verification_goes_back_unverified,
    provider_errors_come_back_as_clear_errors,
    roles_are_enforced,
    login_lockout_expiry_and_logout,
    callbacks_and_announcement_through_the_api,
    a_webhook_saving_during_a_transfer_does_not_lose_the_hand_off,
    a_hand_off_serves_its_own_call_and_entry_once,
    every_malformed_query_path_or_body_gets_a_json_error,
);

async fn app_with_provider(b: Backend, provider: &MockServer) -> TestApp {
    let mut s = settings();
    s.twilio_account_sid = Some(ACCOUNT.into());
    s.twilio_api_base = provider.uri();
    s.provider_timeout = Duration::from_millis(400);
    TestApp::spawn_with(b, s).await.with_demo_data().await
}

fn calls_path(sid: &str) -> String {
    format!("/2010-04-01/Accounts/{ACCOUNT}/Calls/{sid}.json")
}

/// The URL the provider was last told to move a call to.
async fn entry_url(provider: &MockServer) -> String {
    let got = provider.received_requests().await.expect("requests");
    let last = got.last().expect("a request to the provider");
    form_urlencoded::parse(&last.body)
        .find(|(k, _)| k == "Url")
        .map(|(_, v)| v.into_owned())
        .expect("a Url")
}

/// A caller in the queue, waiting for a representative.
async fn caller_with_agent(app: &TestApp) -> common::Phone<'_> {
    let mut call = app.call();
    call.dial().await;
    call.press("1").await;
    let queued = call.press("0").await;
    assert!(queued.find("Enqueue").is_some(), "{}", queued.xml);
    call
}

async fn transfer_into_verify_then_back_verified(b: Backend) {
    let provider = MockServer::start().await;
    let app = app_with_provider(b, &provider).await;
    let mut call = caller_with_agent(&app).await;
    Mock::given(method("POST"))
        .and(path(calls_path(&call.sid)))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"sid": call.sid, "status": "in-progress"})),
        )
        .expect(1)
        .mount(&provider)
        .await;
    let token = app.staff_login("dana", Role::Agent).await;

    let (status, list) = app.staff("GET", "/staff/calls", Some(&token), None).await;
    assert_eq!(status, StatusCode::OK);
    let mine = list["calls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["call_sid"] == call.sid.as_str())
        .expect("the live call is listed");
    assert_eq!(mine["verified"], false);
    assert_eq!(mine["language"], "en");

    let (status, moved) = app
        .staff(
            "POST",
            &format!("/staff/calls/{}/transfer", call.sid),
            Some(&token),
            Some(json!({"entry": "verify", "return_to": RETURN_TO})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{moved}");

    // Exactly the request the provider expects.
    let got = provider.received_requests().await.unwrap();
    assert_eq!(got.len(), 1);
    let req = &got[0];
    assert_eq!(req.url.path(), calls_path(&call.sid));
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT}:{TOKEN}"));
    assert_eq!(
        req.headers
            .get("authorization")
            .and_then(|v| v.to_str().ok()),
        Some(format!("Basic {basic}").as_str())
    );
    let form: Vec<(String, String)> = form_urlencoded::parse(&req.body).into_owned().collect();
    // The entry URL names the hand-off's own row.
    let entry_url = form[0].1.clone();
    assert_eq!(form[0].0, "Url");
    assert!(
        entry_url.starts_with(&format!("{PUBLIC_URL}/voice/staff/verify?handoff=")),
        "{entry_url}"
    );
    assert_eq!(form[1], ("Method".to_string(), "POST".to_string()));
    assert_eq!(form.len(), 2);

    // The provider fetches the entry URL for the live call.
    let sent = call
        .post(&entry_url, &[("CallStatus", "in-progress")])
        .await;
    assert!(
        sent.says("A representative has sent you"),
        "{}",
        sent.said()
    );
    assert!(sent.says("Social Security"), "{}", sent.said());
    let (_, busy) = app
        .staff(
            "GET",
            &format!("/staff/calls/{}", call.sid),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(busy["sent_by"], "dana");
    assert_eq!(busy["verification"], "not-attempted");

    call.press(MARCO.0).await;
    let back = call.press(MARCO.1).await;
    assert!(back.says("connecting you back"), "{}", back.said());
    let sip = back
        .find("Sip")
        .and_then(|s| s.text.clone())
        .expect("dialled back");
    assert!(sip.starts_with(&format!("{RETURN_TO}?")), "{sip}");
    assert!(sip.contains("X-Caseline-Verified=yes"), "{sip}");
    assert!(sip.contains("X-Caseline-Case=190000123456"), "{sip}");
    assert!(sip.contains("X-Caseline-Verification=verified"), "{sip}");
    assert!(!back.xml.contains(MARCO.0) && !back.xml.contains(MARCO.1));

    let (status, detail) = app
        .staff(
            "GET",
            &format!("/staff/calls/{}", call.sid),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["verified"], true);
    assert_eq!(detail["verification"], "verified");
    assert_eq!(detail["case_number"], "190000123456");
    assert_eq!(detail["role"], "noncustodial");
    assert_eq!(
        detail["sent_by"],
        serde_json::Value::Null,
        "the hand-off is over"
    );
    let text = detail.to_string();
    for secret in [MARCO.0, MARCO.1, "5592310123"] {
        assert!(
            !text.contains(secret),
            "no SSN, PAR ID or phone for staff: {text}"
        );
    }
}

async fn failed_verification_goes_back_unverified(b: Backend) {
    let provider = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&provider)
        .await;
    let app = app_with_provider(b, &provider).await;
    let mut call = caller_with_agent(&app).await;
    let token = app.staff_login("dana", Role::Agent).await;
    let (status, _) = app
        .staff(
            "POST",
            &format!("/staff/calls/{}/transfer", call.sid),
            Some(&token),
            Some(json!({"entry": "verify", "return_to": "+19165550100"})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    call.post(&entry_url(&provider).await, &[]).await;
    let mut last = None;
    for _ in 0..3 {
        call.press(MARCO.0).await;
        last = Some(call.press("1111111111").await);
    }
    let back = last.unwrap();
    assert!(back.says("connecting you back"), "{}", back.said());
    assert_eq!(
        back.find("Number").and_then(|n| n.text.clone()).as_deref(),
        Some("+19165550100")
    );
    let (_, detail) = app
        .staff(
            "GET",
            &format!("/staff/calls/{}", call.sid),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(detail["verified"], false);
    assert_eq!(detail["verification"], "too-many");
    assert_eq!(detail["failed_attempts"], 3);
}

async fn provider_errors_come_back_as_clear_errors(b: Backend) {
    let provider = MockServer::start().await;
    let app = app_with_provider(b, &provider).await;
    let call = caller_with_agent(&app).await;
    let token = app.staff_login("dana", Role::Agent).await;
    let cases = [
        (
            ResponseTemplate::new(404),
            StatusCode::NOT_FOUND,
            "call-not-found",
        ),
        (
            ResponseTemplate::new(429),
            StatusCode::TOO_MANY_REQUESTS,
            "provider-rate-limited",
        ),
        (
            ResponseTemplate::new(500),
            StatusCode::BAD_GATEWAY,
            "provider-error",
        ),
        (
            ResponseTemplate::new(401),
            StatusCode::BAD_GATEWAY,
            "provider-auth",
        ),
        (
            ResponseTemplate::new(200).set_delay(Duration::from_secs(3)),
            StatusCode::GATEWAY_TIMEOUT,
            "provider-timeout",
        ),
    ];
    for (answer, want, code) in cases {
        provider.reset().await;
        Mock::given(method("POST"))
            .respond_with(answer)
            .mount(&provider)
            .await;
        let (status, err) = app
            .staff(
                "POST",
                &format!("/staff/calls/{}/transfer", call.sid),
                Some(&token),
                Some(json!({"entry": "payments", "return_to": RETURN_TO})),
            )
            .await;
        assert_eq!(status, want, "{err}");
        assert_eq!(err["error"], code);
        assert!(
            err["message"]
                .as_str()
                .is_some_and(|m| m.contains("provider")),
            "{err}"
        );
        // Nothing changed: the call is not marked as sent.
        let (_, detail) = app
            .staff(
                "GET",
                &format!("/staff/calls/{}", call.sid),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(detail["sent_by"], serde_json::Value::Null);
    }
    // Bad input is refused before the provider is asked.
    provider.reset().await;
    for body in [
        json!({"entry": "billing", "return_to": RETURN_TO}),
        json!({"entry": "verify", "return_to": "javascript:alert(1)"}),
        json!({"entry": "verify"}),
    ] {
        let (status, err) = app
            .staff(
                "POST",
                &format!("/staff/calls/{}/transfer", call.sid),
                Some(&token),
                Some(body),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
        assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let (status, _) = app
        .staff(
            "POST",
            "/staff/calls/CAnot-a-live-call/transfer",
            Some(&token),
            Some(json!({"entry": "verify", "return_to": RETURN_TO})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(provider.received_requests().await.unwrap().is_empty());
}

async fn roles_are_enforced(b: Backend) {
    let app = TestApp::spawn(b).await;
    let agent = app.staff_login("agent1", Role::Agent).await;
    let supervisor = app.staff_login("super1", Role::Supervisor).await;
    let admin = app.staff_login("admin1", Role::Admin).await;
    let ann = json!({"en": "Closed at noon.", "es": "Cerrado al mediodía."});
    for (method, path, body, least) in [
        ("GET", "/staff/calls", None, Role::Agent),
        ("GET", "/staff/callbacks", None, Role::Supervisor),
        (
            "PUT",
            "/staff/announcement",
            Some(ann.clone()),
            Role::Supervisor,
        ),
        ("GET", "/staff/audit", None, Role::Supervisor),
        ("GET", "/staff/accounts", None, Role::Admin),
    ] {
        for (token, role) in [
            (&agent, Role::Agent),
            (&supervisor, Role::Supervisor),
            (&admin, Role::Admin),
        ] {
            let (status, out) = app.staff(method, path, Some(token), body.clone()).await;
            if role >= least {
                assert_eq!(status, StatusCode::OK, "{role:?} {method} {path}: {out}");
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{role:?} {method} {path}");
                assert_eq!(out["error"], "forbidden");
            }
        }
        let (status, _) = app.staff(method, path, None, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{method} {path} without a token"
        );
        let (status, _) = app
            .staff(method, path, Some("forged-token"), body.clone())
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // Every staff action is in the audit log with who did it.
    let (_, audit) = app
        .staff("GET", "/staff/audit", Some(&supervisor), None)
        .await;
    let lines = audit["audit"].as_array().unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l["event"] == "announcement.set" && l["actor"] == "super1"),
        "{audit}"
    );
    // Admins manage accounts; a disabled account's token stops working at once.
    let (status, _) = app
        .staff(
            "POST",
            "/staff/accounts",
            Some(&admin),
            Some(json!({"name": "new.agent", "role": "agent", "password": "a long enough passphrase"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = app
        .staff("POST", "/staff/accounts/agent1/disable", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.staff("GET", "/staff/calls", Some(&agent), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn login_lockout_expiry_and_logout(b: Backend) {
    let app = TestApp::spawn(b).await;
    let token = app.staff_login("dana", Role::Agent).await;
    let good = json!({"name": "dana", "password": "dana-correct-horse-battery"});
    let bad = json!({"name": "dana", "password": "wrong password here"});
    // An unknown name and a wrong password look the same.
    let (status, unknown) = app
        .staff(
            "POST",
            "/staff/login",
            None,
            Some(json!({"name": "nobody", "password": "whatever it is"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, wrong) = app
        .staff("POST", "/staff/login", None, Some(bad.clone()))
        .await;
    assert_eq!(unknown, wrong);
    for _ in 0..3 {
        app.staff("POST", "/staff/login", None, Some(bad.clone()))
            .await;
    }
    let (status, locked) = app
        .staff("POST", "/staff/login", None, Some(bad.clone()))
        .await;
    assert_eq!(
        status,
        StatusCode::LOCKED,
        "the fifth wrong password locks: {locked}"
    );
    let (status, _) = app
        .staff("POST", "/staff/login", None, Some(good.clone()))
        .await;
    assert_eq!(
        status,
        StatusCode::LOCKED,
        "even the right password, while locked"
    );
    app.clock.advance(16 * 60);
    let (status, fresh) = app
        .staff("POST", "/staff/login", None, Some(good.clone()))
        .await;
    assert_eq!(status, StatusCode::OK, "{fresh}");
    // Tokens expire after eight hours.
    let (status, _) = app.staff("GET", "/staff/me", Some(&token), None).await;
    assert_eq!(status, StatusCode::OK);
    app.clock.advance(8 * 3600);
    let (status, _) = app.staff("GET", "/staff/me", Some(&token), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "expired");
    // Logout revokes.
    let fresh = app.staff_login("lee", Role::Agent).await;
    let (status, _) = app.staff("POST", "/staff/logout", Some(&fresh), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.staff("GET", "/staff/me", Some(&fresh), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "revoked");
    // Many failures from one address turn that address away.
    let mut last = StatusCode::OK;
    for i in 0..25 {
        let (s, _) = app
            .staff(
                "POST",
                "/staff/login",
                None,
                Some(json!({"name": format!("guess{i}"), "password": "x"})),
            )
            .await;
        last = s;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    // A body that is not the right JSON gets a clear 400.
    let (status, err) = app
        .staff("POST", "/staff/login", None, Some(json!({"name": 5})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(err["message"].as_str().unwrap().contains("JSON"), "{err}");
}

async fn callbacks_and_announcement_through_the_api(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.clock.set(common::closed_time());
    let mut call = app.call();
    call.dial().await;
    call.press("1").await;
    call.press("4").await;
    call.press("5").await;
    let saved = call.press("1").await;
    assert!(saved.says("will call you back"), "{}", saved.said());
    let token = app.staff_login("sup", Role::Supervisor).await;
    let (_, list) = app
        .staff("GET", "/staff/callbacks", Some(&token), None)
        .await;
    let items = list["callbacks"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    let id = items[0]["id"].as_i64().unwrap();
    let (status, _) = app
        .staff(
            "POST",
            "/staff/callbacks",
            Some(&token),
            Some(json!({"id": id, "action": "claim"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .staff(
            "POST",
            "/staff/callbacks",
            Some(&token),
            Some(json!({"id": id, "action": "claim"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "already claimed");
    let (status, _) = app
        .staff(
            "POST",
            "/staff/callbacks",
            Some(&token),
            Some(json!({"id": id, "action": "complete"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "an outcome is required");
    let (status, _) = app
        .staff(
            "POST",
            "/staff/callbacks",
            Some(&token),
            Some(json!({"id": id, "action": "complete", "outcome": "reached; payment question answered"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, list) = app
        .staff("GET", "/staff/callbacks", Some(&token), None)
        .await;
    assert!(list["callbacks"].as_array().unwrap().is_empty());

    let (status, _) = app
        .staff(
            "PUT",
            "/staff/announcement",
            Some(&token),
            Some(json!({"en": "Offices close at noon today.", "es": "Las oficinas cierran hoy al mediodía."})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut call = app.call();
    let hello = call.dial().await;
    assert!(
        hello.says("Offices close at noon today."),
        "{}",
        hello.said()
    );
    assert!(hello.says("Las oficinas cierran hoy al mediodía."));
    let (status, err) = app
        .staff(
            "PUT",
            "/staff/announcement",
            Some(&token),
            Some(json!({"en": "", "es": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(err["message"].as_str().unwrap().contains("English"));
    let (status, _) = app
        .staff("DELETE", "/staff/announcement", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let mut call = app.call();
    let hello = call.dial().await;
    assert!(!hello.says("noon"), "{}", hello.said());
}

async fn a_webhook_saving_during_a_transfer_does_not_lose_the_hand_off(b: Backend) {
    let provider = MockServer::start().await;
    let app = app_with_provider(b, &provider).await;
    let mut call = caller_with_agent(&app).await;
    Mock::given(method("POST"))
        .and(path(calls_path(&call.sid)))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"sid": call.sid})))
        .mount(&provider)
        .await;
    let token = app.staff_login("dana", Role::Agent).await;
    // A webhook of this call loads its session...
    let stale = app.session_of(&call.sid).await;
    // ...the staff member sends the caller into the IVR...
    let (status, moved) = app
        .staff(
            "POST",
            &format!("/staff/calls/{}/transfer", call.sid),
            Some(&token),
            Some(json!({"entry": "verify", "return_to": RETURN_TO})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{moved}");
    // ...and the webhook saves what it loaded, after the transfer.
    app.state
        .line
        .store
        .sessions()
        .save(&stale, app.state.line.now())
        .await
        .expect("save");
    let sent = call
        .post(
            &entry_url(&provider).await,
            &[("CallStatus", "in-progress")],
        )
        .await;
    assert!(sent.says("Social Security"), "{}", sent.said());
    call.press(MARCO.0).await;
    let back = call.press(MARCO.1).await;
    let sip = back
        .find("Sip")
        .and_then(|s| s.text.clone())
        .unwrap_or_else(|| panic!("not dialled back to the agent: {}", back.xml));
    assert!(sip.starts_with(&format!("{RETURN_TO}?")), "{sip}");
}

async fn a_hand_off_serves_its_own_call_and_entry_once(b: Backend) {
    let provider = MockServer::start().await;
    let app = app_with_provider(b, &provider).await;
    let mut call = caller_with_agent(&app).await;
    let mut other = caller_with_agent(&app).await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "in-progress"})))
        .mount(&provider)
        .await;
    let token = app.staff_login("dana", Role::Agent).await;
    let (status, _) = app
        .staff(
            "POST",
            &format!("/staff/calls/{}/transfer", call.sid),
            Some(&token),
            Some(json!({"entry": "verify", "return_to": RETURN_TO})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let url = entry_url(&provider).await;
    let pending = app
        .state
        .line
        .store
        .staff()
        .pending_handoffs(&call.sid)
        .await
        .expect("rows");
    assert_eq!(pending.len(), 1, "on record until the entry webhook");
    // Another call presenting this hand-off's id gets nothing from it; so does the
    // same id at another entry.
    let id = url.split("handoff=").nth(1).expect("an id").to_string();
    other
        .post(
            &format!("{PUBLIC_URL}/voice/staff/verify?handoff={id}"),
            &[],
        )
        .await;
    call.post(
        &format!("{PUBLIC_URL}/voice/staff/payments?handoff={id}"),
        &[],
    )
    .await;
    assert_eq!(
        app.state
            .line
            .store
            .staff()
            .pending_handoffs(&call.sid)
            .await
            .expect("rows")
            .len(),
        1,
        "still waiting for its own call and entry"
    );
    // Its own delivery takes it, once.
    call.post(&url, &[]).await;
    assert!(
        app.state
            .line
            .store
            .staff()
            .pending_handoffs(&call.sid)
            .await
            .expect("rows")
            .is_empty()
    );
    let stranger = app.session_of(&other.sid).await;
    assert!(
        stranger.staff_transfer.is_none(),
        "the other call was not handed off"
    );
}

async fn every_malformed_query_path_or_body_gets_a_json_error(b: Backend) {
    let app = TestApp::spawn(b).await.with_demo_data().await;
    let admin = app.staff_login("ada", Role::Admin).await;
    let bad_json = Some(serde_json::json!("not an object"));
    let cases: &[(&str, &str, Option<serde_json::Value>, &str)] = &[
        ("GET", "/staff/payments?days=abc", None, "days not a number"),
        ("GET", "/staff/callbacks?all=maybe", None, "all not a bool"),
        ("GET", "/staff/requests?all=maybe", None, "all not a bool"),
        (
            "GET",
            "/staff/requests/abc/recording",
            None,
            "id not a number",
        ),
        ("GET", "/staff/calls/%FF", None, "a call not text"),
        ("POST", "/staff/calls/%FF/transfer", None, "a call not text"),
        (
            "POST",
            "/staff/accounts/%FF/disable",
            None,
            "a name not text",
        ),
        ("GET", "/staff/reports/chart/%FF", None, "a file not text"),
        ("GET", "/staff/reports?days=abc", None, "days not a number"),
        (
            "POST",
            "/staff/callbacks",
            bad_json.clone(),
            "a body not an object",
        ),
        (
            "POST",
            "/staff/login",
            bad_json.clone(),
            "a body not an object",
        ),
        (
            "PUT",
            "/staff/announcement",
            bad_json.clone(),
            "a body not an object",
        ),
        ("POST", "/staff/accounts", bad_json, "a body not an object"),
    ];
    for (method, path, body, why) in cases {
        let (status, json) = app.staff(method, path, Some(&admin), body.clone()).await;
        assert!(
            status.is_client_error(),
            "{method} {path} ({why}): {status}"
        );
        assert_eq!(
            json["error"], "bad-request",
            "{method} {path} ({why}): {status} {json}"
        );
        assert!(
            json["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{method} {path} ({why}): {json}"
        );
    }
}
