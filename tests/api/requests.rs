//! Requests by mail: a verified caller asks for a payment history or the deposit form
//! after a readback, hears a reference number, and staff list, claim and complete the
//! request. On both stores.

use crate::helpers as common;

use axum::http::StatusCode;
use base64::Engine;
use caseline::staff::Role;
use common::{Backend, TestApp, Twiml};
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const MARCO: (&str, &str) = ("900234567", "4820193757");
const ANA: (&str, &str) = ("900123456", "4820193756");

on_both_stores!(
    a_paying_parent_asks_for_this_years_history_and_staff_work_it,
    a_spanish_caller_asks_for_the_deposit_form,
    each_request_kind_in_english_and_spanish_from_the_main_menu,
    a_parent_with_no_checks_hears_so,
    the_recorded_address_plays_through_the_server_and_is_deleted_on_completion,
    the_reference_is_texted_and_nothing_else,
    no_text_is_offered_to_a_number_the_agency_does_not_text,
    nothing_of_a_card_or_a_recording_is_left_anywhere,
    an_empty_recording_callback_deletes_only_the_calls_own_new_recording,
);

/// The digits said after "reference number is" / "número de referencia es".
fn reference_in(said: &str) -> String {
    let after = ["reference number is ", "número de referencia es "]
        .iter()
        .find_map(|m| said.split_once(m).map(|(_, rest)| rest))
        .unwrap_or("");
    after
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ' ' || *c == ',')
        .filter(char::is_ascii_digit)
        .collect()
}

async fn a_paying_parent_asks_for_this_years_history_and_staff_work_it(b: Backend) {
    let app = TestApp::spawn(b).await.with_demo_data().await;
    let mut call = app.call();
    call.dial().await;
    call.press("1").await;
    let readback = call.verify_for_payments(MARCO.0, MARCO.1).await;
    assert!(readback.says("requests by mail"), "{}", readback.said());
    let menu = call.press("3").await;
    assert!(menu.says("Requests and callbacks"), "{}", menu.said());
    call.press("1").await;
    let done = call.press("1").await;
    assert!(done.says("Your request is in"), "{}", done.said());
    let heard = reference_in(&done.said());
    assert_eq!(heard.len(), 8, "{}", done.said());

    // The same request again, while the first is open.
    call.press("8").await;
    call.press("1").await;
    let again = call.press("1").await;
    assert!(
        again.says("You already have a request like this from November 24"),
        "{}",
        again.said()
    );

    // Staff see it, claim it, complete it.
    let token = app.staff_login("sam", Role::Supervisor).await;
    let (status, list) = app
        .staff("GET", "/staff/requests", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let requests = list["requests"].as_array().expect("a list");
    assert_eq!(requests.len(), 1, "{list}");
    let r = &requests[0];
    assert_eq!(r["kind"], "history-this-year");
    assert_eq!(r["case_number"], "190000123456");
    assert_eq!(r["lang"], "en");
    assert_eq!(r["reference"], heard.as_str());
    let id = r["id"].as_i64().expect("an id");
    let agent = app.staff_login("dana", Role::Agent).await;
    let (status, _) = app
        .staff("GET", "/staff/requests", Some(&agent), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the same rules as callbacks");
    for (action, want) in [
        (json!({"id": id, "action": "claim"}), StatusCode::OK),
        (json!({"id": id, "action": "claim"}), StatusCode::CONFLICT),
        (
            json!({"id": id, "action": "complete"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"id": id, "action": "complete", "outcome": "mailed"}),
            StatusCode::OK,
        ),
    ] {
        let (status, body) = app
            .staff(
                "POST",
                "/staff/requests",
                Some(&token),
                Some(action.clone()),
            )
            .await;
        assert_eq!(status, want, "{action}: {body}");
    }
    let (_, list) = app
        .staff("GET", "/staff/requests", Some(&token), None)
        .await;
    assert!(list["requests"].as_array().expect("a list").is_empty());
    // Audited, with the outcome each time.
    let audit = app
        .state
        .line
        .store
        .audit_log()
        .for_call(&call.sid)
        .await
        .expect("audit");
    let kinds: Vec<&str> = audit
        .iter()
        .filter(|(event, ..)| event == "request.history-this-year")
        .map(|(_, outcome, ..)| outcome.as_str())
        .collect();
    assert_eq!(kinds, ["ok", "already-open"]);
}

async fn a_spanish_caller_asks_for_the_deposit_form(b: Backend) {
    let app = TestApp::spawn(b).await.with_demo_data().await;
    let mut call = app.call();
    call.dial().await;
    call.press("2").await;
    call.verify_for_payments(ANA.0, ANA.1).await;
    let menu = call.press("3").await;
    assert!(menu.says("Solicitudes y llamadas"), "{}", menu.said());
    let done = call.press("3").await;
    assert!(done.says("Su número de referencia es"), "{}", done.said());
    assert_eq!(reference_in(&done.said()).len(), 8, "{}", done.said());
    let list = app
        .state
        .line
        .store
        .requests()
        .list(false)
        .await
        .expect("list");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].kind, "deposit-form");
    assert_eq!(list[0].lang, "es");
}

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const RECORDING: &str = "RE0123456789abcdef0123456789abcdef";
const CALLER: &str = "+15592310123";
const AGENCY: &str = "+18669013212";

