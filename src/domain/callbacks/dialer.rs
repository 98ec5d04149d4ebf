//! The callback dialer: callers who asked to be called back are called by the server
//! itself when the unit is open and the queue is short, oldest first. Each request is
//! claimed in the database before it is dialled (on PostgreSQL two servers never dial
//! one request twice), dialled through the provider's REST API with answering-machine
//! detection, and each attempt and its result is stored and audited. A person who
//! answers hears who is calling and chooses (the `callback-callee` flow entry); a
//! machine gets a short message with no personal data; no answer, busy or failed count
//! as an attempt, retried after a gap, and the request is closed as unreached after
//! the last.

use anyhow::Context;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};

use chrono::Timelike;

use crate::clock::Clock;
use crate::config::{DialerSettings, Settings};
use crate::domain::callbacks::CLOSED_SQL;
use crate::domain::outbound::Purpose;
use crate::store::{AuditLine, CallbackQueue, Sqlite, Store, on_both};
use crate::telephony::provider::Dialing;
use crate::telephony::provider::ProviderError;

/// Seconds a callback rings before it counts as not answered.
const RING_SECS: &str = "30";

/// A dial still unfinished after this long has lost its status callback.
const STALE_DIAL_SECS: i64 = 10 * 60;

/// What one tick did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tick {
    /// No `CASELINE_CALLBACK_FROM`, or no provider account.
    Off,
    Paused,
    /// The unit is closed, or it is outside the hours a callback may ring.
    Closed,
    /// Too many callers are waiting.
    QueueLong,
    /// Nothing due.
    Nothing,
    /// Request `id` was dialled.
    Dialled(i64),
    /// The provider did not take the call; the request stays due for the next tick.
    Retry(i64),
    /// The provider refused the number; the request is closed as failed.
    Refused(i64),
}

/// How long what the queue's wait webhook said about the queue stays true: each waiting
/// caller's wait is asked about every minute or so.
const QUEUE_NEWS_SECS: i64 = 90;
/// Callers waiting in the queue, as the last wait webhook said.
#[derive(Debug, Default)]
pub struct Waiting {
    size: AtomicU32,
    at: AtomicI64,
}

impl Waiting {
    /// The queue's size (`CurrentQueueSize`) at `now`.
    pub fn saw(&self, size: u32, now: i64) {
        self.size.store(size, Ordering::Release);
        self.at.store(now, Ordering::Release);
        crate::ops::metrics::gauge("caseline_callers_waiting", f64::from(size));
    }

    /// Callers waiting now: none once no wait webhook has come for a while.
    pub fn now(&self, now: i64) -> u32 {
        if now - self.at.load(Ordering::Acquire) > QUEUE_NEWS_SECS {
            0
        } else {
            self.size.load(Ordering::Acquire)
        }
    }
}

/// A request claimed for dialling.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Claimed {
    id: i64,
    number: String,
}

/// What the dialer is handed: the queue, its settings, the clock, the policy, what the
/// queue's wait webhooks said, and the one provider handle that places calls.
pub struct Dialer<'a> {
    pub store: &'a Store,
    pub settings: &'a Settings,
    pub clock: &'a dyn Clock,
    pub outbound: &'a crate::domain::outbound::Policy,
    pub waiting: &'a Waiting,
    pub dialing: Dialing,
}

impl Dialer<'_> {
    fn now(&self) -> i64 {
        self.clock.now().timestamp()
    }
}

