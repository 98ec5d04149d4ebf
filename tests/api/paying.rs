//! Paying by card: a verified paying parent picks an amount, hears the fee, and the
//! provider's `<Pay>` takes the card; the result callback is read back and stored once.
//! On both stores.

use crate::helpers as common;

use axum::http::StatusCode;
use caseline::staff::Role;
use common::{Backend, PUBLIC_URL, TestApp, Twiml, settings};

const MARCO: (&str, &str) = ("900234567", "4820193757");
const ANA: (&str, &str) = ("900123456", "4820193756");
const JORDAN: (&str, &str) = ("900345678", "5512908812");
const CONNECTOR: &str = "agency-stripe";
const CODE: &str = "ch_1Abc23XyZ9q8r7";

on_both_stores!(
    a_paying_parent_pays_the_monthly_amount_and_staff_see_it,
    another_amount_keyed_with_star_and_pound,
    zero_and_over_the_limit_are_refused,
    each_failure_is_said_and_nothing_is_stored,
    a_receiving_parent_is_never_offered_to_pay,
    a_caller_with_several_cases_picks_the_case_first,
    without_a_connector_the_caller_hears_the_other_ways_to_pay,
    a_spanish_caller_hears_the_card_prompts_in_spanish,
    a_tty_caller_pays_with_a_representative,
    a_repeated_failure_counts_once_and_two_failures_end_card_payments_for_the_call,
    a_result_counts_only_for_its_own_pay_and_only_once,
    a_success_for_another_amount_is_kept_for_staff_as_a_mismatch,
    a_card_number_sent_as_confirmation_code_is_kept_as_its_last_four_digits,
    the_demo_phone_keys_the_prompts_own_example_as_the_provider_sends_it,
);

async fn paying_app(b: Backend) -> TestApp {
    let mut s = settings();
    s.pay.connector = Some(CONNECTOR.into());
    TestApp::spawn_with(b, s).await.with_demo_data().await
}

/// English, verified with `who`, through the payments readback to the amount menu.
async fn to_amount_menu<'a>(app: &'a TestApp, who: (&str, &str)) -> (common::Phone<'a>, Twiml) {
    let mut call = app.call();
    call.dial().await;
    call.press("1").await;
    let readback = call.verify_for_payments(who.0, who.1).await;
    assert!(
        readback.says("To make a payment, press 4."),
        "{}",
        readback.said()
    );
    let menu = call.press("4").await;
    (call, menu)
}

/// The card step's answer: the `<Pay>` verb, checked attribute by attribute.
fn pay_verb(t: &Twiml, amount: &str, ending: &str) {
    let pay = t
        .find("Pay")
        .unwrap_or_else(|| panic!("no <Pay> in {}", t.xml));
    let attrs: Vec<(&str, &str)> = pay.attrs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let description = format!("Child support, case ending {ending}");
    // Each <Pay> has its own id: 32 letters, nothing of the call or the caller.
    let action = pay.get("action").unwrap_or_default();
    let id = action
        .strip_prefix(&format!("{PUBLIC_URL}/voice/paid/pay-result?pay="))
        .unwrap_or_else(|| panic!("{action}"));
    assert!(
        id.len() == 32 && id.bytes().all(|b| (b'a'..=b'p').contains(&b)),
        "{action}"
    );
    let status = format!("{PUBLIC_URL}/voice/pay-status");
    assert_eq!(
        attrs,
        [
            ("paymentConnector", CONNECTOR),
            ("chargeAmount", amount),
            ("currency", "usd"),
            ("description", description.as_str()),
            ("validCardTypes", "visa mastercard"),
            ("maxAttempts", "2"),
            ("timeout", "10"),
            ("action", action),
            ("statusCallback", status.as_str()),
            ("statusCallbackMethod", "POST"),
        ],
        "{}",
        t.xml
    );
    // A prompt for each step and error, in the caller's language.
    let prompts: Vec<_> = pay.children.iter().filter(|c| c.name == "Prompt").collect();
    assert_eq!(
        prompts.len(),
        caseline::flow::PAY_PROMPTS.len(),
        "{}",
        t.xml
    );
    for p in &prompts {
        let say = p.children.first().expect("a <Say> in each <Prompt>");
        assert_eq!(say.get("language"), Some("en-US"), "{}", t.xml);
        assert!(!say.text.as_deref().unwrap_or("").is_empty());
    }
    let first = prompts[0];
    assert_eq!(first.get("for"), Some("payment-card-number"));
    assert_eq!(first.get("attempt"), Some("1"));
    assert!(
        prompts
            .iter()
            .any(|p| p.get("for") == Some("expiration-date")
                && p.get("errorType") == Some("timeout invalid-date")),
        "{}",
        t.xml
    );
    // The card never reaches us: no gather inside, and nothing of the caller's in it.
    assert!(t.find("Gather").is_none());
    assert!(!t.xml.contains(MARCO.0) && !t.xml.contains(MARCO.1));
}