fn recording_path() -> String {
    format!("/2010-04-01/Accounts/{ACCOUNT}/Recordings/{RECORDING}")
}

async fn app_with_provider(b: Backend, provider: &MockServer) -> TestApp {
    let mut s = common::settings();
    s.twilio_account_sid = Some(ACCOUNT.into());
    s.twilio_api_base = provider.uri();
    s.sms_from = Some(AGENCY.into());
    s.pay.connector = Some("agency-stripe".into());
    TestApp::spawn_with(b, s).await.with_demo_data().await
}

/// Dials, picks the language (`1` English, `2` Spanish), 4 at the main menu, the
/// request's key, then verifies; answers what follows the PAR ID.
async fn request_from_main<'a>(
    app: &'a TestApp,
    lang: &str,
    who: (&str, &str),
    key: &str,
) -> (common::Phone<'a>, Twiml) {
    request_from_main_as(app, common::CALLER_ID, lang, who, key).await
}

/// [`request_from_main`] from the caller ID `from`.
async fn request_from_main_as<'a>(
    app: &'a TestApp,
    from: &str,
    lang: &str,
    who: (&str, &str),
    key: &str,
) -> (common::Phone<'a>, Twiml) {
    let mut call = app.call();
    call.from = from.to_string();
    call.dial().await;
    call.press(lang).await;
    let menu = call.press("4").await;
    assert!(
        menu.says("Requests and callbacks") || menu.says("Solicitudes y llamadas"),
        "{}",
        menu.said()
    );
    let ask = call.press(key).await;
    assert!(
        ask.says("Social Security") || ask.says("Seguro Social"),
        "{}",
        ask.said()
    );
    call.press(who.0).await;
    let next = call.press(who.1).await;
    (call, next)
}

/// Records an address at the consent menu `at`: 1, then the provider posts the
/// recording's action.
async fn record_address(call: &mut common::Phone<'_>, at: &Twiml) -> Twiml {
    assert!(
        at.says("record") || at.says("grabar"),
        "the consent: {}",
        at.said()
    );
    let record = call.press("1").await;
    let el = record
        .find("Record")
        .unwrap_or_else(|| panic!("no <Record> in {}", record.xml));
    let action = format!("{}/voice/step/request-address-save", common::PUBLIC_URL);
    assert_eq!(el.get("action"), Some(action.as_str()));
    assert_eq!(el.get("maxLength"), Some("60"));
    assert_eq!(el.get("transcribe"), Some("false"));
    // A silent caller still goes on (the provider skips the action then).
    assert_eq!(record.last_verb(), "Redirect", "{}", record.xml);
    let url =
        format!("https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/{RECORDING}");
    call.post(
        &action,
        &[
            ("RecordingSid", RECORDING),
            ("RecordingUrl", url.as_str()),
            ("RecordingDuration", "14"),
            ("Digits", "#"),
        ],
    )
    .await
}

