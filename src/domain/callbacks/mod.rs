//! Callback requests: instead of waiting (or when nobody is there), a caller leaves the
//! number to call back, in their language, with their case if they verified. One open
//! request per number. Staff list, claim and complete them.

pub mod dialer;

use anyhow::Context;

use crate::domain::outbound::{Policy, Purpose, ten_digits};
use crate::session::Session;
use crate::store::{CallbackQueue, Sqlite, Store, on_both};
use crate::telephony::input::CallerInput;
use crate::words::prompts::Channel;
use crate::words::speech::Value;

/// Where a request stands: waiting (`open`), taken by a staff member (`claimed`), being
/// dialled, put through to the queue (`connected`), or closed: `done`, `unreached`
/// (every attempt failed), `cancelled` (by the caller or staff), `failed` (the
/// provider refused the number).
pub const STATUSES: &[&str] = &[
    "open",
    "claimed",
    "dialling",
    "connected",
    "done",
    "unreached",
    "cancelled",
    "failed",
];

/// The statuses that close a request (SQL list).
pub const CLOSED_SQL: &str = "('done', 'unreached', 'cancelled', 'failed')";

/// A stored request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct Callback {
    pub id: i64,
    /// E.164. Shown whole only to staff who work the request; listings mask it.
    pub number: String,
    pub lang: String,
    pub channel: String,
    pub call_sid: String,
    pub case_number: Option<String>,
    pub role: Option<String>,
    pub status: String,
    pub requested_at: i64,
    pub claimed_by: Option<String>,
    pub closed_at: Option<i64>,
    pub outcome: Option<String>,
    /// Dials placed so far, and when the next may be.
    pub attempts: i64,
    pub due_at: Option<i64>,
}

impl Callback {
    /// The number with all but its last four digits hidden: `***-***-1234`.
    pub fn masked_number(&self) -> String {
        mask(&self.number)
    }
}

/// One line of `caseline callbacks list`: id, masked number, when (agency time),
/// language, channel, status, and the case when the caller verified.
pub fn listing_line(c: &Callback, tz: chrono_tz::Tz) -> String {
    let when = chrono::DateTime::from_timestamp(c.requested_at, 0)
        .map(|d| d.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string())
        .unwrap_or_default();
    let case = match (&c.case_number, &c.role) {
        (Some(n), Some(r)) => format!("case {n} ({r})"),
        (Some(n), None) => format!("case {n}"),
        _ => "not verified".to_string(),
    };
    let mut status = match &c.claimed_by {
        Some(who) if c.status == "claimed" => format!("claimed by {who}"),
        _ => c.status.clone(),
    };
    if c.attempts > 0 {
        status = format!("{status}, {} dialled", c.attempts);
    }
    format!(
        "#{:<5} {}  {}  {}  {:<5}  {:<18}  {}",
        c.id,
        c.masked_number(),
        when,
        c.lang,
        c.channel,
        status,
        case
    )
}

pub fn mask(number: &str) -> String {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    let last4 = &digits[digits.len().saturating_sub(4)..];
    format!("***-***-{last4}")
}

fn set_number(session: &mut Session, ten: String) {
    session.values.insert(
        "callback_ending".into(),
        Value::Digits(ten[6..].to_string()),
    );
    session
        .values
        .insert("callback_number".into(), Value::Phone(ten.clone()));
    session.callback_number = Some(format!("+1{ten}"));
}

/// Whether a callback may be offered at all: a caller who verified (they may key a
/// number), or whose calling number the agency may call back. Anyone else could have
/// the agency ring a stranger's number, or would be offered what they cannot have.
pub fn may_offer(session: &Session, policy: &Policy) -> bool {
    session.verified || callable_caller(session, policy).is_some()
}

/// The calling number's ten digits, if the policy lets the agency call it back.
fn callable_caller(session: &Session, policy: &Policy) -> Option<String> {
    let caller = session.caller.as_deref()?;
    policy
        .check(caller, Purpose::Callback, session.dialled.as_deref())
        .ok()?;
    ten_digits(caller)
}

