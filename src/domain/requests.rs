//! Self-service requests by phone: a verified caller asks for something without waiting
//! for a person: a payment history for this year or last, or the direct-deposit or
//! debit-card enrollment form, by mail; a stop-payment and reissue of a check that never
//! came; an address change, recorded in the caller's words. Each is a work item for
//! staff, with the case, the kind, its details, the caller's language and a reference
//! number read back to the caller; one open request of a kind per case. Staff list,
//! claim and complete them like callbacks.

use anyhow::Context;

use crate::domain::outbound::Purpose;
use crate::session::Session;
pub use crate::store::requests::{Extra, NewRequest, Request};
use crate::store::{AuditLine, Store};
use crate::telephony::provider::ProviderError;
use crate::words::speech::Value;
use crate::words::word_enum;

word_enum!(
    /// What a verified caller can ask for by phone: the `request-open` values, each
    /// stored request's `kind`, the `requests.what.{kind}` prompts.
    RequestKind {
        HistoryThisYear = "history-this-year",
        HistoryLastYear = "history-last-year",
        DepositForm = "deposit-form",
        MissingCheck = "missing-check",
        AddressChange = "address-change",
    }
);

/// Every kind's word (the `request-open` values).
pub const KINDS: &[&str] = RequestKind::WORDS;

/// The kinds asked for with nothing more than the kind (`<Action name="request-mail">`).
pub const MAIL_KINDS: &[&str] = &[
    RequestKind::HistoryThisYear.as_str(),
    RequestKind::HistoryLastYear.as_str(),
    RequestKind::DepositForm.as_str(),
];

/// Check disbursements offered to a caller reporting one missing, newest first.
pub const MAX_CHECKS: usize = 5;

/// `request-mail`: stores the request `kind` for the caller's chosen case; `ok` with
/// `{reference}` to read back, or `already-open` with `{requested_on}` when the case has
/// one of that kind still open. Audited either way.
pub async fn request(
    store: &Store,
    now: i64,
    tz: chrono_tz::Tz,
    kind: &str,
    extra: Extra,
    session: &mut Session,
) -> anyhow::Result<&'static str> {
    if RequestKind::parse(kind).is_none() {
        anyhow::bail!("unknown request kind '{kind}'");
    }
    let (participant, case) = match (session.verified, session.participant, &session.case) {
        (true, Some(p), Some(c)) => (p, c.clone()),
        _ => anyhow::bail!("a request without a verified caller and a chosen case"),
    };
    let call = session.call_sid.as_str().to_string();
    let lang = session.lang.map_or("en", |l| l.code());
    let outcome = match store
        .requests()
        .add(&NewRequest {
            kind,
            case_id: case.case_id,
            case_number: &case.case_number,
            participant_id: participant,
            lang,
            call_sid: &call,
            requested_at: now,
            extra,
        })
        .await?
    {
        Ok(reference) => {
            session
                .values
                .insert("reference".into(), Value::Digits(reference));
            session.values.insert(
                "request_what".into(),
                Value::Prompt(format!("requests.what.{kind}")),
            );
            "ok"
        }
        Err(requested_at) => {
            say_requested_on(session, requested_at, tz)?;
            "already-open"
        }
    };
    metrics::counter!("caseline_requests_total", "kind" => kind.to_string(), "outcome" => outcome)
        .increment(1);
    store
        .audit_log()
        .write(
            AuditLine::in_call(now, Some(&call), &format!("request.{kind}"), outcome)
                .participant(Some(participant))
                .case(Some(case.case_id)),
        )
        .await?;
    Ok(outcome)
}

/// `list-checks`: the check disbursements to the caller on the chosen case, newest
/// first, at most [`MAX_CHECKS`], as `{checks}` (each with its key, date and amount):
/// `some` or `none`.
pub async fn list_checks(store: &Store, session: &mut Session) -> anyhow::Result<&'static str> {
    let (participant, case) = match (session.verified, session.participant, &session.case) {
        (true, Some(p), Some(c)) => (p, c.clone()),
        _ => anyhow::bail!("a check request without a verified caller and a chosen case"),
    };
    let checks: Vec<_> = store
        .cases()
        .disbursements(participant, case.case_id, 200)
        .await?
        .into_iter()
        .filter(|d| d.method == crate::domain::cases::Method::Check)
        .take(MAX_CHECKS)
        .collect();
    if checks.is_empty() {
        return Ok("none");
    }
    let items = checks
        .iter()
        .enumerate()
        .map(|(i, d)| {
            std::collections::BTreeMap::from([
                ("key".to_string(), Value::Text((i + 1).to_string())),
                ("date".to_string(), Value::Date(d.paid_on)),
                ("amount".to_string(), Value::Money(d.amount)),
            ])
        })
        .collect();
    session.values.insert(
        "checks".into(),
        Value::List {
            prompt: "requests.check.item".into(),
            items,
        },
    );
    Ok("some")
}

/// The check the caller picked from `{checks}` by its key, as the request's details
/// ("check of 2026-09-03 for $1.00"); `None` for a key not offered.
pub fn picked_check(session: &Session, keyed: &str) -> Option<String> {
    let Some(Value::List { items, .. }) = session.values.get("checks") else {
        return None;
    };
    let n: usize = keyed.parse().ok()?;
    let item = items.get(n.checked_sub(1)?)?;
    match (item.get("date"), item.get("amount")) {
        (Some(Value::Date(d)), Some(Value::Money(a))) => Some(format!("check of {d} for ${a:.2}")),
        _ => None,
    }
}