async fn each_request_kind_in_english_and_spanish_from_the_main_menu(b: Backend) {
    for (lang, code) in [("1", "en"), ("2", "es")] {
        let provider = MockServer::start().await;
        let app = app_with_provider(b.clone(), &provider).await;
        let mut heard = Vec::new();
        for (kind, key) in [
            ("history-this-year", "1"),
            ("history-last-year", "1"),
            ("missing-check", "2"),
            ("deposit-form", "3"),
            ("address-change", "4"),
        ] {
            let (mut call, next) = request_from_main(&app, lang, ANA, key).await;
            let done = match kind {
                "history-this-year" => call.press("1").await,
                "history-last-year" => call.press("2").await,
                "missing-check" => {
                    let english = "For the check of one dollar, sent on September 3, 2026, press 1. For the check of eight hundred twelve dollars and forty cents, sent on April 22, 2026, press 2.";
                    let spanish =
                        "Para el cheque de un dólar, enviado el 3 de septiembre de 2026, oprima 1.";
                    assert!(
                        next.says(english) || next.says(spanish),
                        "{kind} {code}: {}",
                        next.said()
                    );
                    call.press("2").await
                }
                "address-change" => record_address(&mut call, &next).await,
                _ => next,
            };
            assert!(
                done.says("Your request is in") || done.says("Su solicitud quedó registrada"),
                "{kind} {code}: {}",
                done.said()
            );
            if code == "es" {
                assert!(done.says("Su número de referencia es"), "{}", done.said());
            }
            let reference = reference_in(&done.said());
            assert_eq!(reference.len(), 8, "{kind}: {}", done.said());
            heard.push((kind, reference));
        }
        let token = app.staff_login("sam", Role::Supervisor).await;
        let (_, list) = app
            .staff("GET", "/staff/requests", Some(&token), None)
            .await;
        let rows = list["requests"].as_array().expect("a list");
        assert_eq!(rows.len(), 5, "{list}");
        for (kind, reference) in &heard {
            let row = rows
                .iter()
                .find(|r| r["kind"] == *kind)
                .unwrap_or_else(|| panic!("no {kind} in {list}"));
            assert_eq!(row["reference"], reference.as_str());
            assert_eq!(row["lang"], code);
            assert_eq!(row["case_number"], "190000123456");
            assert_eq!(row["has_recording"], *kind == "address-change");
            let details = if *kind == "missing-check" {
                json!("check of 2026-04-22 for $812.40")
            } else {
                json!(null)
            };
            assert_eq!(row["details"], details, "{row}");
            assert!(row.get("recording_sid").is_none(), "{row}");
        }
    }
}

async fn a_parent_with_no_checks_hears_so(b: Backend) {
    let app = TestApp::spawn(b).await.with_demo_data().await;
    let (mut call, none) = request_from_main(&app, "1", MARCO, "2").await;
    assert!(
        none.says("We haven't sent you any payments by check"),
        "{}",
        none.said()
    );
    // And an address change with nothing recorded asks again: the provider skips the
    // <Record>'s action after silence and follows the redirect after it.
    let menu = call.press("8").await;
    assert!(
        menu.says("To change your address, press 4."),
        "{}",
        menu.said()
    );
    call.press("4").await;
    call.press("1").await;
    let again = call.follow().await;
    assert!(again.says("We didn't hear an address."), "{}", again.said());
    assert!(
        app.state
            .line
            .store
            .requests()
            .list(true)
            .await
            .unwrap()
            .is_empty()
    );

    // A check not in the list: 0 reaches a person.
    let (mut call, list) = request_from_main(&app, "1", ANA, "2").await;
    assert!(
        list.says("press 0 to speak with a representative"),
        "{}",
        list.said()
    );
    let person = call.press("0").await;
    assert!(person.find("Enqueue").is_some(), "{}", person.xml);
}

/// A staff GET answered as bytes, with its content type.
async fn staff_bytes(app: &TestApp, path: &str, token: &str) -> (StatusCode, String, Vec<u8>) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let req = axum::http::Request::get(path)
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .expect("request");
    let res = app.router.clone().oneshot(req).await.expect("answer");
    let status = res.status();
    let kind = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    (status, kind, bytes.to_vec())
}

