//! Numbers the agency calls back and texts: the policy (US lines a person answers, never
//! its own), its limits (one open request a call, three a number a day), and no callback for a caller nobody could trace. On both stores.

use crate::helpers as common;

use common::{Backend, CALLER_ID, TestApp, Twiml};

on_both_stores!(
    numbers_the_agency_does_not_call_are_refused_and_the_call_goes_on,
    one_callback_a_call_and_three_a_number_a_day,
    a_caller_who_neither_verified_nor_shows_a_number_gets_no_callback,
    the_queue_offers_no_callback_to_a_caller_who_could_not_have_one,
);

const MARCO: (&str, &str) = ("900234567", "4820193757");

/// From the main menu (English) to the callback number's entry.
async fn to_the_number_entry(call: &mut common::Phone<'_>) -> Twiml {
    call.dial().await;
    call.press("1").await;
    call.press("4").await;
    let confirm = call.press("5").await;
    assert!(confirm.says("ending in 0 1 2 3"), "{}", confirm.said());
    let enter = call.press("2").await;
    assert!(enter.says("10-digit phone number"), "{}", enter.said());
    enter
}

async fn open_requests(app: &TestApp) -> Vec<caseline::domain::callbacks::Callback> {
    app.state
        .line
        .store
        .callback_queue()
        .list(false)
        .await
        .expect("list")
}

async fn numbers_the_agency_does_not_call_are_refused_and_the_call_goes_on(b: Backend) {
    let app = TestApp::spawn(b).await;
    let mut call = app.call();
    to_the_number_entry(&mut call).await;
    let refused = [
        ("9002101234", "a 900 number"),
        ("5309761234", "a 976 exchange"),
        ("8762101234", "Jamaica"),
        ("8092101234", "the Dominican Republic"),
        ("4734401234", "Grenada"),
        ("2844941234", "the British Virgin Islands"),
        ("6714721234", "Guam"),
        ("9112101234", "a 911 area code"),
        ("8669013212", "the agency's own toll-free line"),
        ("8663994096", "the agency's TTY line"),
        ("8002101234", "an 800 number"),
        ("5305550123", "555-01xx"),
    ];
    for (number, what) in refused {
        let heard = call.press(number).await;
        assert!(
            heard.says("We can't call that number.")
                && heard.says("To enter a different number, press 2."),
            "{what}: {}",
            heard.said()
        );
        let again = call.press("2").await;
        assert!(
            again.says("10-digit phone number"),
            "{what}: {}",
            again.said()
        );
    }
    assert!(open_requests(&app).await.is_empty());
    let confirm = call.press("9162101234").await;
    assert!(confirm.says("ending in 1 2 3 4"), "{}", confirm.said());
    let saved = call.press("1").await;
    assert!(saved.says("will call you back"), "{}", saved.said());
    let open = open_requests(&app).await;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].number, "+19162101234");

    // The number the caller dialled is the agency's own, configured or not.
    let mut other_line = app.call_to("+19162109999");
    other_line.dial().await;
    other_line.press("1").await;
    other_line.press("4").await;
    other_line.press("5").await;
    other_line.press("2").await;
    let heard = other_line.press("9162109999").await;
    assert!(heard.says("We can't call that number."), "{}", heard.said());

    // A caller ID the agency does not call is not offered: the caller is told why and
    // keys one. Norway's +47 92345678 is not read as the Arkansas number +1 479-234-5678.
    for from in ["+18762101234", "+4792345678", "+18002101234"] {
        let mut abroad = app.call();
        abroad.from = from.into();
        abroad.dial().await;
        abroad.press("1").await;
        abroad.press("4").await;
        let enter = abroad.press("5").await;
        assert!(
            enter.says("We can't call back the number you're calling from")
                && enter.says("10-digit phone number"),
            "{from}: {}",
            enter.said()
        );
    }
}

