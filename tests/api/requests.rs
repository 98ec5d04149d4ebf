//! Requests by mail: a verified caller asks for a payment history or the deposit form
//! after a readback, hears a reference number, and staff list, claim and complete the
//! request. On both stores.

use crate::helpers as common;

use axum::http::StatusCode;
use caseline::staff::Role;
use common::{Backend, TestApp};
use serde_json::json;

const MARCO: (&str, &str) = ("900234567", "4820193757");
const ANA: (&str, &str) = ("900123456", "4820193756");

on_both_stores!(
    a_paying_parent_asks_for_this_years_history_and_staff_work_it,
    a_spanish_caller_asks_for_the_deposit_form,
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
    let list = app.state.store.requests().list(false).await.expect("list");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].kind, "deposit-form");
    assert_eq!(list[0].lang, "es");
}