async fn the_recorded_address_plays_through_the_server_and_is_deleted_on_completion(b: Backend) {
    let provider = MockServer::start().await;
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT}:{}", common::TOKEN))
    );
    let audio = b"ID3\x04\x00fake mp3 frames".to_vec();
    Mock::given(method("GET"))
        .and(path(format!("{}.mp3", recording_path())))
        .and(header("authorization", auth.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_raw(audio.clone(), "audio/mpeg"))
        .mount(&provider)
        .await;
    let app = app_with_provider(b, &provider).await;
    let (mut call, consent) = request_from_main(&app, "1", MARCO, "4").await;
    let done = record_address(&mut call, &consent).await;
    assert!(
        done.says("a staff member will listen to your new address"),
        "{}",
        done.said()
    );
    // The provider delivers the recording's callback again: the request keeps it.
    let action = format!("{}/voice/step/request-address-save", common::PUBLIC_URL);
    let again = call
        .post(
            &action,
            &[("RecordingSid", RECORDING), ("RecordingDuration", "14")],
        )
        .await;
    assert!(
        again.says("You already have a request like this"),
        "{}",
        again.said()
    );
    let deletes = provider
        .received_requests()
        .await
        .expect("requests")
        .iter()
        .filter(|r| r.method.as_str() == "DELETE")
        .count();
    assert_eq!(deletes, 0, "the kept recording was not deleted");

    // A second address change while this one is open: said before anything is recorded.
    let (_, second) = request_from_main(&app, "1", MARCO, "4").await;
    assert!(
        second.says("You already have a request like this"),
        "{}",
        second.said()
    );
    assert!(second.find("Record").is_none() && !second.says("after the tone"));

    let sup = app.staff_login("sam", Role::Supervisor).await;
    let (_, list) = app.staff("GET", "/staff/requests", Some(&sup), None).await;
    let id = list["requests"][0]["id"].as_i64().expect("an id");
    let route = format!("/staff/requests/{id}/recording");
    let (status, kind, bytes) = staff_bytes(&app, &route, &sup).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(kind, "audio/mpeg");
    assert_eq!(bytes, audio);
    let agent = app.staff_login("dana", Role::Agent).await;
    let (status, _, _) = staff_bytes(&app, &route, &agent).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = staff_bytes(&app, "/staff/requests/999/recording", &sup).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The provider cannot delete it: the request stays open, with its recording.
    let delete = format!("{}.json", recording_path());
    let failing = Mock::given(method("DELETE"))
        .and(path(delete.as_str()))
        .respond_with(ResponseTemplate::new(500))
        .mount_as_scoped(&provider)
        .await;
    let complete = json!({"id": id, "action": "complete", "outcome": "address updated"});
    let (status, body) = app
        .staff(
            "POST",
            "/staff/requests",
            Some(&sup),
            Some(complete.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    drop(failing);
    let (_, list) = app.staff("GET", "/staff/requests", Some(&sup), None).await;
    assert_eq!(list["requests"][0]["status"], "open");
    assert_eq!(list["requests"][0]["has_recording"], true);

    Mock::given(method("DELETE"))
        .and(path(delete.as_str()))
        .and(header("authorization", auth.as_str()))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&provider)
        .await;
    let (status, body) = app
        .staff("POST", "/staff/requests", Some(&sup), Some(complete))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, _) = staff_bytes(&app, &route, &sup).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "gone once completed");
    let (_, all) = app
        .staff("GET", "/staff/requests?all=true", Some(&sup), None)
        .await;
    assert_eq!(all["requests"][0]["has_recording"], false, "{all}");
    let audit = app
        .state
        .line
        .store
        .audit_log()
        .recent(50)
        .await
        .expect("audit");
    assert!(
        audit
            .iter()
            .any(|a| a.event == "request.recording" && a.actor.as_deref() == Some("sam")),
        "{audit:?}"
    );
    provider.verify().await;
}

async fn the_reference_is_texted_and_nothing_else(b: Backend) {
    let provider = MockServer::start().await;
    let messages = format!("/2010-04-01/Accounts/{ACCOUNT}/Messages.json");
    Mock::given(method("POST"))
        .and(path(messages.as_str()))
        .respond_with(ResponseTemplate::new(201).set_body_string("{\"sid\":\"SM1\"}"))
        .expect(1)
        .mount(&provider)
        .await;
    let app = app_with_provider(b, &provider).await;
    let (mut call, _) = request_from_main(&app, "1", MARCO, "3").await;
    let done = call.last.clone().expect("answered");
    assert!(
        done.says("To get the reference number in a text message, press 1."),
        "{}",
        done.said()
    );
    let reference = reference_in(&done.said());
    let sent = call.press("1").await;
    assert!(
        sent.says("We sent the reference number by text message"),
        "{}",
        sent.said()
    );
    let got = provider.received_requests().await.expect("requests");
    let form: std::collections::HashMap<String, String> = form_urlencoded::parse(&got[0].body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    assert_eq!(form["To"], CALLER);
    assert_eq!(form["From"], AGENCY);
    assert_eq!(form["Body"], reference, "the number and nothing else");
    assert_eq!(form.len(), 3, "{form:?}");
    // Once a request, decided by the database: no other call or server texts it again.
    let now = app.state.line.now();
    let requests = app.state.line.store.requests();
    assert!(!requests.mark_texted(&reference, now).await.expect("mark"));
    // The same key delivered again sends nothing more.
    let url = format!("{}/voice/input/request-done-text", common::PUBLIC_URL);
    let twice = call.post(&url, &[("Digits", "1")]).await;
    assert!(
        twice.says("We sent the reference number"),
        "{}",
        twice.said()
    );
    provider.verify().await;

    // The provider refuses: the caller hears the number again instead.
    provider.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&provider)
        .await;
    let (mut call, _) = request_from_main(&app, "1", MARCO, "1").await;
    let done = call.press("2").await;
    let reference = reference_in(&done.said());
    let failed = call.press("1").await;
    assert!(
        failed.says("we couldn't send the text message"),
        "{}",
        failed.said()
    );
    assert_eq!(
        reference_in(
            &failed
                .said()
                .replace("reference number: ", "reference number is ")
        ),
        reference
    );
}

