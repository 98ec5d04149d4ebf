//! Paying by card on the phone, for a verified paying parent. The card itself is taken
//! by the provider's `<Pay>` verb (PCI mode on the provider's side): the card number,
//! date and code never reach Caseline. What comes back is the processor's result; a
//! success is stored with its confirmation code, the case, the amount, the time, the
//! card type and the last four digits, never more, once per `<Pay>`.
//!
//! Each `<Pay>` has its own id, random and opaque, in its action URL; a result is taken
//! only for the call's last `<Pay>`, and only once: a later result for the same id is
//! answered as the first was. A success whose `ChargeAmount` is not the amount the
//! `<Pay>` asked for is kept for staff as an `amount-mismatch`, never as a payment.

use anyhow::{Context, anyhow};
use rust_decimal::{Decimal, RoundingStrategy};

use crate::domain::cases::Role;
use crate::session::{PayCode, PayResult, Paying, Session};
pub use crate::store::card_payments::{
    CardPayment, MASKED, MISMATCH, NewPayment, PAID, masked_if_card,
};
use crate::store::{AuditLine, Store};
use crate::telephony::twiml::Element;
use crate::words::speech::Value;

pub use crate::config::PaySettings;

/// Card types the agency's processor takes.
pub const CARD_TYPES: &str = "visa mastercard";

/// The `pay-result` outcomes: each word `<Pay>` may answer, then `unconfirmed` (a
/// success that cannot be confirmed) and `spent` (the call's tries are used up).
pub const OUTCOMES: &[&str] = &{
    const N: usize = PayCode::WORDS.len();
    let mut all = [""; N + 2];
    let mut i = 0;
    while i < N {
        all[i] = PayCode::WORDS[i];
        i += 1;
    }
    all[N] = "unconfirmed";
    all[N + 1] = "spent";
    all
};

/// Failed tries in one call before the caller is offered a person instead.
pub const MAX_TRIES: u32 = 2;

