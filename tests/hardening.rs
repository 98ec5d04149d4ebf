//! What hostile and faulty conditions found, each kept fixed: bursts of guesses,
//! forged hand-off headers, repeated deliveries, odd requests, on both stores.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use caseline::staff::Role;
use common::{Backend, TestApp};
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
    let right = "dana-correct-horse-battery";
    caseline::staff::add(&app.state, "dana", Role::Agent, right)
        .await
        .expect("account");
    let checks_before = app.state.hasher.checks();
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
    let checked = app.state.hasher.checks() - checks_before;
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
    let checks_before = app.state.hasher.checks();
    let app = &app;
    let answers = join_all((0..150).map(|i| async move {
        let name = format!("user{}", i % 30);
        login(app, &name, "not the password", "198.51.100.10").await
    }))
    .await;
    let checked = app.state.hasher.checks() - checks_before;
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
    caseline::staff::add(
        &app.state,
        "dana",
        Role::Agent,
        "dana-correct-horse-battery",
    )
    .await
    .expect("account");
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
    // ...and all answer at once, the right PAR ID last.
    let checks_before = app.state.hasher.checks();
    let answers = join_all(calls.iter_mut().enumerate().map(|(i, call)| async move {
        let par = if i == 11 {
            MARCO.1.to_string()
        } else {
            format!("11111111{i:02}")
        };
        call.press(&par).await
    }))
    .await;
    let checked = app.state.hasher.checks() - checks_before;
    assert!(checked <= 5, "{checked} PAR IDs were checked for one SSN");
    let last = answers.last().expect("answers");
    assert!(
        !last.says("balance") && !last.says("payment of"),
        "the SSN should be locked: {}",
        last.said()
    );
}