async fn nothing_of_a_card_or_a_recording_is_left_anywhere(b: Backend) {
    let logs = common::capture_logs();
    let sqlite = matches!(b, Backend::Sqlite);
    let provider = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&provider)
        .await;
    let app = app_with_provider(b, &provider).await;
    let mut transcript = String::new();
    let recording_url =
        format!("https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/{RECORDING}");

    // A payment, with everything a provider might send back.
    let mut call = app.call();
    call.dial().await;
    call.press("1").await;
    transcript.push_str(&call.verify_for_payments(MARCO.0, MARCO.1).await.xml);
    let mut url = String::new();
    for k in ["4", "1", "1"] {
        let t = call.press(k).await;
        // The <Pay> verb itself is checked on its own (tests/api/paying.rs).
        match t.find("Pay").and_then(|p| p.get("action")) {
            Some(action) => url = action.to_string(),
            None => transcript.push_str(&t.xml),
        }
    }
    let paid = call
        .post(
            &url,
            &[
                ("Result", "success"),
                ("PaymentConfirmationCode", "ch_sweep123"),
                ("PaymentCardNumber", "xxxx-xxxxxx-x4242"),
                ("PaymentCardType", "mastercard"),
                ("ExpirationDate", "1229"),
                ("PaymentCardPostalCode", "95814-1234"),
                ("PaymentError", "echo 4111111111111111"),
            ],
        )
        .await;
    transcript.push_str(&paid.xml);
    // The call's session keeps nothing of the card. Its own random id and start time
    // are left out of the search: either may hold four such digits by chance.
    let mut session = serde_json::to_value(app.session_of(&call.sid).await).unwrap();
    if let Some(fields) = session.as_object_mut() {
        fields.remove("call_sid");
        fields.remove("started_at");
    }
    let session = session.to_string();
    for card in ["4242", "mastercard", "1229", "95814", "ch_sweep123", "4111"] {
        assert!(
            !session.contains(card),
            "the session holds {card}: {session}"
        );
    }
    let status = format!("{}/voice/pay-status", common::PUBLIC_URL);
    let progress = call
        .post(
            &status,
            &[
                ("For", "payment-card-number"),
                ("ErrorType", "4111111111111111"),
            ],
        )
        .await;
    transcript.push_str(&progress.xml);

    // An address change, and its reference texted.
    let (mut call, consent) = request_from_main(&app, "2", ANA, "4").await;
    let done = record_address(&mut call, &consent).await;
    transcript.push_str(&done.xml);
    transcript.push_str(&call.press("1").await.xml);

    let secrets = [
        MARCO.0,
        MARCO.1,
        ANA.0,
        ANA.1,
        "4111111111111111",
        "xxxx-xxxxxx-x4242",
        "95814-1234",
        recording_url.as_str(),
        "api.twilio.com",
    ];
    let logs = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("webhook"), "the logs were captured");
    for secret in secrets {
        assert!(!logs.contains(secret), "a log line holds {secret}");
        assert!(!transcript.contains(secret), "the TwiML holds {secret}");
    }
    // What may be kept is kept where it belongs.
    let store = &app.state.line.store;
    let paid = store.card_payments().list(0, 10).await.unwrap();
    assert_eq!(paid[0].card_last4, "4242");
    let requests = store.requests().list(false).await.unwrap();
    assert_eq!(requests[0].recording_sid.as_deref(), Some(RECORDING));
    store.close().await;
    let text = if sqlite {
        let dir = app.db_path().expect("sqlite path");
        let mut bytes = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
        }
        String::from_utf8_lossy(&bytes).into_owned()
    } else {
        app.dump_postgres().await
    };
    assert!(text.contains("ch_sweep123"), "the store was read");
    for secret in secrets {
        assert!(!text.contains(secret), "the store holds {secret}");
    }
}