/// One round of the dialer: at most one call placed.
pub async fn tick(s: &Dialer<'_>) -> anyhow::Result<Tick> {
    let d = &s.settings.dialer;
    let Some(from) = d.from.as_deref() else {
        return Ok(Tick::Off);
    };
    if s.settings.twilio_account_sid.is_none() {
        return Ok(Tick::Off);
    }
    let now = s.clock.now();
    // A dial whose end never came (a lost status callback, a server that stopped
    // mid-dial) counts as an attempt that reached no one, whatever else holds calls.
    for id in s
        .store
        .callback_queue()
        .stale_dialling(now.timestamp() - STALE_DIAL_SECS)
        .await?
    {
        tracing::warn!(request = id, "a callback's dial never reported its end");
        not_reached(
            s.store,
            &s.settings.dialer,
            now.timestamp(),
            id,
            None,
            "lost",
        )
        .await?;
    }
    // Requests left open with every attempt spent (by a release before "later" was
    // counted) are closed, never dialled again.
    s.store
        .callback_queue()
        .close_spent(s.settings.dialer.attempts, now.timestamp())
        .await?;
    if s.store.callback_queue().paused().await? {
        return Ok(Tick::Paused);
    }
    let local_hour = now.with_timezone(&s.settings.hours.tz).hour();
    if !s.settings.hours.is_open(now) || local_hour < d.ring_hours.0 || local_hour >= d.ring_hours.1
    {
        return Ok(Tick::Closed);
    }
    if s.waiting.now(now.timestamp()) > d.max_waiting {
        return Ok(Tick::QueueLong);
    }
    let Some(claimed) = s
        .store
        .callback_queue()
        .claim_due(now.timestamp(), None, d.attempts)
        .await?
    else {
        return Ok(Tick::Nothing);
    };
    dial(s, from, claimed).await
}

/// Dials request `id` now, whatever the hours and the queue (a staff member's choice);
/// `None` when it is not open.
pub async fn dial_now(s: &Dialer<'_>, id: i64) -> anyhow::Result<Option<Tick>> {
    let Some(from) = s.settings.dialer.from.as_deref() else {
        return Ok(Some(Tick::Off));
    };
    if s.store.callback_queue().paused().await? {
        return Ok(Some(Tick::Paused));
    }
    // Out of hours and the queue do not hold a staff member back, but nobody is rung
    // at night.
    let (start, end) = s.settings.dialer.ring_hours;
    let hour = s.clock.now().with_timezone(&s.settings.hours.tz).hour();
    if hour < start || hour >= end {
        return Ok(Some(Tick::Closed));
    }
    let now = s.now();
    let most = s.settings.dialer.attempts;
    match s
        .store
        .callback_queue()
        .claim_due(now, Some(id), most)
        .await?
    {
        Some(claimed) => dial(s, from, claimed).await.map(Some),
        None => Ok(None),
    }
}

async fn dial(s: &Dialer<'_>, from: &str, c: Claimed) -> anyhow::Result<Tick> {
    let now = s.now();
    let queue = s.store.callback_queue();
    // Checked again where it is dialled: a request stored before the policy (or before
    // a narrower setting) never rings a number the policy refuses.
    if let Err(refusal) = s.outbound.check(&c.number, Purpose::Callback, None) {
        tracing::warn!(
            request = c.id,
            reason = refusal.label(),
            "a callback's number is not one the agency calls"
        );
        crate::ops::metrics::count_refused_number("callback", refusal.label());
        queue.attempt(c.id, now, None, "refused by policy").await?;
        queue.close(c.id, "failed", now).await?;
        audit(
            s.store,
            now,
            None,
            "callback.dial",
            "refused by policy",
            c.id,
        )
        .await?;
        return Ok(Tick::Refused(c.id));
    }
    let base = &s.settings.public_url;
    let url = format!("{base}/voice/callback/answer?request={}", c.id);
    let status = format!("{base}/voice/callback/status?request={}", c.id);
    let form = [
        ("To", c.number.as_str()),
        ("From", from),
        ("Url", url.as_str()),
        ("Method", "POST"),
        ("StatusCallback", status.as_str()),
        ("StatusCallbackMethod", "POST"),
        ("StatusCallbackEvent", "completed"),
        // Wait for a voicemail's beep, so the message is left whole.
        ("MachineDetection", "DetectMessageEnd"),
        ("Timeout", RING_SECS),
    ];
    match s.dialing.place(&form).await {
        Ok(call_sid) => {
            queue.dialled(c.id, &call_sid).await?;
            queue.attempt(c.id, now, Some(&call_sid), "dialled").await?;
            audit(
                s.store,
                now,
                Some(&call_sid),
                "callback.dial",
                "dialled",
                c.id,
            )
            .await?;
            crate::ops::metrics::count("caseline_callbacks_dialled_total");
            Ok(Tick::Dialled(c.id))
        }
        Err(e @ ProviderError::NumberRefused(_)) => {
            tracing::warn!(request = c.id, error = %e, "the provider refused a callback's number");
            queue.attempt(c.id, now, None, "refused").await?;
            queue.close(c.id, "failed", now).await?;
            audit(s.store, now, None, "callback.dial", "refused", c.id).await?;
            Ok(Tick::Refused(c.id))
        }
        Err(e) => {
            // Not the number's fault (our credentials, the provider's trouble): the
            // request goes back as it was, for the next tick.
            tracing::warn!(request = c.id, error = %e, "a callback was not placed; retrying next tick");
            queue.unclaim(c.id).await?;
            Ok(Tick::Retry(c.id))
        }
    }
}