/// The body of the text that carries a reference number: the number alone, so a shared
/// phone shows nothing of who called or why.
pub fn text_body(reference: &str) -> String {
    reference.to_string()
}

/// `request-open`: whether the chosen case has an open request of `kind`; if so,
/// `{requested_on}` says since when.
pub async fn open_since(
    store: &Store,
    tz: chrono_tz::Tz,
    kind: &str,
    session: &mut Session,
) -> anyhow::Result<bool> {
    let case = match (session.verified, &session.case) {
        (true, Some(c)) => c.case_id,
        _ => anyhow::bail!("a request without a verified caller and a chosen case"),
    };
    let Some(at) = store.requests().open_at(case, kind).await? else {
        return Ok(false);
    };
    say_requested_on(session, at, tz)?;
    Ok(true)
}

/// Puts the day an open request was made (`at`, Unix seconds) in `{requested_on}`.
fn say_requested_on(session: &mut Session, at: i64, tz: chrono_tz::Tz) -> anyhow::Result<()> {
    let day = chrono::DateTime::from_timestamp(at, 0)
        .map(|d| d.with_timezone(&tz).date_naive())
        .context("a request time out of range")?;
    session
        .values
        .insert("requested_on".into(), Value::Date(day));
    Ok(())
}

/// What texting a reference uses: the requests (marked texted), the provider's texting
/// handle, the agency's sending number, and the policy for the calling number.
pub struct Texting<'a> {
    pub store: &'a Store,
    pub texts: &'a crate::telephony::provider::Texts,
    pub from: Option<&'a str>,
    pub policy: &'a crate::domain::outbound::Policy,
    pub now: i64,
}

/// `text-reference`: sends the reference number just read back to the calling number
/// (`sent`), or says it could not (`failed`: no number, no sender, a number the policy
/// does not text, or the provider refused). At most one text a request, whatever the
/// call or server. Audited either way.
pub async fn text_reference(
    t: &Texting<'_>,
    session: &mut Session,
) -> anyhow::Result<&'static str> {
    let reference = match session.values.get("reference") {
        Some(Value::Digits(r)) => r.clone(),
        _ => anyhow::bail!("a text without a reference number"),
    };
    // Sent already in this call (the key delivered twice, or pressed again): not twice.
    if matches!(session.values.get("texted"), Some(Value::Text(t)) if *t == reference) {
        return Ok("sent");
    }
    let to = session.caller.as_deref().filter(|to| {
        match t
            .policy
            .check(to, Purpose::Text, session.dialled.as_deref())
        {
            Ok(()) => true,
            Err(refusal) => {
                crate::ops::metrics::count_refused_number("text", refusal.label());
                false
            }
        }
    });
    // What the caller hears (`sent`, `failed`: the number read again), and what the
    // audit says happened.
    let (outcome, audited) = match (t.from, to, session.caller.is_some()) {
        (Some(from), Some(to), _) => {
            let requests = t.store.requests();
            if requests.mark_texted(&reference, t.now).await? {
                match t.texts.send(to, from, &text_body(&reference)).await {
                    Ok(()) => {
                        session
                            .values
                            .insert("texted".into(), Value::Text(reference.clone()));
                        ("sent", "sent")
                    }
                    // It may have gone out: never a second.
                    Err(ProviderError::Timeout) => ("failed", "timed out"),
                    Err(e) => {
                        tracing::warn!(error = %e, "the reference text was not sent");
                        if let Err(e) = requests.unmark_texted(&reference).await {
                            tracing::warn!(error = %format!("{e:#}"), "a request stays marked texted");
                        }
                        ("failed", "failed")
                    }
                }
            } else {
                // Texted already, by another delivery whose session was not kept.
                ("failed", "already texted")
            }
        }
        (_, None, true) => ("failed", "refused by policy"),
        _ => ("failed", "failed"),
    };
    t.store
        .audit_log()
        .write(
            AuditLine::in_call(
                t.now,
                Some(session.call_sid.as_str()),
                "request.text",
                audited,
            )
            .participant(session.participant)
            .case(session.case.as_ref().map(|c| c.case_id)),
        )
        .await?;
    Ok(outcome)
}

/// One line of `caseline requests list`.
pub fn listing_line(r: &Request, tz: chrono_tz::Tz) -> String {
    let when = chrono::DateTime::from_timestamp(r.requested_at, 0)
        .map(|d| d.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string())
        .unwrap_or_default();
    let status = match &r.claimed_by {
        Some(who) if r.status == "claimed" => format!("claimed by {who}"),
        _ => r.status.clone(),
    };
    let mut line = format!(
        "#{:<5} ref {}  {}  {:<18}  case {}  {}  {}",
        r.id, r.reference, when, r.kind, r.case_number, r.lang, status
    );
    if let Some(d) = &r.details {
        line.push_str(&format!("  ({d})"));
    }
    if r.recording_sid.is_some() {
        line.push_str("  [recorded address]");
    }
    line
}