async fn one_callback_a_call_and_three_a_number_a_day(b: Backend) {
    let app = TestApp::spawn(b).await;
    // One request a call: a second, for another number, is refused.
    let mut call = app.call();
    call.dial().await;
    call.press("1").await;
    call.press("4").await;
    call.press("5").await;
    let saved = call.press("1").await;
    assert!(saved.says("will call you back"), "{}", saved.said());
    call.press("9").await;
    call.press("4").await;
    call.press("5").await;
    call.press("2").await;
    call.press("9162101234").await;
    let limit = call.press("1").await;
    assert!(
        limit.says("We can't take another callback request"),
        "{}",
        limit.said()
    );
    let open = open_requests(&app).await;
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].number, CALLER_ID);

    // Three requests a number a day, however each ended.
    let number = "+19162101234";
    for n in 1..=4 {
        let mut call = app.call();
        to_the_number_entry(&mut call).await;
        call.press(&number[2..]).await;
        let heard = call.press("1").await;
        if n <= 3 {
            assert!(heard.says("will call you back"), "{n}: {}", heard.said());
            let id = open_requests(&app)
                .await
                .into_iter()
                .find(|c| c.number == number)
                .expect("stored")
                .id;
            let now = app.state.line.now();
            app.state
                .line
                .store
                .callback_queue()
                .close(id, "cancelled", now)
                .await
                .expect("closed");
        } else {
            assert!(
                heard.says("We can't take another callback request for that number today"),
                "{n}: {}",
                heard.said()
            );
        }
    }
    let all = app
        .state
        .line
        .store
        .callback_queue()
        .list(true)
        .await
        .expect("all");
    assert_eq!(all.iter().filter(|c| c.number == number).count(), 3);
    // The next day the number may be asked for again.
    app.clock.advance(24 * 3600);
    let mut call = app.call();
    to_the_number_entry(&mut call).await;
    call.press(&number[2..]).await;
    let heard = call.press("1").await;
    assert!(heard.says("will call you back"), "{}", heard.said());
}

async fn a_caller_who_neither_verified_nor_shows_a_number_gets_no_callback(b: Backend) {
    let app = TestApp::spawn(b).await.with_demo_data().await;
    // The provider's stand-ins for a hidden number (ANONYMOUS, RESTRICTED spelled on
    // the keypad) are no number: RESTRICTED would read as a real Austin line.
    for from in ["anonymous", "+266696687", "+7378742833"] {
        let mut call = app.call();
        call.from = from.into();
        call.dial().await;
        call.press("1").await;
        call.press("4").await;
        let heard = call.press("5").await;
        assert!(
            heard.says("only when we can see the number you're calling from"),
            "{from}: {}",
            heard.said()
        );
    }
    let mut call = app.call();
    call.from = "anonymous".into();
    call.dial().await;
    call.press("1").await;
    call.press("4").await;
    let heard = call.press("5").await;
    assert!(
        heard.says("For the main menu, press 9."),
        "{}",
        heard.said()
    );
    let menu = call.press("9").await;
    assert!(menu.says("For payment information"), "{}", menu.said());
    assert!(open_requests(&app).await.is_empty());

    // Verified, the same caller may key a number.
    let mut call = app.call();
    call.from = "anonymous".into();
    call.dial().await;
    call.press("1").await;
    call.verify_for_payments(MARCO.0, MARCO.1).await;
    call.press("9").await;
    call.press("4").await;
    let enter = call.press("5").await;
    assert!(enter.says("10-digit phone number"), "{}", enter.said());
    call.press("9162101234").await;
    let saved = call.press("1").await;
    assert!(saved.says("will call you back"), "{}", saved.said());
}

async fn the_queue_offers_no_callback_to_a_caller_who_could_not_have_one(b: Backend) {
    let app = TestApp::spawn(b).await;
    let mut call = app.call();
    call.from = "anonymous".into();
    call.dial().await;
    call.press("1").await;
    let transfer = call.press("0").await;
    let wait_url = transfer
        .find("Enqueue")
        .and_then(|e| e.get("waitUrl"))
        .expect("queued")
        .to_string();
    let wait = call.post(&wait_url, &[("QueuePosition", "3")]).await;
    assert!(wait.says("You are number 3 in line."), "{}", wait.said());
    assert!(!wait.says("call you back"), "{}", wait.said());
    // 1 pressed anyway keeps the caller's place.
    let stay = call.press("1").await;
    assert!(stay.find("Leave").is_none(), "{}", stay.xml);
    assert!(stay.says("stay on the line"), "{}", stay.said());
}
