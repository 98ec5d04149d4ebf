//! The sessions this PostgreSQL server answered last, each at the turn it gave: a
//! request for that turn is served from here without a read (see [`super::sessions`]
//! for why that is safe), and a save is kept here from the moment it is queued for the
//! [`super::writer`] until it commits (or is dropped when it fails).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hashlink::LruCache;
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};

use super::writer::{self, Copies, Pending, QUEUE_MAX, Row};
use crate::session::Session;
use crate::store::{AuditLine, CallPathRow};

/// Sessions kept at most; past it, each new one pushes out the one saved longest ago
/// (a least-recently-saved cache: constant time, where scanning the whole map for idle
/// ones under its lock, once it was full, took half a server's CPU behind a
/// round-robin balancer, issue 27). A session pushed out is read from the database.
const MAX_ENTRIES: usize = 50_000;
/// A session this server has not answered for this long is dropped by the sweeper: no
/// caller waits that long at one of our prompts (the longest timeout is under a
/// minute; queues and dials come back by URLs without a turn).
const IDLE_SECS: i64 = 600;

/// Counts of a PostgreSQL server's session reads: what a request that crossed servers
/// cost, for tests and benches (each read from the database is one indexed statement).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionReads {
    /// Requests for a turn this server gave, answered from its copy.
    pub from_memory: u64,
    /// Reads of the database (a turn another server gave, or no turn in the URL).
    pub from_database: u64,
    /// The statements those reads took (reads at the same time share one).
    pub statements: u64,
    /// Times a read or an end waited for this server's own queued write.
    pub waited: u64,
}

/// `caseline_session_reads_total` by where the session came from, made once.
pub(super) fn read_counters() -> &'static [metrics::Counter; 2] {
    static COUNTERS: std::sync::OnceLock<[metrics::Counter; 2]> = std::sync::OnceLock::new();
    COUNTERS.get_or_init(|| {
        ["memory", "database"]
            .map(|from| metrics::counter!("caseline_session_reads_total", "from" => from))
    })
}

#[derive(Default)]
pub(super) struct ReadCounts {
    pub(super) memory: AtomicU64,
    pub(super) database: AtomicU64,
    pub(super) waited: AtomicU64,
}

/// How long an end waits for this server's own queued write before it goes ahead
/// without it (a slow database must not hold a webhook to its deadline).
const SETTLE_WAIT: Duration = Duration::from_millis(500);
/// How long a save waits for the writer's commit before the webhook gives up on it (as
/// long as the pool waits for a connection): a database that is down or slow must not
/// hold a webhook to its deadline.
const SAVE_WAIT: Duration = Duration::from_secs(3);
/// How long a clean stop waits for the queue to be written.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

struct Entry {
    session: Session,
    /// Unix seconds of the save (as `call_sessions.updated_at`).
    updated_at: i64,
    /// Whether the database holds this turn yet (a queued position does not).
    committed: bool,
}

pub(super) struct PgHot {
    /// In the order they were saved, oldest first: reads peek, so a save is what
    /// makes a session recent.
    sessions: Mutex<LruCache<String, Entry>>,
    writes: mpsc::Sender<Pending>,
    /// Set by [`PgHot::close`]: nothing is served or queued any more, so a closed store
    /// fails every read and write, as a closed pool does.
    closed: AtomicBool,
    /// This server's name in the turns it gives ([`Session::next_turn`]): random, so two
    /// servers (or a server and its restarted self) never give the same turn.
    pub(super) server: u32,
    pub(super) reads: ReadCounts,
}

/// A random, non-zero server name.
fn server_name() -> u32 {
    let bits = uuid::Uuid::new_v4().as_u128();
    (bits as u32).max(1)
}

impl std::fmt::Debug for PgHot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgHot").finish_non_exhaustive()
    }
}

impl PgHot {
    /// Starts an empty set of copies and its writer (on the current runtime).
    pub(super) fn start(pool: &PgPool) -> Arc<PgHot> {
        let (writes, queue) = mpsc::channel(QUEUE_MAX);
        let hot = Arc::new(PgHot {
            sessions: Mutex::new(LruCache::new(MAX_ENTRIES)),
            writes,
            closed: AtomicBool::new(false),
            server: server_name(),
            reads: ReadCounts::default(),
        });
        tokio::spawn(writer::run(pool.clone(), queue, Arc::downgrade(&hot)));
        hot
    }

    /// The session at `turn`, if this server holds it at exactly that turn and it was
    /// saved at or after `since`.
    pub(super) fn at_turn(&self, call_sid: &str, turn: u64, since: i64) -> Option<Session> {
        if self.closed.load(Ordering::Acquire) {
            return None;
        }
        let sessions = self.sessions.lock().ok()?;
        sessions
            .peek(call_sid)
            .filter(|e| e.session.turn == turn && e.updated_at >= since)
            .map(|e| e.session.clone())
    }

