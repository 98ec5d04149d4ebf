//! Callback requests: instead of waiting (or when nobody is there), a caller leaves the
//! number to call back, in their language, with their case if they verified. One open
//! request per number. Staff list, claim and complete them.

pub mod dialer;

use anyhow::Context;

use crate::domain::outbound::{Policy, Purpose, ten_digits};
use crate::session::Session;
use crate::store::Store;
pub use crate::store::callbacks::{Added, CLOSED_SQL, Callback, NewCallback};
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
    agency: Option<&str>,
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
            agency,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_show_four_digits() {
        assert_eq!(mask("+15305550123"), "***-***-0123");
    }
}
