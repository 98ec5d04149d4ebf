//! PostgreSQL's webhook path: the sessions this server answered last, and a writer
//! that commits the many calls' changes of position in one statement.
//!
//! Why: on PostgreSQL a menu step cost two round trips (read the session, write it
//! back), each a statement the database parses, plans and logs; with the database on
//! the same two cores that was most of a step's cost, and the line held a fifth of what
//! it held on SQLite. Now a step the provider asks for by one of our URLs usually costs
//! no round trip of its own:
//!
//! - **Reads.** Each answer is numbered ([`Session::turn`]) and our step and input URLs
//!   carry the number. The provider asks for such a URL only in answer to that turn, so
//!   if this server holds the session at that very turn, nobody has changed it since
//!   (another server that moved the call on would have given out a later number). Any
//!   other request (no number, another number, a session this server does not hold)
//!   reads the database once, and never waits (see [`Postgres::load_at_turn`]).
//! - **Writes.** A save that only moves the caller (see
//!   [`crate::store::Sessions::save_position`]) is queued and answered at once; one task
//!   commits whatever is queued in one `INSERT ... SELECT FROM UNNEST` with a relaxed
//!   commit. Every other save (a new call, a language, verification, a case, a
//!   transfer...) goes through the same task and is answered only after its commit
//!   (group commit): when calls start thousands a second, one statement writes the
//!   new sessions of many, instead of each waiting its turn for a connection.
//!
//! What holds: a call moves between servers (a server not holding the turn reads the
//! database), and a crash or restart loses at most the caller's last position, which
//! the next request's URL names anyway (the flow engine trusts the step the caller
//! heard). A queued position never overwrites a later save or revives an ended call:
//! the batch updates a row only while it is live and its turn is older.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use hashlink::LruCache;

use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};

use anyhow::Context;

use super::Postgres;
use super::once_more;
use crate::session::Session;
use crate::store::AuditLine;
use crate::store::sessions::SELECT_SESSION;

/// Positions waiting for the writer beyond this are saved the slow way (each waits for
/// its own commit) rather than queued without bound.
const QUEUE_MAX: usize = 8192;
/// Rows in one statement at most.
const BATCH_MAX: usize = 512;
/// Sessions kept at most; past it, each new one pushes out the one saved longest ago
/// (a least-recently-saved cache: constant time, where scanning the whole map for idle
/// ones under its lock, once it was full, took half a server's CPU behind a
/// round-robin balancer, issue 27). A session pushed out is read from the database.
const MAX_ENTRIES: usize = 50_000;
/// A session this server has not answered for this long is dropped by the sweeper: no
/// caller waits that long at one of our prompts (the longest timeout is under a
/// minute; queues and dials come back by URLs without a turn).
const IDLE_SECS: i64 = 600;

/// The sessions' upsert, rows given as four arrays (CallSid, state, time, turn), each
/// written row returned, followed by what a conflict sets beyond state and turn.
///
/// It commits without waiting for its WAL flush (`synchronous_commit` off, for this
/// statement's transaction only: the `set_config` is local to it), so a save costs no
/// fsync; the trade is that a *database* crash may forget the last fraction of a second
/// of call positions (the provider's next request then starts that call's session
/// afresh at the step it names). A restart of Caseline loses nothing, and every other
/// write (audit lines, imports, staff actions) still waits for the flush.
macro_rules! upsert_sessions {
    ($on_conflict:literal) => {
        concat!(
            "INSERT INTO call_sessions (call_sid, state, created_at, updated_at, turn) \
             SELECT u.call_sid, u.state, u.at, u.at, u.turn \
             FROM (SELECT set_config('synchronous_commit', 'off', true)) AS relaxed, \
             UNNEST($1::text[], $2::text[], $3::bigint[], $4::bigint[]) \
             AS u(call_sid, state, at, turn) \
             ON CONFLICT (call_sid) DO UPDATE SET state = excluded.state, \
             updated_at = excluded.updated_at, turn = excluded.turn",
            $on_conflict,
            " RETURNING call_sid, turn"
        )
    };
}

/// Positions, with the guard described in the module's documentation: a row is moved
/// only while the call is live and by a later answer (a higher count in the turn's high
/// bits), so another server's save of the same count stays.
const UPSERT_POSITIONS: &str = upsert_sessions!(
    " WHERE call_sessions.ended_at IS NULL AND (call_sessions.turn >> 32) < (excluded.turn >> 32)"
);