/// The action URL of the `<Pay>` in `t`, where the provider sends its result.
fn action_of(t: &Twiml) -> String {
    t.find("Pay")
        .and_then(|p| p.get("action"))
        .unwrap_or_else(|| panic!("no <Pay> action in {}", t.xml))
        .to_string()
}

/// The provider's action callback for the `<Pay>` whose action URL is `url`.
async fn pay_result(call: &mut common::Phone<'_>, url: &str, params: &[(&str, &str)]) -> Twiml {
    call.post(url, params).await
}

const SUCCESS: &[(&str, &str)] = &[
    ("Result", "success"),
    ("PaymentConfirmationCode", CODE),
    ("PaymentCardNumber", "xxxx-xxxxxx-x4242"),
    ("PaymentCardType", "visa"),
    ("ExpirationDate", "1229"),
    ("PaymentCardPostalCode", "95814"),
    ("SecurityCode", "***"),
    ("PaymentMethod", "credit-card"),
    ("ChargeAmount", "450.00"),
];

async fn a_paying_parent_pays_the_monthly_amount_and_staff_see_it(b: Backend) {
    let app = paying_app(b).await;
    let (mut call, menu) = to_amount_menu(&app, MARCO).await;
    assert!(
        menu.says("To pay your monthly support amount, four hundred fifty dollars, press 1."),
        "{}",
        menu.said()
    );
    assert!(menu.says("past-due balance, one thousand two hundred thirty-four dollars and fifty-six cents, press 2."));
    let confirm = call.press("1").await;
    assert!(
        confirm.says("You're paying four hundred fifty dollars on your case ending in 3 4 5 6."),
        "{}",
        confirm.said()
    );
    // The fee, before the card is asked for.
    assert!(
        confirm.says("a fee of 1.9 percent, which is eight dollars and fifty-five cents"),
        "{}",
        confirm.said()
    );
    assert!(confirm.find("Pay").is_none());
    let card = call.press("1").await;
    assert!(card.says("have your card ready"), "{}", card.said());
    pay_verb(&card, "450.00", "3456");
    let url = action_of(&card);

    let done = pay_result(&mut call, &url, SUCCESS).await;
    assert!(
        done.says("Your payment of four hundred fifty dollars was approved. Your confirmation code ends in Z, 9, Q, 8, R, 7."),
        "{}",
        done.said()
    );
    // Star repeats it.
    let again = call.press("*").await;
    assert!(again.says("ends in Z, 9, Q, 8, R, 7"), "{}", again.said());
    // The provider repeats its callback: one payment all the same.
    let twice = pay_result(&mut call, &url, SUCCESS).await;
    assert!(twice.says("was approved"), "{}", twice.said());

    let stored = app
        .state
        .line
        .store
        .card_payments()
        .list(0, 10)
        .await
        .expect("list");
    assert_eq!(stored.len(), 1, "{stored:?}");
    let p = &stored[0];
    assert_eq!(p.confirmation, CODE);
    assert_eq!(p.case_number, "190000123456");
    assert_eq!(p.amount.to_string(), "450.00");
    assert_eq!(
        (p.card_type.as_str(), p.card_last4.as_str()),
        ("visa", "4242")
    );
    assert_eq!(p.paid_at, app.state.line.now());

    // Staff (agents too) see it; the card is its type and last four only.
    let agent = app.staff_login("dana", Role::Agent).await;
    let (status, body) = app
        .staff("GET", "/staff/payments", Some(&agent), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let row = &body["payments"][0];
    assert_eq!(row["confirmation"], CODE);
    assert_eq!(row["amount"], "450.00");
    assert_eq!(row["card_last4"], "4242");
    assert_eq!(row["case_number"], "190000123456");
    let text = body.to_string();
    assert!(!text.contains("1229") && !text.contains("95814"), "{text}");
    let (status, _) = app.staff("GET", "/staff/payments", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Audited: every callback the provider sent is a line.
    let audit = app
        .state
        .line
        .store
        .audit_log()
        .for_call(&call.sid)
        .await
        .expect("audit");
    let pays: Vec<&str> = audit
        .iter()
        .filter(|(e, ..)| e == "pay.card")
        .map(|(_, o, ..)| o.as_str())
        .collect();
    assert_eq!(pays, ["success", "success"]);
}

async fn another_amount_keyed_with_star_and_pound(b: Backend) {
    let app = paying_app(b).await;
    let (mut call, _) = to_amount_menu(&app, MARCO).await;
    let ask = call.press("3").await;
    assert!(
        ask.says("then press star, then the cents"),
        "{}",
        ask.said()
    );
    assert_eq!(ask.gather().get("finishOnKey"), Some("#"));
    assert_eq!(ask.gather().get("input"), Some("dtmf"), "keys only");
    let confirm = call.press("612*40").await;
    assert!(
        confirm.says("You're paying six hundred twelve dollars and forty cents"),
        "{}",
        confirm.said()
    );
    assert!(
        confirm.says("which is eleven dollars and sixty-four cents"),
        "{}",
        confirm.said()
    );
    let card = call.press("1").await;
    pay_verb(&card, "612.40", "3456");
}

async fn zero_and_over_the_limit_are_refused(b: Backend) {
    let app = paying_app(b).await;
    let (mut call, _) = to_amount_menu(&app, MARCO).await;
    call.press("3").await;
    let zero = call.press("0").await;
    assert!(zero.says("has to be more than zero"), "{}", zero.said());
    assert!(zero.says("To pay a different amount, press 3."));
    call.press("3").await;
    let over = call.press("5000*01").await;
    assert!(
        over.says("at most five thousand dollars in one payment"),
        "{}",
        over.said()
    );
    call.press("3").await;
    let odd = call.press("12*345").await;
    assert!(odd.says("isn't an amount we can read"), "{}", odd.said());
    // Exactly the limit is fine.
    call.press("3").await;
    let most = call.press("5000").await;
    assert!(
        most.says("You're paying five thousand dollars"),
        "{}",
        most.said()
    );
    let none = app
        .state
        .line
        .store
        .card_payments()
        .list(0, 10)
        .await
        .expect("list");
    assert!(none.is_empty());
}

async fn each_failure_is_said_and_nothing_is_stored(b: Backend) {
    let app = paying_app(b).await;
    let failures = [
        (
            "too-many-failed-attempts",
            "couldn't be read after several tries",
        ),
        ("payment-connector-error", "processor couldn't be reached"),
        ("caller-interrupted-with-star", "You stopped the payment."),
        ("validation-error", "could not be started"),
        ("internal-error", "Something went wrong on our side."),
    ];
    for (result, words) in failures {
        let (mut call, _) = to_amount_menu(&app, MARCO).await;
        call.press("1").await;
        let card = call.press("1").await;
        let failed = pay_result(
            &mut call,
            &action_of(&card),
            &[
                ("Result", result),
                ("PaymentError", "card declined 4111111111111111"),
            ],
        )
        .await;
        assert!(failed.says(words), "{result}: {}", failed.said());
        assert!(failed.says("Nothing was charged."), "{result}");
        assert!(failed.says("To try once more, press 1."), "{result}");
        assert!(failed.says("To speak with a representative, press 0."));
        // One more try gets the card again; a second failure offers a person instead.
        let retry = call.press("1").await;
        pay_verb(&retry, "450.00", "3456");
        let spent = pay_result(&mut call, &action_of(&retry), &[("Result", result)]).await;
        assert!(
            spent.says("We couldn't take a card payment in this call."),
            "{result}: {}",
            spent.said()
        );
        assert!(!spent.says("To try once more"), "{result}");
    }
    // The caller hung up: nothing more to say.
    let (mut call, _) = to_amount_menu(&app, MARCO).await;
    call.press("1").await;
    let card = call.press("1").await;
    let gone = pay_result(
        &mut call,
        &action_of(&card),
        &[("Result", "caller-hung-up")],
    )
    .await;
    assert_eq!(gone.last_verb(), "Hangup", "{}", gone.xml);
    // A success without a confirmation code is not stored, and the caller is never told
    // that nothing was charged: a person checks it.
    let (mut call, _) = to_amount_menu(&app, MARCO).await;
    call.press("1").await;
    let card = call.press("1").await;
    let odd = pay_result(&mut call, &action_of(&card), &[("Result", "success")]).await;
    assert!(
        odd.says("we couldn't confirm the payment. Please don't pay again."),
        "{}",
        odd.said()
    );
    assert!(!odd.says("Nothing was charged"), "{}", odd.said());
    assert!(odd.find("Enqueue").is_some(), "{}", odd.xml);

    let none = app
        .state
        .line
        .store
        .card_payments()
        .list(0, 10)
        .await
        .expect("list");
    assert!(none.is_empty(), "{none:?}");
}

async fn a_receiving_parent_is_never_offered_to_pay(b: Backend) {
    let app = paying_app(b).await;
    let mut call = app.call();
    call.dial().await;
    call.press("1").await;
    let readback = call.verify_for_payments(ANA.0, ANA.1).await;
    assert!(
        readback.says("The last payment we sent you"),
        "{}",
        readback.said()
    );
    assert!(!readback.says("make a payment"), "{}", readback.said());
    let wrong = call.press("4").await;
    assert!(wrong.says("isn't one of the choices"), "{}", wrong.said());
    // Even sent straight to the payment step, she is not asked for a card.
    let url = format!("{PUBLIC_URL}/voice/step/pay");
    let sent = call.post(&url, &[]).await;
    assert!(
        sent.says("Paying by card is for the parent who pays support"),
        "{}",
        sent.said()
    );
    assert!(sent.find("Pay").is_none());
}

async fn a_caller_with_several_cases_picks_the_case_first(b: Backend) {
    let app = paying_app(b).await;
    let mut call = app.call();
    call.dial().await;
    call.press("1").await;
    let choose = call.verify_for_payments(JORDAN.0, JORDAN.1).await;
    assert!(
        choose.says("For the case ending in 8 8 4 1, press 2."),
        "{}",
        choose.said()
    );
    call.press("2").await;
    let menu = call.press("4").await;
    assert!(
        menu.says("three hundred twenty-one dollars and nine cents"),
        "{}",
        menu.said()
    );
    let confirm = call.press("2").await;
    assert!(
        confirm
            .says("You're paying twenty-one dollars and one cent on your case ending in 8 8 4 1."),
        "{}",
        confirm.said()
    );
    let card = call.press("1").await;
    let pay = card.find("Pay").expect("pay");
    assert_eq!(
        pay.get("description"),
        Some("Child support, case ending 8841")
    );
    assert_eq!(pay.get("chargeAmount"), Some("21.01"));
}

async fn without_a_connector_the_caller_hears_the_other_ways_to_pay(b: Backend) {
    let app = TestApp::spawn(b).await.with_demo_data().await;
    let (mut call, other) = to_amount_menu(&app, MARCO).await;
    assert!(
        other.says("We can't take card payments on this line right now."),
        "{}",
        other.said()
    );
    assert!(
        other.says("deduction from your paycheck"),
        "{}",
        other.said()
    );
    assert!(other.find("Pay").is_none());
    let main = call.press("9").await;
    assert!(main.says("For payment information"), "{}", main.said());
}

async fn a_spanish_caller_hears_the_card_prompts_in_spanish(b: Backend) {
    let app = paying_app(b).await;
    let mut call = app.call();
    call.dial().await;
    call.press("2").await;
    let readback = call.verify_for_payments(MARCO.0, MARCO.1).await;
    assert!(
        readback.says("Para hacer un pago, oprima 4."),
        "{}",
        readback.said()
    );
    let menu = call.press("4").await;
    assert!(
        menu.says("Para pagar su manutención mensual, cuatrocientos cincuenta dólares, oprima 1."),
        "{}",
        menu.said()
    );
    let confirm = call.press("1").await;
    assert!(
        confirm.says("un cargo del 1.9 por ciento"),
        "{}",
        confirm.said()
    );
    let card = call.press("1").await;
    let pay = card.find("Pay").expect("pay");
    let says: Vec<_> = pay
        .children
        .iter()
        .flat_map(|p| p.children.iter())
        .collect();
    assert!(
        says.iter().all(|s| s.get("language") == Some("es-US")),
        "{}",
        card.xml
    );
    assert!(
        card.says("Marque el número de su tarjeta Visa o Mastercard"),
        "{}",
        card.said()
    );
    let done = pay_result(&mut call, &action_of(&card), SUCCESS).await;
    assert!(
        done.says("Su pago de cuatrocientos cincuenta dólares fue aprobado."),
        "{}",
        done.said()
    );
    let stored = app
        .state
        .line
        .store
        .card_payments()
        .list(0, 10)
        .await
        .expect("list");
    assert_eq!(stored[0].lang, "es");
}

async fn a_tty_caller_pays_with_a_representative(b: Backend) {
    let app = paying_app(b).await;
    let mut call = app.call_to(common::TTY_LINE);
    call.dial().await;
    call.press("1").await;
    call.verify_for_payments(MARCO.0, MARCO.1).await;
    call.press("4").await;
    call.press("1").await;
    let to_person = call.press("1").await;
    assert!(to_person.find("Pay").is_none(), "{}", to_person.xml);
    // In TTY text: upper case.
    assert!(
        to_person.says("A REPRESENTATIVE WILL HELP YOU"),
        "{}",
        to_person.said()
    );
    assert!(to_person.find("Enqueue").is_some(), "{}", to_person.xml);
}

async fn a_repeated_failure_counts_once_and_two_failures_end_card_payments_for_the_call(
    b: Backend,
) {
    let app = paying_app(b).await;
    let (mut call, _) = to_amount_menu(&app, MARCO).await;
    call.press("1").await;
    let card = call.press("1").await;
    let declined = [("Result", "payment-connector-error")];
    pay_result(&mut call, &action_of(&card), &declined).await;
    // The provider sends the same callback again: still one more try.
    let again = pay_result(&mut call, &action_of(&card), &declined).await;
    assert!(again.says("To try once more, press 1."), "{}", again.said());
    let card = call.press("1").await;
    let spent = pay_result(&mut call, &action_of(&card), &declined).await;
    assert!(
        spent.says("We couldn't take a card payment in this call."),
        "{}",
        spent.said()
    );
    // Back through the menus: no third try in this call.
    call.press("9").await;
    call.press("1").await;
    let menu = call.last.clone().expect("answered");
    assert!(menu.says("To make a payment, press 4."), "{}", menu.said());
    let refused = call.press("4").await;
    assert!(
        refused.says("We couldn't take a card payment in this call."),
        "{}",
        refused.said()
    );
    assert!(refused.find("Pay").is_none());
    // Its other ways to pay are just that.
    let ways = call.press("1").await;
    assert!(ways.says("deduction from your paycheck"), "{}", ways.said());
    assert!(!ways.says("can't take card payments"), "{}", ways.said());
}

async fn stored_payments(app: &TestApp) -> Vec<caseline::domain::pay::CardPayment> {
    app.state
        .line
        .store
        .card_payments()
        .list(0, 10)
        .await
        .expect("list")
}

async fn a_result_counts_only_for_its_own_pay_and_only_once(b: Backend) {
    let app = paying_app(b).await;
    // A call that never reached <Pay>: a success sent for it is not a payment, and the
    // caller still hears TwiML.
    let (mut call, _) = to_amount_menu(&app, MARCO).await;
    let bare = format!("{PUBLIC_URL}/voice/paid/pay-result");
    let guessed = format!("{bare}?pay={}", "a".repeat(32));
    for url in [&bare, &guessed] {
        let answer = app
            .post_signed(
                url,
                &[("CallSid", call.sid.as_str()), SUCCESS[0], SUCCESS[1]],
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{url}");
        let t = answer.twiml();
        assert!(t.find("Say").is_some(), "{url}: {}", t.xml);
    }
    assert!(stored_payments(&app).await.is_empty());

    // At <Pay>: a result naming another <Pay> is not taken either.
    call.press("1").await;
    let card = call.press("1").await;
    let url = action_of(&card);
    pay_result(&mut call, &guessed, SUCCESS).await;
    assert!(stored_payments(&app).await.is_empty());

    // Its own result is; a second success for the same <Pay>, with another code, is
    // answered as the first and stored as nothing.
    let done = pay_result(&mut call, &url, SUCCESS).await;
    assert!(done.says("ends in Z, 9, Q, 8, R, 7"), "{}", done.said());
    let mut second = SUCCESS.to_vec();
    second[1] = ("PaymentConfirmationCode", "ch_Other99Code11");
    let again = pay_result(&mut call, &url, &second).await;
    assert!(again.says("ends in Z, 9, Q, 8, R, 7"), "{}", again.said());
    let stored = stored_payments(&app).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(
        (stored[0].confirmation.as_str(), stored[0].status.as_str()),
        (CODE, "paid")
    );

    // The unmatched results are on the call's audit trail, for staff.
    let audit = app
        .state
        .line
        .store
        .audit_log()
        .for_call(&call.sid)
        .await
        .expect("audit");
    let unmatched = audit
        .iter()
        .filter(|(e, ..)| e == "pay.card.unmatched")
        .count();
    assert_eq!(unmatched, 3, "{audit:?}");
}

async fn a_success_for_another_amount_is_kept_for_staff_as_a_mismatch(b: Backend) {
    let app = paying_app(b).await;
    let (mut call, _) = to_amount_menu(&app, MARCO).await;
    call.press("1").await;
    let card = call.press("1").await;
    pay_verb(&card, "450.00", "3456");
    let mut cheap = SUCCESS.to_vec();
    cheap.retain(|(k, _)| *k != "ChargeAmount");
    cheap.push(("ChargeAmount", "4.50"));
    let odd = pay_result(&mut call, &action_of(&card), &cheap).await;
    // Not "approved": the caller is told not to pay again and goes to a person.
    assert!(!odd.says("was approved"), "{}", odd.said());
    assert!(
        odd.says("we couldn't confirm the payment. Please don't pay again."),
        "{}",
        odd.said()
    );
    assert!(odd.find("Enqueue").is_some(), "{}", odd.xml);

    let stored = stored_payments(&app).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0].status, "amount-mismatch");
    assert_eq!(stored[0].amount.to_string(), "450.00");
    assert_eq!(
        stored[0].charged.map(|c| c.to_string()).as_deref(),
        Some("4.50")
    );
    let line = caseline::domain::pay::listing_line(&stored[0], chrono_tz::America::Los_Angeles);
    assert!(line.contains("amount-mismatch (charged $4.50)"), "{line}");

    let agent = app.staff_login("dana", Role::Agent).await;
    let (status, body) = app
        .staff("GET", "/staff/payments", Some(&agent), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["payments"][0]["status"], "amount-mismatch", "{body}");
    assert_eq!(body["payments"][0]["charged"], "4.50", "{body}");

    // A ChargeAmount that is no amount cannot be the one asked for either.
    let (mut call, _) = to_amount_menu(&app, MARCO).await;
    call.press("1").await;
    let card = call.press("1").await;
    let mut garbled = SUCCESS.to_vec();
    garbled[1] = ("PaymentConfirmationCode", "ch_Garbled0001");
    garbled.retain(|(k, _)| *k != "ChargeAmount");
    garbled.push(("ChargeAmount", "lots"));
    let odd = pay_result(&mut call, &action_of(&card), &garbled).await;
    assert!(!odd.says("was approved"), "{}", odd.said());
    let stored = stored_payments(&app).await;
    assert_eq!(stored.len(), 2, "{stored:?}");
    assert_eq!(
        (stored[0].status.as_str(), stored[0].charged),
        ("amount-mismatch", None)
    );
}

async fn a_card_number_sent_as_confirmation_code_is_kept_as_its_last_four_digits(b: Backend) {
    const CARD: &str = "4012888888881881";
    const OTHER_CARD: &str = "5555555555554444";
    const OLD_CARD: &str = "378282246310005";
    let logs = common::capture_logs();
    let sqlite = matches!(b, Backend::Sqlite);
    let app = paying_app(b).await;
    let mut transcript = String::new();
    let mut card_code = SUCCESS.to_vec();
    card_code[1] = ("PaymentConfirmationCode", CARD);

    // Approved: stored, listed and read back as its last four digits.
    let (mut call, _) = to_amount_menu(&app, MARCO).await;
    call.press("1").await;
    let card = call.press("1").await;
    let done = pay_result(&mut call, &action_of(&card), &card_code).await;
    assert!(
        done.says("Your confirmation code ends in 1, 8, 8, 1."),
        "{}",
        done.said()
    );
    transcript.push_str(&done.xml);
    transcript.push_str(&call.press("*").await.xml);

    // The path that cannot confirm a payment (its amount gone while <Pay> ran) logs
    // nothing of the code either.
    let (mut call, _) = to_amount_menu(&app, MARCO).await;
    call.press("1").await;
    let card = call.press("1").await;
    let again = format!("{PUBLIC_URL}/voice/step/pay");
    transcript.push_str(&call.post(&again, &[]).await.xml);
    let mut other = SUCCESS.to_vec();
    other[1] = ("PaymentConfirmationCode", OTHER_CARD);
    let odd = pay_result(&mut call, &action_of(&card), &other).await;
    transcript.push_str(&odd.xml);

    // A row stored before codes were masked is listed masked.
    app.state
        .line
        .store
        .card_payments()
        .add(&caseline::domain::pay::NewPayment {
            amount: rust_decimal::Decimal::new(100, 2),
            card_type: "amex",
            card_last4: "0005",
            ..crate::helpers::paid(OLD_CARD, &call.sid, app.state.line.now() - 60, None)
        })
        .await
        .expect("add");

    let agent = app.staff_login("dana", Role::Agent).await;
    let (status, body) = app
        .staff("GET", "/staff/payments", Some(&agent), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let codes: Vec<&str> = body["payments"]
        .as_array()
        .expect("payments")
        .iter()
        .filter_map(|p| p["confirmation"].as_str())
        .collect();
    assert_eq!(codes, ["****1881", "****0005"], "{body}");

    let logs = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    for secret in [CARD, OTHER_CARD] {
        assert!(!logs.contains(secret), "a log line holds {secret}");
        assert!(!transcript.contains(secret), "the TwiML holds {secret}");
        assert!(!body.to_string().contains(secret), "staff see {secret}");
    }
    let session = serde_json::to_string(&app.session_of(&call.sid).await).unwrap();
    assert!(!session.contains(OTHER_CARD), "{session}");
    app.state.line.store.close().await;
    let stored = if sqlite {
        let mut bytes = Vec::new();
        for entry in std::fs::read_dir(app.db_path().expect("sqlite path")).unwrap() {
            bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
        }
        String::from_utf8_lossy(&bytes).into_owned()
    } else {
        app.dump_postgres().await
    };
    assert!(stored.contains("****1881"), "the store was read");
    for secret in [CARD, OTHER_CARD] {
        assert!(!stored.contains(secret), "the store holds {secret}");
    }
}

async fn the_demo_phone_keys_the_prompts_own_example_as_the_provider_sends_it(b: Backend) {
    let app = paying_app(b).await;
    let (mut call, _) = to_amount_menu(&app, MARCO).await;
    let ask = call.press("3").await;
    // "for 25 dollars and 50 cents, press 2, 5, star, 5, 0, pound."
    assert!(ask.says("press 2, 5, star, 5, 0, pound"), "{}", ask.said());
    let gather = ask.gather();
    let sent = caseline::cli::demo::gathered(gather, "25*50#");
    // The finishing key ends the input: it is never part of Digits.
    assert_eq!(
        sent,
        [
            ("Digits", "25*50".to_string()),
            ("FinishedOnKey", "#".to_string())
        ]
    );
    let url = gather.get("action").expect("action").to_string();
    let params: Vec<(&str, &str)> = sent.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let confirm = call.post(&url, &params).await;
    assert!(
        confirm.says("You're paying twenty-five dollars and fifty cents"),
        "{}",
        confirm.said()
    );
    // A menu takes one key and has no finishing key: `#` is a key there, and keys past
    // the first are never sent.
    let menu = confirm.gather();
    assert_eq!(menu.get("finishOnKey"), Some(""), "{}", confirm.xml);
    assert_eq!(
        caseline::cli::demo::gathered(menu, "12"),
        [("Digits", "1".to_string())]
    );
    assert_eq!(
        caseline::cli::demo::gathered(menu, "#"),
        [("Digits", "#".to_string())]
    );
    assert!(
        caseline::cli::demo::gathered(menu, "").is_empty(),
        "a timeout"
    );
}