impl PayResult {
    /// Reads the callback's parameters (`get` by name), checking each shape; a value of
    /// the wrong shape is dropped, so no free text from the request is kept.
    pub fn from_params<'a>(get: impl Fn(&str) -> Option<&'a str>) -> PayResult {
        let result = get("Result")
            .and_then(PayCode::parse)
            .unwrap_or(PayCode::InternalError);
        let confirmation = get("PaymentConfirmationCode")
            .map(str::trim)
            .filter(|c| {
                (1..=64).contains(&c.len())
                    && c.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
            .map(masked_if_card);
        let card_type = get("PaymentCardType")
            .map(|t| t.trim().to_ascii_lowercase())
            .filter(|t| {
                (1..=20).contains(&t.len())
                    && t.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
            });
        let last4 = get("PaymentCardNumber").and_then(last_four);
        let said = get("ChargeAmount").map(str::trim);
        let charged = said
            .filter(|a| a.len() <= 16)
            .and_then(|a| a.parse::<Decimal>().ok());
        PayResult {
            result,
            confirmation,
            card_type,
            last4,
            charged,
            charged_unreadable: said.is_some() && charged.is_none(),
        }
    }
}

/// A new `<Pay>`'s id: 128 random bits, written as 32 letters `a` to `p` (a hex digit
/// each), so that it names nothing about the call and can never be read as digits a
/// caller keyed.
pub fn new_pay_id() -> String {
    uuid::Uuid::new_v4()
        .as_bytes()
        .iter()
        .flat_map(|b| [b >> 4, b & 0x0f])
        .map(|n| char::from(b'a' + n))
        .collect()
}

/// Takes a `<Pay>` action callback's `result` into the session when `id` (from its
/// URL) names the call's last `<Pay>` and is its first result; a later result for that
/// `<Pay>` is dropped (the result step answers it as it answered the first). Anything
/// else (no id, another id, a call that never reached `<Pay>`) is an error, audited,
/// and nothing of it is kept.
pub async fn take_result(
    store: &Store,
    now: i64,
    session: &mut Session,
    id: Option<&str>,
    result: PayResult,
) -> anyhow::Result<()> {
    let call = session.call_sid.as_str().to_string();
    let paying = session.paying.get_or_insert_with(Paying::default);
    let ours = matches!((id, &paying.pay_id), (Some(id), Some(open)) if id == open);
    if !ours {
        let line = AuditLine::in_call(
            now,
            Some(&call),
            "pay.card.unmatched",
            result.result.as_str(),
        )
        .participant(session.participant)
        .case(session.case.as_ref().map(|c| c.case_id));
        if let Err(e) = store.audit_log().write(line).await {
            tracing::error!(error = %e, "an unmatched payment result was not audited");
        }
        anyhow::bail!("a <Pay> result that names no <Pay> of this call; nothing kept");
    }
    if paying.answered.is_some() {
        tracing::info!("a further result for a <Pay> already answered; the first stands");
        paying.result = None;
    } else {
        paying.result = Some(result);
    }
    Ok(())
}

/// The last four digits of a masked card number (`xxxx-xxxxxx-x4001`); only ever four,
/// whatever else the provider sent.
pub fn last_four(masked: &str) -> Option<String> {
    let digits: Vec<char> = masked.chars().filter(char::is_ascii_digit).collect();
    (digits.len() >= 4).then(|| digits[digits.len() - 4..].iter().collect())
}

/// An amount keyed as dollars, `*`, cents (`612*40`, `612`, `*50`); `None` when it is
/// not one. One cent digit means tenths (`5*5` is $5.50).
pub fn parse_keyed(keys: &str) -> Option<Decimal> {
    let (dollars, cents) = match keys.split_once('*') {
        Some((d, c)) => (d, c),
        None => (keys, ""),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !digits(dollars) || !digits(cents) || dollars.len() > 7 || cents.len() > 2 {
        return None;
    }
    if dollars.is_empty() && cents.is_empty() {
        return None;
    }
    let d: i64 = if dollars.is_empty() {
        0
    } else {
        dollars.parse().ok()?
    };
    let c: i64 = match cents.len() {
        0 => 0,
        1 => cents.parse::<i64>().ok()? * 10,
        _ => cents.parse().ok()?,
    };
    Some(Decimal::new(d * 100 + c, 2))
}

/// The processor's fee on `amount`, to the cent.
pub fn fee(amount: Decimal, percent: Decimal) -> Decimal {
    (amount * percent / Decimal::from(100))
        .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// Why an amount cannot be paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmountProblem {
    /// Nothing (or nothing owed) to pay.
    Zero,
    /// Over the most one payment may be.
    TooMuch,
}

/// Checks an amount against the limits: more than zero, at most `max`.
pub fn check_amount(amount: Decimal, max: Decimal) -> Result<Decimal, AmountProblem> {
    if amount <= Decimal::ZERO {
        Err(AmountProblem::Zero)
    } else if amount > max {
        Err(AmountProblem::TooMuch)
    } else {
        Ok(amount.round_dp(2))
    }
}

/// The `<Pay>` verb for the chosen amount and case, without its prompts (the flow
/// engine adds them in the caller's language). The description names the case by its
/// last four digits, never the caller.
pub fn element(
    connector: &str,
    amount: Decimal,
    case_ending: &str,
    action: String,
    status_callback: String,
) -> Element {
    Element::new("Pay")
        .attr("paymentConnector", connector)
        .attr("chargeAmount", format!("{:.2}", amount.round_dp(2)))
        .attr("currency", "usd")
        .attr(
            "description",
            format!("Child support, case ending {case_ending}"),
        )
        .attr("validCardTypes", CARD_TYPES)
        // A second chance at each step (the `attempt="2 3"` prompts), ten seconds a digit.
        .attr("maxAttempts", "2")
        .attr("timeout", "10")
        // No `method`: `<Pay>` has none (its action is always POSTed), and the provider
        // warns of an attribute it does not define.
        .attr("action", action)
        .attr("statusCallback", status_callback)
        .attr("statusCallbackMethod", "POST")
}

fn verified(session: &Session) -> anyhow::Result<(i64, crate::domain::cases::CaseRef)> {
    match (session.verified, session.participant, &session.case) {
        (true, Some(p), Some(c)) => Ok((p, c.clone())),
        _ => Err(anyhow!(
            "a payment without a verified caller and a chosen case"
        )),
    }
}

/// `pay-begin`: whether this caller may pay by card here: `ok` (a paying parent, a
/// connector configured), `not-payer` (the receiving parent on this case),
/// `unavailable` (no connector: the caller hears the other ways to pay), or `spent`
/// (this call already failed [`MAX_TRIES`] times).
pub async fn begin(
    store: &Store,
    settings: &PaySettings,
    session: &mut Session,
) -> anyhow::Result<&'static str> {
    let (_, case_ref) = verified(session)?;
    if case_ref.role != Role::Noncustodial {
        return Ok("not-payer");
    }
    if settings.connector.is_none() {
        return Ok("unavailable");
    }
    let case = store
        .cases()
        .case(case_ref.case_id)
        .await?
        .context("the chosen case is gone")?;
    let v = &mut session.values;
    v.clear();
    v.insert(
        "case_ending".into(),
        Value::Digits(case.ending().to_string()),
    );
    if let Some(m) = case.monthly_support.filter(|m| *m > Decimal::ZERO) {
        v.insert("monthly_support".into(), Value::Money(m));
    }
    if let Some(a) = case.arrears.filter(|a| *a > Decimal::ZERO) {
        v.insert("arrears".into(), Value::Money(a));
    }
    v.insert("pay_max".into(), Value::Money(settings.max));
    let failures = session.paying.as_ref().map_or(0, |p| p.failures);
    session.paying = Some(Paying {
        failures,
        ..Paying::default()
    });
    // Two failed tries in a call are enough: a person, or another way to pay.
    if failures >= MAX_TRIES {
        return Ok("spent");
    }
    Ok("ok")
}

/// `pay-amount`: the amount to pay: `monthly` or `past-due` from the case, or keyed
/// (`keys`). `ok` puts `{pay_amount}`, `{pay_fee}` and `{pay_fee_percent}` in the
/// session; `none` (nothing of that kind is owed), `zero`, `too-much` or `invalid`
/// (not an amount) say why not.
pub async fn choose_amount(
    store: &Store,
    settings: &PaySettings,
    session: &mut Session,
    which: Option<&str>,
    keys: &str,
) -> anyhow::Result<&'static str> {
    let (_, case_ref) = verified(session)?;
    let amount = match which {
        Some("monthly" | "past-due") => {
            let case = store
                .cases()
                .case(case_ref.case_id)
                .await?
                .context("the chosen case is gone")?;
            let owed = if which == Some("monthly") {
                case.monthly_support
            } else {
                case.arrears
            };
            match owed.filter(|a| *a > Decimal::ZERO) {
                Some(a) => a,
                None => return Ok("none"),
            }
        }
        _ => match parse_keyed(keys) {
            Some(a) => a,
            None => return Ok("invalid"),
        },
    };
    let amount = match check_amount(amount, settings.max) {
        Ok(a) => a,
        Err(AmountProblem::Zero) => return Ok("zero"),
        Err(AmountProblem::TooMuch) => return Ok("too-much"),
    };
    let v = &mut session.values;
    v.insert("pay_amount".into(), Value::Money(amount));
    v.insert(
        "pay_fee".into(),
        Value::Money(fee(amount, settings.fee_percent)),
    );
    v.insert(
        "pay_fee_percent".into(),
        Value::Text(settings.fee_percent.normalize().to_string()),
    );
    let paying = session.paying.get_or_insert_with(Paying::default);
    paying.amount = Some(amount);
    paying.result = None;
    Ok("ok")
}

