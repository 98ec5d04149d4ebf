//! Callback requests: instead of waiting (or when nobody is there), a caller leaves the
//! number to call back, in their language, with their case if they verified. One open
//! request per number. Staff list, claim and complete them.

use anyhow::Context;

use crate::flow::engine::CallerInput;
use crate::prompts::Channel;
use crate::session::Session;
use crate::speech::Value;
use crate::store::{CallbackQueue, Sqlite, Store, on_both};

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

/// A North American number as ten digits (area code and exchange not starting with 0
/// or 1), from what the caller keyed or the provider's `From` (`+1` and ten digits).
pub fn nanp_digits(raw: &str) -> Option<String> {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    let ten = match digits.len() {
        10 => digits,
        11 if digits.starts_with('1') => digits[1..].to_string(),
        _ => return None,
    };
    let b = ten.as_bytes();
    (b[0] >= b'2' && b[3] >= b'2').then_some(ten)
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

/// `callback-use-caller`: the number the call came from, if it can be called back.
pub fn use_caller(session: &mut Session) -> &'static str {
    match session.caller.as_deref().and_then(nanp_digits) {
        Some(ten) => {
            set_number(session, ten);
            "ok"
        }
        None => "none",
    }
}

/// `callback-enter`: ten digits the caller keyed; anything else is a wrong entry.
pub fn enter(session: &mut Session, input: &CallerInput) -> &'static str {
    let keyed = input.digits.trim_end_matches('#');
    match nanp_digits(keyed).filter(|_| keyed.len() == 10) {
        Some(ten) => {
            set_number(session, ten);
            "ok"
        }
        None => "nomatch",
    }
}

/// `request-callback`: stores the request; `already-open` when that number has one.
pub async fn request(
    store: &Store,
    now: i64,
    session: &mut Session,
) -> anyhow::Result<&'static str> {
    let number = session
        .callback_number
        .clone()
        .context("request-callback ran before a number was chosen")?;
    let case = session.case.as_ref().filter(|_| session.verified);
    let created = store
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
            requested_at: now,
        })
        .await?;
    if created {
        tracing::info!(number = %mask(&number), "callback requested");
        crate::observe::count("caseline_callbacks_requested_total");
        session.callback_left = true;
        session.callback_requested = false;
        Ok("ok")
    } else {
        Ok("already-open")
    }
}

pub struct NewCallback<'a> {
    pub number: &'a str,
    pub lang: &'a str,
    pub channel: &'a str,
    pub call_sid: &'a str,
    pub case_number: Option<&'a str>,
    pub role: Option<&'a str>,
    pub requested_at: i64,
}

const COLUMNS: &str = "id, number, lang, channel, call_sid, case_number, role, status, \
                       requested_at, claimed_by, closed_at, outcome, attempts, due_at";

impl CallbackQueue<'_> {
    /// Stores a request; `false` when the number already has one open (nothing changes).
    pub async fn add(&self, c: &NewCallback<'_>) -> anyhow::Result<bool> {
        let sql = "INSERT INTO callbacks (number, lang, channel, call_sid, case_number, role, \
                   requested_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING";
        let done = on_both!(
            self.store,
            write | pool | {
                sqlx::query(sql)
                    .bind(c.number)
                    .bind(c.lang)
                    .bind(c.channel)
                    .bind(c.call_sid)
                    .bind(c.case_number)
                    .bind(c.role)
                    .bind(c.requested_at)
                    .execute(pool)
                    .await
                    .context("Failed to store the callback request")?
                    .rows_affected()
            }
        );
        Ok(done == 1)
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
    fn numbers_are_ten_nanp_digits_and_listings_show_four() {
        assert_eq!(nanp_digits("+15305550123").as_deref(), Some("5305550123"));
        assert_eq!(nanp_digits("5305550123").as_deref(), Some("5305550123"));
        for bad in [
            "",
            "+442071234567",
            "0305550123",
            "5301550123",
            "anonymous",
            "900555012",
        ] {
            assert_eq!(nanp_digits(bad), None, "{bad}");
        }
        assert_eq!(mask("+15305550123"), "***-***-0123");
    }
}
