//! The callback dialer: callers who asked to be called back are called by the server
//! itself when the unit is open and the queue is short, oldest first. Each request is
//! claimed in the database before it is dialled (on PostgreSQL two servers never dial
//! one request twice), dialled through the provider's REST API with answering-machine
//! detection, and each attempt and its result is stored and audited. A person who
//! answers hears who is calling and chooses (the `callback-callee` flow entry); a
//! machine gets a short message with no personal data; no answer, busy or failed count
//! as an attempt, retried after a gap, and the request is closed as unreached after
//! the last.

use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};

use chrono::Timelike;

use crate::clock::Clock;
use crate::config::{DialerSettings, Settings};
use crate::domain::outbound::Purpose;
use crate::store::callbacks::Claimed;
use crate::store::{AuditLine, Store};
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