/// Audit lines, as many as are queued, in one statement (a durable commit, unlike the
/// sessions'), in the order they were queued.
const INSERT_AUDIT_LINES: &str = "INSERT INTO audit (at, call_sid, actor, event, outcome, \
    participant_id, case_id) \
    SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], \
    $6::bigint[], $7::bigint[])";

/// Saves that wait for their commit: the row becomes the session as saved, live (a
/// call started afresh), whatever it held.
const UPSERT_SAVES: &str = upsert_sessions!(", ended_at = NULL, end_status = NULL");

impl Postgres {
    /// Wraps a connected pool and starts its writer (on the current runtime).
    pub(super) fn new(pool: PgPool) -> Postgres {
        let (writes, queue) = mpsc::channel(QUEUE_MAX);
        let hot = Arc::new(PgHot {
            sessions: Mutex::new(LruCache::new(MAX_ENTRIES)),
            writes,
            closed: AtomicBool::new(false),
            server: server_name(),
            reads: ReadCounts::default(),
        });
        tokio::spawn(write_positions(pool.clone(), queue, Arc::downgrade(&hot)));
        Postgres {
            reader: Arc::new(super::reader::Reader::start(pool.clone())),
            pool,
            hot,
            announcement: Arc::default(),
        }
    }
}

impl Postgres {
    /// Saves a session and waits for its commit: with other calls' saves through the
    /// writer, or in a statement of its own when the writer cannot take it (its queue
    /// is full). A save that failed or may not have landed leaves nothing in memory, so
    /// the call is read from the database next time.
    pub(super) async fn save_state(
        &self,
        session: &Session,
        state: String,
        now: i64,
    ) -> anyhow::Result<()> {
        let saved = match self.hot.save_grouped(session, state, now).await {
            // The writer has recorded it in memory.
            Ok(true) => return Ok(()),
            Ok(false) => Err(anyhow::anyhow!("the batch with this save failed")),
            Err(state) => {
                let row = Row {
                    call_sid: session.call_sid.as_str().to_string(),
                    state,
                    turn: session.turn,
                    at: now,
                };
                write_rows(&self.pool, UPSERT_SAVES, std::slice::from_ref(&row))
                    .await
                    .map(|_| ())
                    .map_err(anyhow::Error::from)
            }
        };
        match saved {
            Ok(()) => {
                self.hot.saved(session.clone(), now);
                Ok(())
            }
            Err(e) => {
                self.hot.forget(session.call_sid.as_str());
                Err(e).context("Failed to save the call session")
            }
        }
    }

    /// The live session saved at or after `since`: from memory when this server holds
    /// it at the request's `turn`, else from the database in one indexed read (in one
    /// statement with the other reads made meanwhile, see `reader`), never waiting for
    /// a write.
    ///
    /// A read may find the database behind in two ways, neither waited for:
    /// - this server's own change for the call is still queued in its writer: the copy
    ///   in memory is then the later one (by the count of answers in its turn) and is
    ///   served, as the read would have found it once committed;
    /// - another server answered the turn the URL names and its position is still
    ///   queued there (for a millisecond or two): the older row is served as it is. It
    ///   differs only in where the caller was, and the flow engine goes on from the step
    ///   the URL names; what the request loses is that turn's miss count and the step
    ///   it added to the call's path.
    ///
    /// Before issue 27 such a read waited for this server's writer, then read again
    /// every 10 ms for up to 50 ms: behind a round-robin balancer half the requests
    /// cross servers, and under back-to-back load those waits and reads cut two
    /// servers' throughput to a fifth of one's. At a caller's pace (seconds between
    /// keys) both positions are committed long before the next request.
    pub(super) async fn load_at_turn(
        &self,
        call_sid: &str,
        since: i64,
        turn: Option<u64>,
    ) -> anyhow::Result<Option<Session>> {
        if let Some(session) = turn.and_then(|t| self.hot.at_turn(call_sid, t, since)) {
            self.hot.reads.memory.fetch_add(1, Ordering::Relaxed);
            read_counters()[0].increment(1);
            return Ok(Some(session));
        }
        self.hot.reads.database.fetch_add(1, Ordering::Relaxed);
        read_counters()[1].increment(1);
        let state = match self.reader.read(call_sid, since).await {
            Ok(read) => read,
            // The reader's queue is full: alone.
            Err(()) => once_more(|| {
                sqlx::query_scalar(SELECT_SESSION)
                    .bind(call_sid)
                    .bind(since)
                    .fetch_optional(&self.pool)
            })
            .await
            .map_err(anyhow::Error::from),
        }
        .context("Failed to load the call session")?;
        let Some(json) = state else {
            // Ended (maybe on another server) or gone: a copy here is stale.
            self.hot.forget(call_sid);
            return Ok(None);
        };
        let read =
            serde_json::from_str::<Session>(&json).context("Stored session is not readable")?;
        Ok(Some(self.hot.newer_queued(read, since)))
    }