/// `pay-result`: the `<Pay>` action callback's result (already in the session). A
/// success is stored once per confirmation code and its last six characters are put
/// in `{confirmation}`; a success that cannot be confirmed (no code, or the amount
/// lost) is `unconfirmed`, never "nothing was charged"; any other result is said as
/// what it is, or, after [`MAX_TRIES`] failed tries, as `spent`. A further result for
/// the same `<Pay>` is answered as the first was, and counts and stores nothing.
/// Audited either way.
/// `agency`: the local agency the payment belongs to (its staff see it).
pub async fn result(
    store: &Store,
    now: i64,
    agency: Option<&str>,
    session: &mut Session,
) -> anyhow::Result<String> {
    let (participant, case_ref) = verified(session)?;
    let call = session.call_sid.as_str().to_string();
    let lang = session.lang.map_or("en", |l| l.code());
    let paying = session.paying.get_or_insert_with(Paying::default);
    // Taken out of the session: the call keeps only what it says back.
    let Some(r) = paying.result.take() else {
        // A further result for the same `<Pay>`: said as the first was (its
        // confirmation is still in the session), nothing stored or counted again.
        let Some(outcome) = paying.answered.clone() else {
            anyhow::bail!("a payment result step without a result");
        };
        store
            .audit_log()
            .write(
                AuditLine::in_call(now, Some(&call), "pay.card", &outcome)
                    .participant(Some(participant))
                    .case(Some(case_ref.case_id)),
            )
            .await?;
        return Ok(outcome);
    };
    let pay_id = paying.pay_id.clone();
    // The payment as stored: what the processor confirmed, for this `<Pay>`.
    let payment = |confirmation, amount, status, charged| NewPayment {
        confirmation,
        pay_id: pay_id.as_deref(),
        status,
        charged,
        case_id: case_ref.case_id,
        case_number: &case_ref.case_number,
        participant_id: participant,
        amount,
        card_type: r.card_type.as_deref().unwrap_or("unknown"),
        card_last4: r.last4.as_deref().unwrap_or(""),
        lang,
        call_sid: &call,
        now,
        agency,
    };
    let outcome = match (r.result, &r.confirmation, paying.amount) {
        // Charged another amount than the `<Pay>` asked for: kept for staff to put
        // right, and the caller goes to a person, as for a payment not confirmed.
        (PayCode::Success, Some(code), Some(amount))
            if r.charged_unreadable || r.charged.is_some_and(|c| c != amount) =>
        {
            let stored = store
                .card_payments()
                .add(&payment(code, amount, MISMATCH, r.charged))
                .await?;
            tracing::error!(
                stored,
                "a payment result for another amount than its <Pay> asked; kept as amount-mismatch"
            );
            "unconfirmed".to_string()
        }
        (PayCode::Success, Some(code), Some(amount)) => {
            let stored = store
                .card_payments()
                .add(&payment(code, amount, PAID, None))
                .await?;
            if !stored {
                tracing::info!(
                    "a repeated payment callback or confirmation code; the payment was already stored"
                );
            }
            // Its last six characters; of a masked one, the four digits kept.
            let code = code.strip_prefix(MASKED).unwrap_or(code);
            let chars: Vec<char> = code.chars().collect();
            let tail: String = chars[chars.len().saturating_sub(6)..].iter().collect();
            session
                .values
                .insert("confirmation".into(), Value::Spelled(tail));
            "success".to_string()
        }
        // The processor took the payment but it cannot be confirmed here: the caller is
        // told not to pay again and sent to a person; operators see the code in the log
        // (a processor's reference, not the caller's data).
        (PayCode::Success, code, _) => {
            tracing::error!(
                confirmation = code.as_deref().unwrap_or("-"),
                "a payment success that could not be stored: no confirmation code or no amount"
            );
            "unconfirmed".to_string()
        }
        (other, _, _) => {
            paying.failures += 1;
            if other != PayCode::CallerHungUp && paying.failures >= MAX_TRIES {
                "spent".to_string()
            } else {
                other.to_string()
            }
        }
    };
    if let Some(p) = session.paying.as_mut() {
        p.answered = Some(outcome.clone());
    }
    crate::ops::metrics::count_by("caseline_payments_total", "result", &outcome);
    let audited = store
        .audit_log()
        .write(
            AuditLine::in_call(now, Some(&call), "pay.card", r.result.as_str())
                .participant(Some(participant))
                .case(Some(case_ref.case_id)),
        )
        .await;
    // A stored payment is confirmed to the caller even if its audit line failed.
    if let Err(e) = audited {
        if outcome != "success" {
            return Err(e);
        }
        tracing::error!(error = %e, "a card payment was stored but not audited");
    }
    Ok(outcome)
}