/// `callback-use-caller`: the number the call came from, if the policy lets the agency
/// call it back (`ok`); `refused` when it does not (the caller is told, and may key
/// another); `none` when no number shows but the caller verified (they key one);
/// `withheld` when the caller has neither verified nor shown a number. Such a caller
/// gets no callback: a number keyed by someone nobody can trace would let anyone have
/// the agency ring a stranger, so they are offered the menus and a person instead.
pub fn use_caller(session: &mut Session, policy: &Policy) -> &'static str {
    match callable_caller(session, policy) {
        Some(ten) => {
            set_number(session, ten);
            "ok"
        }
        None if session.caller.is_some() => "refused",
        None if session.verified => "none",
        None => "withheld",
    }
}

/// `callback-enter`: ten digits the caller keyed: `ok`; `refused` for a number the
/// agency does not call (see [`crate::domain::outbound`]); anything else is a wrong entry.
pub fn enter(session: &mut Session, input: &CallerInput, policy: &Policy) -> &'static str {
    let keyed = input.digits.trim_end_matches('#');
    let Some(ten) = ten_digits(keyed).filter(|_| keyed.len() == 10) else {
        return crate::telephony::input::NO_MATCH;
    };
    match policy.check(&ten, Purpose::Callback, session.dialled.as_deref()) {
        Ok(()) => {
            set_number(session, ten);
            "ok"
        }
        Err(refusal) => {
            crate::ops::metrics::count_refused_number("callback", refusal.label());
            "refused"
        }
    }
}

/// `request-callback`: stores the request: `ok`; `already-open` when that number has
/// one waiting; `limit` when this call already left one for another number or the
/// number was asked for [`crate::domain::outbound::CALLBACKS_PER_NUMBER_A_DAY`] times today; `refused` when the
/// policy no longer lets the agency call it.
pub async fn request(
    store: &Store,
    policy: &Policy,
    now: chrono::DateTime<chrono::Utc>,
    tz: chrono_tz::Tz,
    session: &mut Session,
) -> anyhow::Result<&'static str> {
    let number = session
        .callback_number
        .clone()
        .context("request-callback ran before a number was chosen")?;
    if let Err(refusal) = policy.check(&number, Purpose::Callback, session.dialled.as_deref()) {
        crate::ops::metrics::count_refused_number("callback", refusal.label());
        return Ok("refused");
    }
    let case = session.case.as_ref().filter(|_| session.verified);
    let added = store
        .callback_queue()
        .add(&NewCallback {
            number: &number,
            lang: session.lang.map_or("en", |l| l.code()),
            channel: match session.channel {
                Channel::Voice => "voice",
                Channel::Tty => "tty",
            },
            call_sid: session.call_sid.as_str(),
            case_number: case.map(|c| c.case_number.as_str()),
            role: case.map(|c| c.role.as_str()),
            requested_at: now.timestamp(),
            day: agency_day(now, tz),
        })
        .await?;
    Ok(match added {
        Added::Created => {
            tracing::info!(number = %mask(&number), "callback requested");
            crate::ops::metrics::count("caseline_callbacks_requested_total");
            session.callback_left = true;
            session.callback_requested = false;
            "ok"
        }
        Added::AlreadyOpen => "already-open",
        Added::Limit => {
            tracing::info!(number = %mask(&number), "a callback request over the limits");
            crate::ops::metrics::count_refused_number("callback", "limit");
            "limit"
        }
    })
}

/// The agency's day `now` falls in, as days of the common era: the per-number limit
/// starts afresh at local midnight.
fn agency_day(now: chrono::DateTime<chrono::Utc>, tz: chrono_tz::Tz) -> i64 {
    use chrono::Datelike;
    i64::from(now.with_timezone(&tz).date_naive().num_days_from_ce())
}

pub struct NewCallback<'a> {
    pub number: &'a str,
    pub lang: &'a str,
    pub channel: &'a str,
    pub call_sid: &'a str,
    pub case_number: Option<&'a str>,
    pub role: Option<&'a str>,
    pub requested_at: i64,
    /// The agency day it is asked for on (see [`agency_day`]), for the daily limit.
    pub day: i64,
}

/// What [`CallbackQueue::add`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    Created,
    /// The number has a request waiting, or this call left one for it.
    AlreadyOpen,
    /// This call left one for another number, or the number reached its daily limit.
    Limit,
}

const COLUMNS: &str = "id, number, lang, channel, call_sid, case_number, role, status, \
                       requested_at, claimed_by, closed_at, outcome, attempts, due_at";

