//! Say or press: every menu on the voice line listens for the words of its choices as
//! well as keys, in the caller's language; a doubtful result is a miss; the TTY line
//! stays keys only. On both stores.

use crate::helpers as common;

use common::{Backend, TTY_LINE, TestApp};

on_both_stores!(
    saying_payments_goes_where_1_goes,
    spanish_estado_de_mi_caso_goes_to_case_status,
    a_doubtful_result_is_a_miss_and_the_tty_line_listens_for_keys,
);

async fn saying_payments_goes_where_1_goes(b: Backend) {
    let app = TestApp::spawn(b).await;
    let mut call = app.call();
    call.dial().await;
    let menu = call.press("1").await;
    let gather = menu.gather();
    assert_eq!(gather.get("input"), Some("dtmf speech"), "{}", menu.xml);
    assert_eq!(gather.get("language"), Some("en-US"));
    assert_eq!(gather.get("speechTimeout"), Some("2"));
    let hints = gather.get("hints").unwrap_or("");
    assert!(
        hints.contains("payments") && hints.contains("case status"),
        "{hints}"
    );
    let next = call.say("Payments, please").await;
    assert!(next.says("Social Security"), "{}", next.said());
}

async fn spanish_estado_de_mi_caso_goes_to_case_status(b: Backend) {
    let app = TestApp::spawn(b).await;
    let mut call = app.call();
    call.dial().await;
    let menu = call.press("2").await;
    assert_eq!(menu.gather().get("language"), Some("es-US"));
    let next = call.say("estado de mi caso").await;
    assert!(next.says("Seguro Social"), "{}", next.said());
    let session = app.session_of(&call.sid).await;
    assert_eq!(session.topic.map(|t| t.as_str()), Some("case-status"));
}

async fn a_doubtful_result_is_a_miss_and_the_tty_line_listens_for_keys(b: Backend) {
    let app = TestApp::spawn(b).await;
    let mut call = app.call();
    call.dial().await;
    let menu = call.press("1").await;
    let url = menu.gather().get("action").expect("action").to_string();
    let doubt = call
        .post(&url, &[("SpeechResult", "payments"), ("Confidence", "0.2")])
        .await;
    assert!(doubt.says("Sorry"), "{}", doubt.said());
    assert!(!doubt.says("Social Security"), "{}", doubt.said());
    let mut tty = app.call_to(TTY_LINE);
    tty.dial().await;
    let menu = tty.press("1").await;
    assert_eq!(menu.gather().get("input"), Some("dtmf"), "{}", menu.xml);
    assert!(menu.gather().get("hints").is_none());
}