async fn audit(
    store: &Store,
    now: i64,
    call_sid: Option<&str>,
    event: &str,
    outcome: &str,
    id: i64,
) -> anyhow::Result<()> {
    store
        .audit_log()
        .write(AuditLine::in_call(
            now,
            call_sid,
            event,
            &format!("{outcome} #{id}"),
        ))
        .await
}

/// An attempt that reached no one (no answer, busy, failed, a machine, a person who
/// chose nothing): counted; due again after the gap, or closed as unreached after the
/// last attempt. Only a request still being dialled is changed.
pub async fn not_reached(
    store: &Store,
    d: &DialerSettings,
    now: i64,
    id: i64,
    call_sid: Option<&str>,
    result: &str,
) -> anyhow::Result<()> {
    let queue = store.callback_queue();
    let Some((status, attempts)) = queue.state(id).await? else {
        return Ok(());
    };
    // Only the dial under way, and only for its own call (a late report from an
    // earlier call changes nothing).
    if status != "dialling" || !queue.is_dial(id, call_sid).await? {
        return Ok(());
    }
    queue.attempt(id, now, call_sid, result).await?;
    if attempts >= d.attempts {
        queue.close(id, "unreached", now).await?;
        audit(
            store,
            now,
            call_sid,
            "callback.attempt",
            &format!("{result}, unreached"),
            id,
        )
        .await
    } else {
        queue.reopen(id, now + d.retry_secs).await?;
        audit(store, now, call_sid, "callback.attempt", result, id).await
    }
}

/// The callee chose: `connected` (1), `later` (2: due again after the gap, unless that
/// was the last attempt: then closed as unreached, declined by the callee), or
/// `cancelled` (3). Audited. Every dial was counted when it was claimed, so "later" and
/// silence never ring a request more than the configured attempts in all.
pub async fn chosen(
    store: &Store,
    d: &DialerSettings,
    now: i64,
    id: i64,
    call_sid: &str,
    choice: &str,
) -> anyhow::Result<()> {
    let queue = store.callback_queue();
    let Some((status, attempts)) = queue.state(id).await? else {
        return Ok(());
    };
    if status != "dialling" || !queue.is_dial(id, Some(call_sid)).await? {
        tracing::info!(
            request = id,
            "a callback choice for a request no longer dialling"
        );
        return Ok(());
    }
    queue.attempt(id, now, Some(call_sid), choice).await?;
    let event = match choice {
        "connected" => {
            queue.set_status(id, "connected").await?;
            choice
        }
        "later" if attempts >= d.attempts => {
            queue
                .close_as(id, "unreached", "declined by the callee", now)
                .await?;
            "later, declined"
        }
        "later" => {
            queue.reopen(id, now + d.retry_secs).await?;
            choice
        }
        _ => {
            queue.close(id, "cancelled", now).await?;
            choice
        }
    };
    audit(store, now, Some(call_sid), "callback.answer", event, id).await
}

