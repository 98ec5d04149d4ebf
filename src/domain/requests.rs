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
use crate::store::{AuditLine, RequestQueue, Sqlite, Store, on_both};
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

/// A stored request as staff see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct Request {
    pub id: i64,
    pub reference: String,
    pub kind: String,
    pub case_number: String,
    pub lang: String,
    pub status: String,
    pub requested_at: i64,
    pub claimed_by: Option<String>,
    pub closed_at: Option<i64>,
    pub outcome: Option<String>,
    /// What the request is about beyond its kind (the missing check's date and amount).
    pub details: Option<String>,
    /// The provider's SID of the recorded address: staff hear it through
    /// `/staff/requests/{id}/recording`, so the listing says only whether there is one.
    #[serde(rename = "has_recording", serialize_with = "is_some")]
    pub recording_sid: Option<String>,
}

fn is_some<S: serde::Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bool(v.is_some())
}

const COLUMNS: &str = "id, reference, kind, case_number, lang, status, requested_at, claimed_by, \
                       closed_at, outcome, details, recording_sid";

/// What a request carries beyond its kind.
#[derive(Debug, Clone, Default)]
pub struct Extra {
    pub details: Option<String>,
    pub recording_sid: Option<String>,
}

/// A reference number: eight digits, said one by one.
fn new_reference() -> String {
    let n = uuid::Uuid::new_v4().as_u128() % 100_000_000;
    format!("{n:08}")
}

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
        .add(
            kind,
            case.case_id,
            &case.case_number,
            participant,
            lang,
            &call,
            now,
            &extra,
        )
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

impl RequestQueue<'_> {
    /// Stores a request: its reference, or, when the case has an open one of the kind,
    /// when that one was made (nothing changes).
    #[allow(clippy::too_many_arguments)]
    pub async fn add(
        &self,
        kind: &str,
        case_id: i64,
        case_number: &str,
        participant_id: i64,
        lang: &str,
        call_sid: &str,
        now: i64,
        extra: &Extra,
    ) -> anyhow::Result<Result<String, i64>> {
        let insert = "INSERT INTO service_requests (reference, kind, case_id, case_number, \
                      participant_id, lang, call_sid, requested_at, details, recording_sid) \
                      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING";
        let reference = new_reference();
        let added = on_both!(
            self.store,
            write | pool | {
                sqlx::query(insert)
                    .bind(&reference)
                    .bind(kind)
                    .bind(case_id)
                    .bind(case_number)
                    .bind(participant_id)
                    .bind(lang)
                    .bind(call_sid)
                    .bind(now)
                    .bind(&extra.details)
                    .bind(&extra.recording_sid)
                    .execute(pool)
                    .await
                    .context("Failed to store the request")?
                    .rows_affected()
            }
        );
        if added == 1 {
            return Ok(Ok(reference));
        }
        let since = self.open_at(case_id, kind).await?;
        // No open one: the reference itself collided (one in a hundred million); the
        // caller hears an apology and can try again.
        since
            .map(Err)
            .context("the request was not stored and none is open")
    }

    /// When the case's open request of `kind` was made, if it has one (read on the
    /// writer, so a request just stored is seen).
    /// Marks request `reference` as texted; `false` when it was already (one text a
    /// request, decided by the database so two servers agree).
    pub async fn mark_texted(&self, reference: &str, now: i64) -> anyhow::Result<bool> {
        let sql = "UPDATE service_requests SET texted_at = $2 \
                   WHERE reference = $1 AND texted_at IS NULL";
        let marked = on_both!(
            self.store,
            write
                | pool
                | sqlx::query(sql)
                    .bind(reference)
                    .bind(now)
                    .execute(pool)
                    .await
                    .context("Failed to mark a request texted")?
                    .rows_affected()
        );
        Ok(marked == 1)
    }

    /// Undoes [`Self::mark_texted`] when the text never went out.
    pub async fn unmark_texted(&self, reference: &str) -> anyhow::Result<()> {
        let sql = "UPDATE service_requests SET texted_at = NULL WHERE reference = $1";
        on_both!(
            self.store,
            write
                | pool
                | sqlx::query(sql)
                    .bind(reference)
                    .execute(pool)
                    .await
                    .context("Failed to unmark a request texted")?
                    .rows_affected()
        );
        Ok(())
    }

    pub async fn open_at(&self, case_id: i64, kind: &str) -> anyhow::Result<Option<i64>> {
        let sql = "SELECT requested_at FROM service_requests \
                   WHERE case_id = $1 AND kind = $2 AND status <> 'done'";
        Ok(on_both!(
            self.store,
            write
                | pool
                | sqlx::query_scalar(sql)
                    .bind(case_id)
                    .bind(kind)
                    .fetch_optional(pool)
                    .await
                    .context("Failed to read the open request")?
        ))
    }

    /// One request by id.
    pub async fn get(&self, id: i64) -> anyhow::Result<Option<Request>> {
        let sql = format!("SELECT {COLUMNS} FROM service_requests WHERE id = $1");
        Ok(on_both!(
            self.store,
            read | pool
                | sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(id)
                    .fetch_optional(pool)
                    .await
                    .context("Failed to read the request")?
        ))
    }

    /// The case row id of request `id`.
    pub async fn case_of(&self, id: i64) -> anyhow::Result<i64> {
        let sql = "SELECT case_id FROM service_requests WHERE id = $1";
        Ok(on_both!(
            self.store,
            read | pool
                | sqlx::query_scalar(sql)
                    .bind(id)
                    .fetch_one(pool)
                    .await
                    .context("Failed to read the request's case")?
        ))
    }

    /// Whether a request holds the recording `sid`.
    pub async fn holds_recording(&self, sid: &str) -> anyhow::Result<bool> {
        let sql = "SELECT COUNT(*) FROM service_requests WHERE recording_sid = $1";
        let n: i64 = on_both!(
            self.store,
            read | pool
                | sqlx::query_scalar(sql)
                    .bind(sid)
                    .fetch_one(pool)
                    .await
                    .context("Failed to look for the recording")?
        );
        Ok(n > 0)
    }

    /// Forgets a request's recording once the provider has deleted it.
    pub async fn forget_recording(&self, id: i64) -> anyhow::Result<()> {
        let sql = "UPDATE service_requests SET recording_sid = NULL WHERE id = $1";
        on_both!(
            self.store,
            write
                | pool
                | sqlx::query(sql)
                    .bind(id)
                    .execute(pool)
                    .await
                    .context("Failed to forget the recording")?
                    .rows_affected()
        );
        Ok(())
    }

    /// Requests not done yet, oldest first; with `all`, done ones too.
    pub async fn list(&self, all: bool) -> anyhow::Result<Vec<Request>> {
        let filter = if all { "" } else { "WHERE status <> 'done'" };
        let sql =
            format!("SELECT {COLUMNS} FROM service_requests {filter} ORDER BY requested_at, id");
        Ok(on_both!(
            self.store,
            read | pool
                | sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .fetch_all(pool)
                    .await
                    .context("Failed to list requests")?
        ))
    }
}