impl CallbackQueue<'_> {
    /// Stores a request unless a limit stands in the way, in one transaction, so two
    /// servers (or two deliveries of one webhook) agree: one open request a call, one
    /// open request a number, at most [`crate::domain::outbound::CALLBACKS_PER_NUMBER_A_DAY`] requests a number
    /// a day (counted only for requests stored).
    pub async fn add(&self, c: &NewCallback<'_>) -> anyhow::Result<Added> {
        let open_for_call = format!(
            "SELECT number FROM callbacks WHERE call_sid = $1 AND status NOT IN {CLOSED_SQL} LIMIT 1"
        );
        let open_for_number = format!(
            "SELECT id FROM callbacks WHERE number = $1 AND status NOT IN {CLOSED_SQL} LIMIT 1"
        );
        let count = "INSERT INTO callback_quota (number, day, requests) VALUES ($1, $2, 1) \
                     ON CONFLICT (number, day) DO UPDATE SET requests = callback_quota.requests + 1 \
                     WHERE callback_quota.requests < $3 RETURNING requests";
        let insert = "INSERT INTO callbacks (number, lang, channel, call_sid, case_number, role, \
                      requested_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING";
        // SQLite takes the write lock at once: the session writer may commit between a
        // read and a write of a deferred transaction, which SQLite answers with BUSY.
        let begin = match self.store {
            Store::Sqlite(_) => "BEGIN IMMEDIATE",
            Store::Postgres(_) => "BEGIN",
        };
        Ok(on_both!(
            self.store,
            write | pool | {
                let mut tx = pool
                    .begin_with(begin)
                    .await
                    .context("Failed to start storing a callback request")?;
                let for_call: Option<String> =
                    sqlx::query_scalar(sqlx::AssertSqlSafe(open_for_call))
                        .bind(c.call_sid)
                        .fetch_optional(&mut *tx)
                        .await
                        .context("Failed to read the call's callback request")?;
                let for_number: Option<i64> =
                    sqlx::query_scalar(sqlx::AssertSqlSafe(open_for_number))
                        .bind(c.number)
                        .fetch_optional(&mut *tx)
                        .await
                        .context("Failed to read the number's callback request")?;
                match (for_call, for_number) {
                    (Some(n), _) if n != c.number => Added::Limit,
                    (Some(_), _) | (None, Some(_)) => Added::AlreadyOpen,
                    (None, None) => {
                        let counted: Option<i64> = sqlx::query_scalar(count)
                            .bind(c.number)
                            .bind(c.day)
                            .bind(crate::domain::outbound::CALLBACKS_PER_NUMBER_A_DAY)
                            .fetch_optional(&mut *tx)
                            .await
                            .context("Failed to count the number's callback requests")?;
                        if counted.is_none() {
                            Added::Limit
                        } else {
                            let stored = sqlx::query(insert)
                                .bind(c.number)
                                .bind(c.lang)
                                .bind(c.channel)
                                .bind(c.call_sid)
                                .bind(c.case_number)
                                .bind(c.role)
                                .bind(c.requested_at)
                                .execute(&mut *tx)
                                .await
                                .context("Failed to store the callback request")?
                                .rows_affected();
                            if stored == 1 {
                                tx.commit()
                                    .await
                                    .context("Failed to store the callback request")?;
                                Added::Created
                            } else {
                                // Another server stored one for this number or call
                                // first; the count is rolled back with this one.
                                Added::AlreadyOpen
                            }
                        }
                    }
                }
            }
        ))
    }

    /// Requests not closed yet, oldest first; with `all`, closed ones too.
    pub async fn list(&self, all: bool) -> anyhow::Result<Vec<Callback>> {
        let filter = if all {
            String::new()
        } else {
            format!("WHERE status NOT IN {CLOSED_SQL}")
        };
        let sql = format!("SELECT {COLUMNS} FROM callbacks {filter} ORDER BY requested_at, id");
        Ok(on_both!(
            self.store,
            read | pool
                | sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .fetch_all(pool)
                    .await
                    .context("Failed to list callbacks")?
        ))
    }

    /// One request by id.
    pub async fn get(&self, id: i64) -> anyhow::Result<Option<Callback>> {
        let sql = format!("SELECT {COLUMNS} FROM callbacks WHERE id = $1");
        Ok(on_both!(
            self.store,
            read | pool
                | sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(id)
                    .fetch_optional(pool)
                    .await
                    .context("Failed to read a callback")?
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_show_four_digits() {
        assert_eq!(mask("+15305550123"), "***-***-0123");
    }
}