impl CallbackQueue<'_> {
    /// Whether the dialer is paused (every server reads the same switch).
    pub async fn paused(&self) -> anyhow::Result<bool> {
        let sql = "SELECT paused FROM dialer_state WHERE id = 1";
        let paused: Option<i64> = on_both!(
            self.store,
            read | pool
                | sqlx::query_scalar(sql)
                    .fetch_optional(pool)
                    .await
                    .context("Failed to read the dialer's state")?
        );
        Ok(paused.unwrap_or(0) != 0)
    }

    pub async fn set_paused(&self, paused: bool) -> anyhow::Result<()> {
        let sql = "UPDATE dialer_state SET paused = $1 WHERE id = 1";
        on_both!(
            self.store,
            write
                | pool
                | sqlx::query(sql)
                    .bind(i64::from(paused))
                    .execute(pool)
                    .await
                    .context("Failed to pause or resume the dialer")?
                    .rows_affected()
        );
        Ok(())
    }

    /// Claims the oldest open request that is due (or request `only`) with attempts
    /// left (fewer than `most`): `dialling`, one more attempt. A request two servers
    /// reach at once goes to one of them.
    async fn claim_due(
        &self,
        now: i64,
        only: Option<i64>,
        most: i64,
    ) -> anyhow::Result<Option<Claimed>> {
        let pick = match only {
            Some(_) => {
                "SELECT id FROM callbacks WHERE id = $2 AND status = 'open' AND attempts < $3"
            }
            None => {
                "SELECT id FROM callbacks WHERE status = 'open' AND attempts < $3 \
                 AND (due_at IS NULL OR due_at <= $1) ORDER BY requested_at, id LIMIT 1"
            }
        };
        let lock = match self.store {
            Store::Postgres(_) => " FOR UPDATE SKIP LOCKED",
            Store::Sqlite(_) => "",
        };
        let sql = format!(
            "UPDATE callbacks SET status = 'dialling', attempts = attempts + 1, due_at = NULL, \
             dialled_at = $1, dial_sid = NULL \
             WHERE id = ({pick}{lock}) AND status = 'open' RETURNING id, number"
        );
        Ok(on_both!(
            self.store,
            write
                | pool
                | sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(now)
                    .bind(only.unwrap_or(0))
                    .bind(most)
                    .fetch_optional(pool)
                    .await
                    .context("Failed to claim a callback")?
        ))
    }

    /// Closes as unreached the open requests with `most` attempts or more spent.
    async fn close_spent(&self, most: i64, now: i64) -> anyhow::Result<()> {
        let sql = "UPDATE callbacks SET status = 'unreached', closed_at = $2, \
                   outcome = COALESCE(outcome, 'every attempt spent') \
                   WHERE status = 'open' AND attempts >= $1";
        on_both!(
            self.store,
            write
                | pool
                | sqlx::query(sql)
                    .bind(most)
                    .bind(now)
                    .execute(pool)
                    .await
                    .context("Failed to close spent callbacks")?
                    .rows_affected()
        );
        Ok(())
    }

    /// Gives a claimed request back as it was (the dial never went out).
    async fn unclaim(&self, id: i64) -> anyhow::Result<()> {
        self.exec(
            "UPDATE callbacks SET status = 'open', attempts = attempts - 1 \
             WHERE id = $1 AND status = 'dialling'",
            id,
        )
        .await
    }

    async fn reopen(&self, id: i64, due_at: i64) -> anyhow::Result<()> {
        let sql = "UPDATE callbacks SET status = 'open', due_at = $2 WHERE id = $1 AND status = 'dialling'";
        on_both!(
            self.store,
            write
                | pool
                | sqlx::query(sql)
                    .bind(id)
                    .bind(due_at)
                    .execute(pool)
                    .await
                    .context("Failed to reopen a callback")?
                    .rows_affected()
        );
        Ok(())
    }

    async fn set_status(&self, id: i64, status: &str) -> anyhow::Result<()> {
        let sql = "UPDATE callbacks SET status = $2 WHERE id = $1 AND status = 'dialling'";
        on_both!(
            self.store,
            write
                | pool
                | sqlx::query(sql)
                    .bind(id)
                    .bind(status)
                    .execute(pool)
                    .await
                    .context("Failed to update a callback")?
                    .rows_affected()
        );
        Ok(())
    }

    /// Closes a request that is not closed yet.
    pub async fn close(&self, id: i64, status: &str, now: i64) -> anyhow::Result<()> {
        self.close_as(id, status, status, now).await
    }

    /// Closes a request that is not closed yet, saying how (`outcome`, unless staff
    /// already wrote one).
    pub async fn close_as(
        &self,
        id: i64,
        status: &str,
        outcome: &str,
        now: i64,
    ) -> anyhow::Result<()> {
        let sql = format!(
            "UPDATE callbacks SET status = $2, closed_at = $3, outcome = COALESCE(outcome, $4) \
             WHERE id = $1 AND status NOT IN {CLOSED_SQL}"
        );
        on_both!(
            self.store,
            write
                | pool
                | sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(id)
                    .bind(status)
                    .bind(now)
                    .bind(outcome)
                    .execute(pool)
                    .await
                    .context("Failed to close a callback")?
                    .rows_affected()
        );
        Ok(())
    }

    async fn exec(&self, sql: &'static str, id: i64) -> anyhow::Result<()> {
        on_both!(
            self.store,
            write
                | pool
                | sqlx::query(sql)
                    .bind(id)
                    .execute(pool)
                    .await
                    .context("Failed to update a callback")?
                    .rows_affected()
        );
        Ok(())
    }

    /// The provider's CallSid of the dial under way.
    async fn dialled(&self, id: i64, call_sid: &str) -> anyhow::Result<()> {
        let sql = "UPDATE callbacks SET dial_sid = $2 WHERE id = $1 AND status = 'dialling'";
        on_both!(
            self.store,
            write
                | pool
                | sqlx::query(sql)
                    .bind(id)
                    .bind(call_sid)
                    .execute(pool)
                    .await
                    .context("Failed to record a callback's call")?
                    .rows_affected()
        );
        Ok(())
    }

    /// Whether `call_sid` is the dial under way for request `id` (`None`, the dialer's
    /// own sweep, always is; a dial whose CallSid is not known yet matches any).
    async fn is_dial(&self, id: i64, call_sid: Option<&str>) -> anyhow::Result<bool> {
        let Some(call_sid) = call_sid else {
            return Ok(true);
        };
        let sql = "SELECT dial_sid FROM callbacks WHERE id = $1";
        let sid: Option<Option<String>> = on_both!(
            self.store,
            read | pool
                | sqlx::query_scalar(sql)
                    .bind(id)
                    .fetch_optional(pool)
                    .await
                    .context("Failed to read a callback's call")?
        );
        Ok(match sid.flatten() {
            Some(dial) => dial == call_sid,
            None => true,
        })
    }

    /// Requests still dialling since before `before` (by when they were claimed).
    async fn stale_dialling(&self, before: i64) -> anyhow::Result<Vec<i64>> {
        let sql =
            "SELECT id FROM callbacks WHERE status = 'dialling' AND COALESCE(dialled_at, 0) < $1";
        Ok(on_both!(
            self.store,
            read | pool
                | sqlx::query_scalar(sql)
                    .bind(before)
                    .fetch_all(pool)
                    .await
                    .context("Failed to look for lost dials")?
        ))
    }

    /// A request's status and attempts so far.
    pub async fn state(&self, id: i64) -> anyhow::Result<Option<(String, i64)>> {
        let sql = "SELECT status, attempts FROM callbacks WHERE id = $1";
        Ok(on_both!(
            self.store,
            read | pool
                | sqlx::query_as(sql)
                    .bind(id)
                    .fetch_optional(pool)
                    .await
                    .context("Failed to read a callback")?
        ))
    }

    /// Records one attempt and its result.
    async fn attempt(
        &self,
        id: i64,
        now: i64,
        call_sid: Option<&str>,
        result: &str,
    ) -> anyhow::Result<()> {
        let sql = "INSERT INTO callback_attempts (callback_id, at, call_sid, result) \
                   VALUES ($1, $2, $3, $4)";
        on_both!(
            self.store,
            write
                | pool
                | sqlx::query(sql)
                    .bind(id)
                    .bind(now)
                    .bind(call_sid)
                    .bind(result)
                    .execute(pool)
                    .await
                    .context("Failed to record a callback attempt")?
                    .rows_affected()
        );
        Ok(())
    }

    /// Each attempt's time and result, oldest first.
    pub async fn attempts(&self, id: i64) -> anyhow::Result<Vec<(i64, String)>> {
        let sql = "SELECT at, result FROM callback_attempts WHERE callback_id = $1 ORDER BY at, id";
        Ok(on_both!(
            self.store,
            read | pool
                | sqlx::query_as(sql)
                    .bind(id)
                    .fetch_all(pool)
                    .await
                    .context("Failed to read callback attempts")?
        ))
    }
}