    /// Whether this server holds the call at a later answer than `turn`'s.
    pub(in crate::store) fn holds_later(&self, call_sid: &str, turn: u64) -> bool {
        self.hot.holds_later(call_sid, turn)
    }

    /// How this server's session reads went since it started (see [`SessionReads`]).
    pub(in crate::store) fn reads(&self) -> SessionReads {
        let r = &self.hot.reads;
        SessionReads {
            from_memory: r.memory.load(Ordering::Relaxed),
            from_database: r.database.load(Ordering::Relaxed),
            statements: self.reader.statements(),
            waited: r.waited.load(Ordering::Relaxed),
        }
    }
}

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
fn read_counters() -> &'static [metrics::Counter; 2] {
    static COUNTERS: std::sync::OnceLock<[metrics::Counter; 2]> = std::sync::OnceLock::new();
    COUNTERS.get_or_init(|| {
        ["memory", "database"]
            .map(|from| metrics::counter!("caseline_session_reads_total", "from" => from))
    })
}

#[derive(Default)]
struct ReadCounts {
    memory: AtomicU64,
    database: AtomicU64,
    waited: AtomicU64,
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

/// A session's row as the writer writes it.
struct Row {
    call_sid: String,
    state: String,
    turn: u64,
    at: i64,
}

enum Pending {
    /// A change of position, answered before its commit (see the module's docs).
    Position(Row),
    /// A save answered after its commit: `true` once committed, `false` if the
    /// statement failed (whether it reached the database is then unknown).
    Save {
        row: Row,
        done: oneshot::Sender<bool>,
    },
    /// An audit line, answered after its commit, which waits for the WAL flush (an
    /// audit line is durable when its write answers): `true` once committed.
    Audit {
        line: AuditLine,
        done: oneshot::Sender<bool>,
    },
    /// Answered once everything queued before it is committed (or failed).
    Barrier(oneshot::Sender<()>),
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
    reads: ReadCounts,
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
    fn newer_queued(&self, read: Session, since: i64) -> Session {
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

    /// Marks a queued turn committed, if the entry still holds it.
    fn committed(&self, call_sid: &str, turn: u64) {
        if let Ok(mut sessions) = self.sessions.lock()
            && let Some(e) = sessions.peek_mut(call_sid)
            && e.session.turn == turn
        {
            e.committed = true;
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

/// What one turn of the writer writes, in CallSid order (so two servers' batches lock
/// shared rows in the same order and cannot deadlock), one row per call (one statement
/// may not update a row twice).
struct Batch {
    /// Saves that wait, each call's last, with everyone waiting for it.
    saves: BTreeMap<String, (Row, Vec<oneshot::Sender<bool>>)>,
    /// Each call's last position.
    positions: BTreeMap<String, Row>,
    /// The entries a later one of their call replaced: CallSid and turn. Each one's copy
    /// in memory normally gave way to the later one when that was queued; if not (two
    /// deliveries of one request, out of order) it is dropped, never left uncommitted.
    superseded: Vec<(String, u64)>,
    /// Audit lines in the order they were queued, each with who waits for it.
    audits: Vec<(AuditLine, oneshot::Sender<bool>)>,
    barriers: Vec<oneshot::Sender<()>>,
}

impl Batch {
    /// Sorts what was queued, in the order it was queued: a later entry of a call
    /// replaces an earlier one of its kind, a save supersedes the positions queued
    /// before it, and a position queued after a save is written after it (under the
    /// positions' guard).
    fn of(taken: impl IntoIterator<Item = Pending>) -> Batch {
        let mut batch = Batch {
            saves: BTreeMap::new(),
            positions: BTreeMap::new(),
            superseded: Vec::new(),
            audits: Vec::new(),
            barriers: Vec::new(),
        };
        for pending in taken {
            match pending {
                Pending::Save { row, done } => {
                    if let Some(old) = batch.positions.remove(&row.call_sid) {
                        batch.superseded.push((old.call_sid, old.turn));
                    }
                    let mut waiting = match batch.saves.remove(&row.call_sid) {
                        Some((old, waiting)) => {
                            batch.superseded.push((old.call_sid, old.turn));
                            waiting
                        }
                        None => Vec::new(),
                    };
                    waiting.push(done);
                    batch.saves.insert(row.call_sid.clone(), (row, waiting));
                }
                Pending::Position(row) => {
                    if let Some(old) = batch.positions.insert(row.call_sid.clone(), row) {
                        batch.superseded.push((old.call_sid, old.turn));
                    }
                }
                Pending::Audit { line, done } => batch.audits.push((line, done)),
                Pending::Barrier(done) => batch.barriers.push(done),
            }
        }
        batch
    }
}

/// While the line is busy (the last batch held more than one entry), a small batch waits
/// up to [`GATHER`] for more, as PostgreSQL's own `commit_delay` does; a quiet line's
/// lone save goes at once. Each statement costs the database about the same whatever
/// its rows (on this machine some 150 µs of its CPU under load), and two servers each
/// took half the calls in batches a third the size of one server's: gathered, one
/// server served 14,700 requests a second where it served 13,600, two round-robin
/// 11,100 where 10,400, the database's CPU per request down a sixth (issue 27).
async fn gather(queue: &mut mpsc::Receiver<Pending>, taken: &mut Vec<Pending>) {
    if taken.len() >= GATHER_UNTIL {
        return;
    }
    let until = tokio::time::Instant::now() + GATHER;
    while taken.len() < GATHER_UNTIL {
        let room = BATCH_MAX - taken.len();
        match tokio::time::timeout_at(until, queue.recv_many(taken, room)).await {
            Ok(n) if n > 0 => continue,
            _ => return,
        }
    }
}

/// How long a small batch waits for more, and what counts as small. A save that waits
/// for its commit may wait this much longer on a busy line.
const GATHER: Duration = Duration::from_micros(1000);
const GATHER_UNTIL: usize = 16;

/// The writer: takes whatever is queued (up to [`BATCH_MAX`] entries), commits the saves
/// in one statement and answers them, then each call's last position in another, then
/// answers the barriers. Ends when the store is dropped.
async fn write_positions(pool: PgPool, mut queue: mpsc::Receiver<Pending>, hot: Weak<PgHot>) {
    let mut taken = Vec::with_capacity(BATCH_MAX);
    let mut busy = false;
    while queue.recv_many(&mut taken, BATCH_MAX).await > 0 {
        if busy {
            gather(&mut queue, &mut taken).await;
        }
        busy = taken.len() > 1;
        let mut batch = Batch::of(taken.drain(..));
        let mut failed = false;
        if !batch.audits.is_empty() {
            let (lines, waiting): (Vec<AuditLine>, Vec<_>) =
                std::mem::take(&mut batch.audits).into_iter().unzip();
            let ok = write_audit_lines(&pool, &lines).await.is_ok();
            failed |= !ok;
            for done in waiting {
                let _ = done.send(ok);
            }
        }
        if let Some(hot) = hot.upgrade() {
            // Nothing will commit these: a later entry of the call was written instead.
            for (sid, turn) in &batch.superseded {
                hot.forget_turn(sid, *turn);
            }
        }
        if !batch.saves.is_empty() {
            let (rows, waiting): (Vec<Row>, Vec<_>) = batch.saves.into_values().unzip();
            let mut results = match write_rows(&pool, UPSERT_SAVES, &rows).await {
                Ok(_) => vec![true; rows.len()],
                // One row the database refuses must not fail every call in the batch:
                // each is tried alone (not when the database is unreachable).
                Err(sqlx::Error::Database(_)) if rows.len() > 1 => {
                    let mut each = Vec::with_capacity(rows.len());
                    for row in &rows {
                        let one = std::slice::from_ref(row);
                        each.push(write_rows(&pool, UPSERT_SAVES, one).await.is_ok());
                    }
                    each
                }
                Err(_) => vec![false; rows.len()],
            };
            failed |= results.contains(&false);
            if let Some(hot) = hot.upgrade() {
                for (row, ok) in rows.iter().zip(&results) {
                    if *ok {
                        hot.committed(&row.call_sid, row.turn);
                    } else {
                        hot.forget_turn(&row.call_sid, row.turn);
                    }
                }
            }
            for (waiting, ok) in waiting.into_iter().zip(results.drain(..)) {
                for done in waiting {
                    let _ = done.send(ok);
                }
            }
        }
        if !batch.positions.is_empty() {
            let rows: Vec<Row> = batch.positions.into_values().collect();
            let result = write_rows(&pool, UPSERT_POSITIONS, &rows).await;
            failed |= result.is_err();
            if let Some(hot) = hot.upgrade() {
                // A row the guard refused (a later save, an ended call) is not in the
                // database: this server must not serve its copy as if it were.
                let written: std::collections::HashSet<(&str, i64)> = match &result {
                    Ok(rows) => rows.iter().map(|(s, t)| (s.as_str(), *t)).collect(),
                    Err(_) => Default::default(),
                };
                for row in &rows {
                    let turn = i64::try_from(row.turn).unwrap_or(i64::MAX);
                    if written.contains(&(row.call_sid.as_str(), turn)) {
                        hot.committed(&row.call_sid, row.turn);
                    } else {
                        hot.forget_turn(&row.call_sid, row.turn);
                    }
                }
            }
        }
        for done in batch.barriers {
            let _ = done.send(());
        }
        if failed {
            // A failing database is not hammered: the next batch waits a little.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Writes audit lines in one statement, a durable commit of its own.
async fn write_audit_lines(pool: &PgPool, lines: &[AuditLine]) -> sqlx::Result<()> {
    let ats: Vec<i64> = lines.iter().map(|l| l.at).collect();
    let calls: Vec<Option<&str>> = lines.iter().map(|l| l.call_sid.as_deref()).collect();
    let actors: Vec<Option<&str>> = lines.iter().map(|l| l.actor.as_deref()).collect();
    let events: Vec<&str> = lines.iter().map(|l| l.event.as_str()).collect();
    let outcomes: Vec<&str> = lines.iter().map(|l| l.outcome.as_str()).collect();
    let participants: Vec<Option<i64>> = lines.iter().map(|l| l.participant_id).collect();
    let cases: Vec<Option<i64>> = lines.iter().map(|l| l.case_id).collect();
    let result = once_more(|| {
        sqlx::query(INSERT_AUDIT_LINES)
            .bind(&ats)
            .bind(&calls)
            .bind(&actors)
            .bind(&events)
            .bind(&outcomes)
            .bind(&participants)
            .bind(&cases)
            .execute(pool)
    })
    .await;
    if let Err(e) = &result {
        metrics::counter!("caseline_database_errors_total").increment(1);
        tracing::error!(error = %e, lines = lines.len(), "audit lines were not written");
    }
    result.map(|_| ())
}

/// Writes rows in one statement (`sql` takes the four arrays and returns each written
/// row's CallSid and turn), a commit of its own: measured, and a failure counted and
/// logged.
async fn write_rows(
    pool: &PgPool,
    sql: &'static str,
    rows: &[Row],
) -> sqlx::Result<Vec<(String, i64)>> {
    let sids: Vec<&str> = rows.iter().map(|r| r.call_sid.as_str()).collect();
    let states: Vec<&str> = rows.iter().map(|r| r.state.as_str()).collect();
    let ats: Vec<i64> = rows.iter().map(|r| r.at).collect();
    let turns: Vec<i64> = rows
        .iter()
        .map(|r| i64::try_from(r.turn).unwrap_or(i64::MAX))
        .collect();
    let started = Instant::now();
    let result = once_more(|| {
        sqlx::query_as::<_, (String, i64)>(sql)
            .bind(&sids)
            .bind(&states)
            .bind(&ats)
            .bind(&turns)
            .fetch_all(pool)
    })
    .await;
    metrics::histogram!("caseline_store_batch_size").record(rows.len() as f64);
    metrics::histogram!("caseline_store_commit_seconds").record(started.elapsed().as_secs_f64());
    if let Err(e) = &result {
        metrics::counter!("caseline_database_errors_total").increment(1);
        tracing::error!(error = %e, rows = rows.len(), "call sessions were not saved");
    }
    result
}

#[cfg(test)]
mod tests;
