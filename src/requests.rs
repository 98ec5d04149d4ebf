//! Self-service requests by phone: a verified caller asks for something by mail (a
//! payment history for this year or last, the direct-deposit or debit-card enrollment
//! form) without waiting for a person. Each is a work item for staff, with the case, the
//! kind, the caller's language and a reference number read back to the caller; one open
//! request of a kind per case. Staff list, claim and complete them like callbacks.

use anyhow::Context;

use crate::session::Session;
use crate::speech::Value;
use crate::store::{AuditLine, RequestQueue, Sqlite, Store, on_both};

/// The kinds a caller can ask for, as the flow names them (`<Action name="request-mail"
/// value="...">`) and as staff see them.
pub const KINDS: &[&str] = &["history-this-year", "history-last-year", "deposit-form"];

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
}

const COLUMNS: &str =
    "id, reference, kind, case_number, lang, status, requested_at, claimed_by, closed_at, outcome";

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
    session: &mut Session,
) -> anyhow::Result<&'static str> {
    if !KINDS.contains(&kind) {
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
        )
        .await?
    {
        Ok(reference) => {
            session
                .values
                .insert("reference".into(), Value::Digits(reference));
            "ok"
        }
        Err(requested_at) => {
            let day = chrono::DateTime::from_timestamp(requested_at, 0)
                .map(|d| d.with_timezone(&tz).date_naive())
                .context("a request time out of range")?;
            session
                .values
                .insert("requested_on".into(), Value::Date(day));
            "already-open"
        }
    };
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

/// One line of `caseline requests list`.
pub fn listing_line(r: &Request, tz: chrono_tz::Tz) -> String {
    let when = chrono::DateTime::from_timestamp(r.requested_at, 0)
        .map(|d| d.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string())
        .unwrap_or_default();
    let status = match &r.claimed_by {
        Some(who) if r.status == "claimed" => format!("claimed by {who}"),
        _ => r.status.clone(),
    };
    format!(
        "#{:<5} ref {}  {}  {:<18}  case {}  {}  {}",
        r.id, r.reference, when, r.kind, r.case_number, r.lang, status
    )
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
    ) -> anyhow::Result<Result<String, i64>> {
        let insert = "INSERT INTO service_requests (reference, kind, case_id, case_number, \
                      participant_id, lang, call_sid, requested_at) \
                      VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING";
        let open = "SELECT requested_at FROM service_requests \
                    WHERE case_id = $1 AND kind = $2 AND status <> 'done'";
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
                    .execute(pool)
                    .await
                    .context("Failed to store the request")?
                    .rows_affected()
            }
        );
        if added == 1 {
            return Ok(Ok(reference));
        }
        let since: Option<i64> = on_both!(
            self.store,
            write
                | pool
                | sqlx::query_scalar(open)
                    .bind(case_id)
                    .bind(kind)
                    .fetch_optional(pool)
                    .await
                    .context("Failed to read the open request")?
        );
        // No open one: the reference itself collided (one in a hundred million); the
        // caller hears an apology and can try again.
        since
            .map(Err)
            .context("the request was not stored and none is open")
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