    /// The later of a session read from the database and this server's own copy of it
    /// whose write is still queued (a later count of answers); the read one on a tie,
    /// as it is committed (another server's answer to the same request).
    pub(super) fn newer_queued(&self, read: Session, since: i64) -> Session {
        let Ok(sessions) = self.sessions.lock() else {
            return read;
        };
        match sessions.peek(read.call_sid.as_str()) {
            Some(e)
                if !e.committed
                    && e.updated_at >= since
                    && e.session.answers() > read.answers() =>
            {
                e.session.clone()
            }
            _ => read,
        }
    }

    /// Whether this server holds the call at a later answer than `turn`'s (it answered
    /// the request for `turn` already: a request for it again is a repeat).
    pub(super) fn holds_later(&self, call_sid: &str, turn: u64) -> bool {
        self.sessions.lock().is_ok_and(|s| {
            s.peek(call_sid)
                .is_some_and(|e| e.session.answers() > turn >> 32)
        })
    }

    /// Waits until this server's queued write for the call, if any, is committed (an
    /// end goes after it). Gives up after [`SETTLE_WAIT`].
    pub(super) async fn settle(&self, call_sid: &str) {
        let pending = || {
            self.sessions
                .lock()
                .is_ok_and(|s| s.peek(call_sid).is_some_and(|e| !e.committed))
        };
        if pending() {
            self.reads.waited.fetch_add(1, Ordering::Relaxed);
        }
        let _ = tokio::time::timeout(SETTLE_WAIT, async {
            // Again while still pending: a barrier queued between the entry being kept
            // and its position being sent comes back before it.
            while pending() {
                if !self.flush().await {
                    break;
                }
            }
        })
        .await;
    }

    /// Waits until everything queued so far is committed (or failed); false when the
    /// writer has stopped.
    pub(super) async fn flush(&self) -> bool {
        let (done, committed) = oneshot::channel();
        self.writes.send(Pending::Barrier(done)).await.is_ok() && committed.await.is_ok()
    }

    /// Keeps a session this server just saved (committed or not), as the most recent;
    /// when full, the one saved longest ago gives way. A queued position does not
    /// replace a later turn (two deliveries of one request at once); a committed save
    /// always does (it may be a call started afresh).
    fn keep(&self, session: Session, updated_at: i64, committed: bool) -> bool {
        let Ok(mut sessions) = self.sessions.lock() else {
            return false;
        };
        let key = session.call_sid.as_str();
        if !committed
            && let Some(e) = sessions.peek(key)
            && e.session.turn > session.turn
        {
            return true;
        }
        sessions.insert(
            key.to_string(),
            Entry {
                session,
                updated_at,
                committed,
            },
        );
        true
    }

    /// Records a save that has committed.
    pub(super) fn saved(&self, session: Session, updated_at: i64) {
        self.keep(session, updated_at, true);
    }

    /// Saves a session through the writer and waits for its commit: `Ok(true)` once
    /// committed, `Ok(false)` if the write failed or took longer than [`SAVE_WAIT`]
    /// (whether it landed is then unknown, so the copy is dropped); `Err` gives the state
    /// back when it could not be queued (the queue is full or the store closed), for the
    /// caller to write itself.
    ///
    /// The session is kept uncommitted from the moment it is queued, so an end of the
    /// call on this server waits for it (see [`PgHot::settle`]), a read serves it when
    /// the database is behind it (see [`PgHot::newer_queued`]), and the
    /// writer marks it committed or drops it, whether or not anyone still waits.
    pub(super) async fn save_grouped(
        &self,
        session: &Session,
        state: String,
        at: i64,
    ) -> Result<bool, String> {
        if self.closed.load(Ordering::Acquire) {
            return Err(state);
        }
        let Ok(permit) = self.writes.try_reserve() else {
            return Err(state);
        };
        let (done, committed) = oneshot::channel();
        let call_sid = session.call_sid.as_str();
        let turn = session.turn;
        self.keep(session.clone(), at, false);
        let row = Row {
            call_sid: call_sid.to_string(),
            state,
            turn,
            at,
        };
        permit.send(Pending::Save { row, done });
        match tokio::time::timeout(SAVE_WAIT, committed).await {
            Ok(Ok(true)) => Ok(true),
            // Failed, timed out, or the writer gone before answering.
            _ => {
                self.forget_turn(call_sid, turn);
                Ok(false)
            }
        }
    }

    /// Writes an audit line through the writer, with the other lines queued meanwhile
    /// (from any call): `Ok(true)` once committed, `Ok(false)` if the statement failed
    /// or took longer than [`SAVE_WAIT`], `Err` with the line when it could not be
    /// queued (the caller writes it alone).
    pub(super) async fn audit(&self, line: AuditLine) -> Result<bool, AuditLine> {
        if self.closed.load(Ordering::Acquire) {
            return Err(line);
        }
        let Ok(permit) = self.writes.try_reserve() else {
            return Err(line);
        };
        let (done, committed) = oneshot::channel();
        permit.send(Pending::Audit { line, done });
        Ok(matches!(
            tokio::time::timeout(SAVE_WAIT, committed).await,
            Ok(Ok(true))
        ))
    }