/// Texts go to US numbers that may be mobiles, never abroad, toll-free, premium or the
/// agency's own: from such a number the text is not offered, and nothing is sent.
async fn no_text_is_offered_to_a_number_the_agency_does_not_text(b: Backend) {
    let provider = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_string("{\"sid\":\"SM1\"}"))
        .mount(&provider)
        .await;
    let app = app_with_provider(b, &provider).await;
    for from in [
        "+18762101234",
        "+19002101234",
        "+18002101234",
        "+14162101234",
        AGENCY,
    ] {
        let (call, _) = request_from_main_as(&app, from, "1", MARCO, "3").await;
        let done = call.last.clone().expect("answered");
        assert!(
            done.says("Your reference number is"),
            "{from}: {}",
            done.said()
        );
        assert!(!done.says("in a text message"), "{from}: {}", done.said());
        let url = format!("{}/voice/input/request-done-text", common::PUBLIC_URL);
        let mut call = call;
        call.post(&url, &[("Digits", "1")]).await;
        // Each request of a case is open once; close it for the next caller ID.
        let open = app
            .state
            .line
            .store
            .requests()
            .list(false)
            .await
            .expect("list");
        for r in open {
            let work = app.state.line.store.work();
            let kind = caseline::store::WorkKind::Request;
            let now = app.state.line.now();
            assert!(
                work.complete(kind, r.id, "sam", "sent", now)
                    .await
                    .expect("done")
            );
        }
    }
    assert!(
        provider
            .received_requests()
            .await
            .expect("requests")
            .is_empty(),
        "no text sent"
    );
}

/// The DELETEs the provider received, by path.
async fn deleted(provider: &MockServer) -> Vec<String> {
    provider
        .received_requests()
        .await
        .expect("requests")
        .iter()
        .filter(|r| r.method.as_str() == "DELETE")
        .map(|r| r.url.path().to_string())
        .collect()
}

async fn an_empty_recording_callback_deletes_only_the_calls_own_new_recording(b: Backend) {
    const EMPTY: &str = "RE00000000000000000000000000000000";
    let provider = MockServer::start().await;
    Mock::given(method("DELETE"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&provider)
        .await;
    let app = app_with_provider(b, &provider).await;
    let save = format!("{}/voice/step/request-address-save", common::PUBLIC_URL);
    let menu = format!("{}/voice/step/main-menu", common::PUBLIC_URL);
    // The call's own <Record> came back empty: that recording goes.
    let (mut call, consent) = request_from_main(&app, "1", MARCO, "4").await;
    assert!(consent.says("record"), "{}", consent.said());
    call.press("1").await;
    let again = call
        .post(
            &save,
            &[("RecordingSid", EMPTY), ("RecordingDuration", "0")],
        )
        .await;
    assert!(again.says("We didn't hear an address."), "{}", again.said());
    let gone = format!("/2010-04-01/Accounts/{ACCOUNT}/Recordings/{EMPTY}.json");
    let mut seen = Vec::new();
    for _ in 0..200 {
        seen = deleted(&provider).await;
        if !seen.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(seen, std::slice::from_ref(&gone));

    // Recorded again: a request holds RECORDING.
    let done = record_address(&mut call, &again).await;
    assert!(done.says("Your request is in"), "{}", done.said());
    // Named with no length at a step that recorded nothing, by this call or another,
    // and at this call's own recording step while the request holds it: kept.
    let empty = [("RecordingSid", RECORDING), ("RecordingDuration", "0")];
    call.post(&menu, &empty).await;
    call.post(&save, &empty).await;
    let mut stranger = app.call();
    stranger.dial().await;
    stranger.post(&menu, &empty).await;
    stranger.post(&save, &empty).await;
    assert_eq!(
        deleted(&provider).await,
        [gone],
        "only the call's own empty one"
    );
    let requests = app.state.line.store.requests().list(false).await.unwrap();
    assert_eq!(requests[0].recording_sid.as_deref(), Some(RECORDING));
}