/// One line of `caseline payments list`.
pub fn listing_line(p: &CardPayment, tz: chrono_tz::Tz) -> String {
    let when = chrono::DateTime::from_timestamp(p.paid_at, 0)
        .map(|d| d.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string())
        .unwrap_or_default();
    let flag = match p.charged {
        Some(charged) if p.status != PAID => format!("  {} (charged ${charged})", p.status),
        _ if p.status != PAID => format!("  {}", p.status),
        _ => String::new(),
    };
    format!(
        "#{:<5} {}  case {}  ${:>9}  {} ending {}  conf {}  {}{flag}",
        p.id, when, p.case_number, p.amount, p.card_type, p.card_last4, p.confirmation, p.lang
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn keyed_amounts_are_dollars_star_cents() {
        assert_eq!(parse_keyed("612*40"), Some(d("612.40")));
        assert_eq!(parse_keyed("612"), Some(d("612.00")));
        assert_eq!(parse_keyed("*50"), Some(d("0.50")));
        assert_eq!(parse_keyed("5*5"), Some(d("5.50")));
        assert_eq!(parse_keyed("0"), Some(d("0.00")));
        for bad in ["", "*", "1*2*3", "12*345", "12345678", "1#2", "?"] {
            assert_eq!(parse_keyed(bad), None, "{bad}");
        }
    }

    #[test]
    fn limits_and_fee() {
        let max = d("5000.00");
        assert_eq!(check_amount(d("0"), max), Err(AmountProblem::Zero));
        assert_eq!(check_amount(d("5000.01"), max), Err(AmountProblem::TooMuch));
        assert_eq!(check_amount(d("5000.00"), max), Ok(d("5000.00")));
        assert_eq!(fee(d("450.00"), d("1.9")), d("8.55"));
        assert_eq!(fee(d("612.40"), d("1.9")), d("11.64"));
        assert_eq!(fee(d("0.50"), d("1.9")), d("0.01"));
    }

    #[test]
    fn a_result_keeps_only_what_may_be_kept() {
        let params = [
            ("Result", "success"),
            (
                "PaymentConfirmationCode",
                "ch_a9dc6297cd1a4fb095e61b1a9cf2dd1d",
            ),
            ("PaymentCardNumber", "xxxx-xxxxxx-x4001"),
            ("PaymentCardType", "visa"),
            ("ExpirationDate", "1229"),
            ("PaymentCardPostalCode", "95814"),
        ];
        let get = |n: &str| params.iter().find(|(k, _)| *k == n).map(|(_, v)| *v);
        let r = PayResult::from_params(get);
        assert_eq!(r.result, PayCode::Success);
        assert_eq!(r.last4.as_deref(), Some("4001"));
        assert_eq!(r.card_type.as_deref(), Some("visa"));
        let kept = serde_json::to_string(&r).unwrap();
        assert!(!kept.contains("1229") && !kept.contains("95814"), "{kept}");
        // An unmasked number still leaves only four digits.
        assert_eq!(last_four("4111111111111111").as_deref(), Some("1111"));
        let odd = [("Result", "<script>"), ("PaymentConfirmationCode", "a b<")];
        let get = |n: &str| odd.iter().find(|(k, _)| *k == n).map(|(_, v)| *v);
        let r = PayResult::from_params(get);
        assert_eq!((r.result, r.confirmation), (PayCode::InternalError, None));
    }

    #[test]
    fn a_card_shaped_confirmation_code_keeps_its_last_four_digits() {
        for (code, kept) in [
            ("4111111111111111", "****1111"),
            ("4012-8888-8888-1881", "****1881"),
            ("378282246310005", "****0005"),
            ("6011111111111117", "****1117"),
            // Not a card: fails the Luhn check, too short, too long, or not all digits.
            ("1234567812345678", "1234567812345678"),
            ("411111111111", "411111111111"),
            ("41111111111111111111", "41111111111111111111"),
            ("ch_4111111111111111", "ch_4111111111111111"),
        ] {
            assert_eq!(masked_if_card(code), kept, "{code}");
        }
        let params = [
            ("Result", "success"),
            ("PaymentConfirmationCode", "4111111111111111"),
        ];
        let get = |n: &str| params.iter().find(|(k, _)| *k == n).map(|(_, v)| *v);
        let r = PayResult::from_params(get);
        assert_eq!(r.confirmation.as_deref(), Some("****1111"));
    }

    #[test]
    fn a_charge_amount_is_read_or_known_unreadable() {
        let read = |v: &str| {
            let params = [("Result", "success"), ("ChargeAmount", v)];
            PayResult::from_params(|n| params.iter().find(|(k, _)| *k == n).map(|(_, v)| *v))
        };
        let r = read("450.00");
        assert_eq!((r.charged, r.charged_unreadable), (Some(d("450")), false));
        for bad in ["abc", "", "$4.50", "99999999999999999999"] {
            assert!(read(bad).charged_unreadable, "{bad}");
        }
        let none = PayResult::from_params(|_| None);
        assert_eq!((none.charged, none.charged_unreadable), (None, false));
    }
}