    /// Ends a call through the writer, with the other ends queued meanwhile, after
    /// everything this server queued before it (so no settling first): `Ok(Ok(state))`
    /// once committed (`None` when the call was not live), `Ok(Err(()))` if the statement
    /// failed, `Err(())` when it could not be queued (the caller ends it alone).
    ///
    /// No wait of its own: nobody is on the line for a status callback, and an end that
    /// gave up while still queued would commit later with its path lost (the webhook's
    /// deadline bounds it). The copy in memory is dropped once the end has committed, so
    /// a request racing the end neither reads the database behind this server's queued
    /// position nor keeps a position committed just before the end as live.
    pub(super) async fn end(
        &self,
        call_sid: &str,
        status: &str,
        at: i64,
    ) -> Result<Result<Option<String>, ()>, ()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(());
        }
        let Ok(permit) = self.writes.try_reserve() else {
            return Err(());
        };
        let (done, ended) = oneshot::channel();
        permit.send(Pending::End {
            call_sid: call_sid.to_string(),
            status: status.to_string(),
            at,
            done,
        });
        let answer = ended.await.unwrap_or(Err(()));
        self.forget(call_sid);
        Ok(answer)
    }

    /// Keeps an ended call's path through the writer: `Ok(true)` once committed,
    /// `Ok(false)` if the statement failed or took too long, `Err` with the row when it
    /// could not be queued.
    pub(super) async fn keep_path(&self, row: CallPathRow) -> Result<bool, CallPathRow> {
        if self.closed.load(Ordering::Acquire) {
            return Err(row);
        }
        let Ok(permit) = self.writes.try_reserve() else {
            return Err(row);
        };
        let (done, committed) = oneshot::channel();
        permit.send(Pending::Path {
            row: Box::new(row),
            done,
        });
        Ok(matches!(
            tokio::time::timeout(SAVE_WAIT, committed).await,
            Ok(Ok(true))
        ))
    }

    /// Queues a change of position and keeps the session; answers `Err` with the
    /// session when it could not be queued (the queue is full, or the cache: the caller
    /// then saves it the slow way).
    pub(super) fn save_behind(
        &self,
        session: Session,
        state: String,
        at: i64,
    ) -> Result<(), Box<Session>> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Box::new(session));
        }
        let call_sid = session.call_sid.as_str().to_string();
        let turn = session.turn;
        let Ok(permit) = self.writes.try_reserve() else {
            return Err(Box::new(session));
        };
        // Kept before it is sent, so a read that finds it uncommitted waits for it.
        if !self.keep(session.clone(), at, false) {
            return Err(Box::new(session));
        }
        permit.send(Pending::Position(Row {
            call_sid,
            state,
            turn,
            at,
        }));
        Ok(())
    }

    /// Commits what is queued, then serves and queues nothing more.
    pub(super) async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let _ = tokio::time::timeout(CLOSE_WAIT, self.flush()).await;
        if let Ok(mut sessions) = self.sessions.lock() {
            sessions.clear();
        }
    }

    /// Drops a call (it ended; or a write of it failed, so only the database knows).
    pub(super) fn forget(&self, call_sid: &str) {
        if let Ok(mut sessions) = self.sessions.lock() {
            sessions.remove(call_sid);
        }
    }

    /// Drops the sessions this server has not answered for [`IDLE_SECS`]: it no longer
    /// expects their URLs, and a call that ended on another server is not kept here.
    /// Only the idle are visited: they are the oldest saved, at the front.
    pub(super) fn sweep(&self, now: i64) {
        if let Ok(mut sessions) = self.sessions.lock() {
            while sessions
                .iter()
                .next()
                .is_some_and(|(_, e)| e.updated_at < now - IDLE_SECS)
            {
                sessions.remove_lru();
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.sessions.lock().map_or(0, |s| s.len())
    }
}

impl writer::Copies for PgHot {
    /// Marks a queued turn committed, if the entry still holds it.
    fn committed(&self, call_sid: &str, turn: u64) {
        if let Ok(mut sessions) = self.sessions.lock()
            && let Some(e) = sessions.peek_mut(call_sid)
            && e.session.turn == turn
        {
            e.committed = true;
        }
    }

    /// Drops a call's entry if it still holds `turn` (a later save stays).
    fn forget_turn(&self, call_sid: &str, turn: u64) {
        if let Ok(mut sessions) = self.sessions.lock()
            && sessions
                .peek(call_sid)
                .is_some_and(|e| e.session.turn == turn)
        {
            sessions.remove(call_sid);
        }
    }
}

#[cfg(test)]
mod tests;
