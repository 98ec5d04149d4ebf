//! The callback dialer: callers who asked to be called back are called by the server
//! itself when the unit is open and the queue is short, oldest first. With local
//! agencies (`CASELINE_AGENCIES_FILE`) each request follows its own agency: dialled
//! while that agency is open and its own queue is short, from its caller ID
//! (`callback_from`) when it has one; an agency without a line of its own yet follows
//! the unit, so one agency closed or busy never holds back another's. Each request is
//! claimed in the database before it is dialled (on PostgreSQL two servers never dial
//! one request twice), dialled through the provider's REST API with answering-machine
//! detection, and each attempt and its result is stored and audited. A person who
//! answers hears who is calling and chooses (the `callback-callee` flow entry); a
//! machine gets a short message with no personal data; no answer, busy or failed count
//! as an attempt, retried after a gap, and the request is closed as unreached after
//! the last.

use chrono::Timelike;

use crate::clock::Clock;
use crate::config::{DialerSettings, Settings};
use crate::domain::agencies::Agencies;
use crate::domain::outbound::Purpose;
use crate::store::callbacks::{Claimed, Due, Pick};
use crate::store::{AuditLine, Store};
use crate::telephony::provider::Dialing;
use crate::telephony::provider::ProviderError;

/// Seconds a callback rings before it counts as not answered.
const RING_SECS: &str = "30";

/// A request whose dial the provider did not take is due again after this long.
const RETRY_SECS: i64 = 60;

/// A dial still unfinished after this long has lost its status callback.
const STALE_DIAL_SECS: i64 = 10 * 60;

/// What one tick did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tick {
    /// No `CASELINE_CALLBACK_FROM`, or no provider account.
    Off,
    Paused,
    /// The unit and every local agency are closed, or it is outside the hours a
    /// callback may ring.
    Closed,
    /// Too many callers are waiting, in every queue whose unit or agency is open.
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

/// The most agencies' queues kept apart: the file has one per agency (48 in
/// California); past this, news of a new queue name is not kept.
const MAX_QUEUES: usize = 500;

/// What one wait webhook said of one queue.
#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    size: u32,
    at: i64,
}

impl Seen {
    fn now(self, now: i64) -> u32 {
        if now - self.at > QUEUE_NEWS_SECS {
            0
        } else {
            self.size
        }
    }
}

/// Callers waiting in each queue, as the last wait webhook of that queue said: the
/// statewide unit's (`None`: a wait URL that names no queue) and each local agency's
/// own (its wait URL says `?queue=NAME`), so one agency's long queue holds back only
/// its own callbacks.
#[derive(Debug, Default)]
pub struct Waiting {
    statewide: std::sync::Mutex<Seen>,
    queues: std::sync::Mutex<std::collections::HashMap<String, Seen>>,
}

impl Waiting {
    /// The size (`CurrentQueueSize`) of `queue` (`None`: the statewide unit's) at `now`.
    pub fn saw(&self, queue: Option<&str>, size: u32, now: i64) {
        let seen = Seen { size, at: now };
        match queue {
            None => {
                *lock(&self.statewide) = seen;
                crate::ops::metrics::gauge("caseline_callers_waiting", f64::from(size));
            }
            Some(name) => {
                let mut queues = lock(&self.queues);
                if queues.len() < MAX_QUEUES || queues.contains_key(name) {
                    queues.insert(name.to_string(), seen);
                }
            }
        }
    }

    /// Callers waiting in `queue` now: none once no wait webhook has come for a while.
    pub fn now(&self, queue: Option<&str>, now: i64) -> u32 {
        match queue {
            None => lock(&self.statewide).now(now),
            Some(name) => lock(&self.queues).get(name).map_or(0, |seen| seen.now(now)),
        }
    }
}

/// A lock held for a copy or an insert: one that panicked mid-way left nothing half
/// written, so its value is still good.
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What the dialer is handed: the queue, its settings, the clock, the policy, what the
/// queue's wait webhooks said, and the one provider handle that places calls.
pub struct Dialer<'a> {
    pub store: &'a Store,
    pub settings: &'a Settings,
    pub clock: &'a dyn Clock,
    pub outbound: &'a crate::domain::outbound::Policy,
    pub waiting: &'a Waiting,
    /// The local agencies, whose hours, queues and caller IDs their requests follow.
    pub agencies: Option<&'a Agencies>,
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
    if local_hour < d.ring_hours.0 || local_hour >= d.ring_hours.1 {
        return Ok(Tick::Closed);
    }
    let (due, any_open) = scope(s, now);
    if !any_open {
        return Ok(Tick::Closed);
    }
    if due.agencies.is_empty() && !due.statewide {
        return Ok(Tick::QueueLong);
    }
    let Some(claimed) = s
        .store
        .callback_queue()
        .claim_due(now.timestamp(), Pick::Due(due), d.attempts)
        .await?
    else {
        return Ok(Tick::Nothing);
    };
    dial(s, from, claimed).await
}

/// Whose requests may be dialled now: each agency with a line of its own while it is
/// open (its hours and holidays) and its own queue is short; the statewide unit's (and
/// those of agencies still `TO-BE-FILLED` or no longer in the file, whose callers it
/// takes) while the unit is open and its queue is short. Also whether anyone is open at
/// all, whatever the queues.
fn scope<'a>(s: &Dialer<'a>, now: chrono::DateTime<chrono::Utc>) -> (Due<'a>, bool) {
    let max = s.settings.dialer.max_waiting;
    let at = now.timestamp();
    let unit_open = s.settings.hours.is_open(now);
    let mut due = Due {
        statewide: unit_open && s.waiting.now(None, at) <= max,
        agencies: Vec::new(),
        own_line: Vec::new(),
    };
    let mut any_open = unit_open;
    let own_lines = s.agencies.into_iter().flat_map(|a| a.iter());
    for agency in own_lines.filter(|a| a.reach.is_filled()) {
        due.own_line.push(&agency.id);
        if !agency.hours.is_open(now) {
            continue;
        }
        any_open = true;
        // An agency reached by a number has no queue here to watch.
        let waiting = agency.queue().map_or(0, |q| s.waiting.now(Some(q), at));
        if waiting <= agency.callback_max_waiting.unwrap_or(max) {
            due.agencies.push(&agency.id);
        }
    }
    (due, any_open)
}

/// The caller ID of a request's callback: its agency's own (`callback_from` in the
/// agencies file) when the file gives one, else `CASELINE_CALLBACK_FROM`.
fn caller_id<'a>(s: &Dialer<'a>, agency: Option<&str>, from: &'a str) -> &'a str {
    agency
        .and_then(|id| s.agencies?.by_id(id)?.callback_from.as_deref())
        .unwrap_or(from)
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
        .claim_due(now, Pick::Only(id), most)
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
    let from = caller_id(s, c.agency.as_deref(), from);
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
            // Not the number's fault (our credentials, the provider's trouble, an
            // agency's caller ID it refuses): the request goes back uncounted, due again
            // in a minute, so the next tick tries the next request, not this one again.
            tracing::warn!(
                request = c.id,
                agency = c.agency.as_deref().unwrap_or("statewide"),
                from,
                error = %e,
                "a callback was not placed; retrying it in a minute"
            );
            queue.unclaim(c.id, now + RETRY_SECS).await?;
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
