//! The SQLite writer thread: the one connection that writes, committing whatever the
//! webhooks queued in one transaction and answering each write once it is durable
//! (saves nobody waits for gather first, see [`super::hot`]), and checkpointing the
//! log when the checkpointer finds it long.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use rusqlite::{Connection, params};
use tokio::sync::oneshot;

use super::cache::SessionCache;
use crate::session::Session;
use crate::store::AuditLine;
use crate::store::audit::INSERT_AUDIT;
use crate::store::call_paths::{CallPathRow, INSERT_CALL_PATH};
use crate::store::sessions::END_SESSION;

/// The writer thread's ends: its connection, the queue, the gathering, and what it
/// tells the rest of the store.
pub(super) struct Writer {
    pub(super) conn: Connection,
    pub(super) queue: mpsc::Receiver<Pending>,
    pub(super) gathered: Arc<Gathered>,
    pub(super) restart_due: Arc<AtomicBool>,
    pub(super) commits: Arc<AtomicUsize>,
    pub(super) cache: Arc<SessionCache>,
}

impl Writer {
    /// Takes every write queued so far, commits them in one transaction, answers each.
    /// A webhook still answers only once its writes are on disk, but a busy line pays
    /// one commit per batch instead of one per call. Ends when the store is dropped,
    /// after committing what it left.
    ///
    /// The log only starts over when a write begins with every frame already copied
    /// into the database file. Under sustained load the checkpointer never sees that (the
    /// writer appends while it copies), and the log grew by the benchmark's 60 MB a
    /// second. So when the checkpointer finds the log long, the writer checkpoints once
    /// itself between two batches, after answering the last one: only the frames since
    /// the checkpointer's run are left to copy, and its next commit starts the log over.
    ///
    /// A write someone waits for never waits for company: what queues while the writer
    /// commits makes the next batch. (Until webhooks read their sessions from memory it
    /// paid to wait up to 100 µs for a batch as large as the last; that only delayed
    /// every answer.) Saves nobody waits for gather for [`BEHIND_GATHER`] instead.
    pub(super) fn run(mut self) {
        while let Ok(first) = self.queue.recv() {
            let mut batch = vec![first];
            self.take_queued(&mut batch);
            if batch.iter().all(|p| p.done.is_none()) {
                self.wait_for_company(&mut batch);
            }
            self.take_gathered(&mut batch);
            self.commit_batch(batch);
        }
        // The store is gone: what it gathered last is still committed.
        let mut last = Vec::new();
        self.take_gathered(&mut last);
        self.commit_batch(last);
    }

    /// Adds what is already queued, up to [`GROUP_COMMIT_MAX`].
    fn take_queued(&self, batch: &mut Vec<Pending>) {
        while batch.len() < GROUP_COMMIT_MAX {
            match self.queue.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
    }

    /// Waits out [`BEHIND_GATHER`], or until a write someone waits for arrives.
    fn wait_for_company(&self, batch: &mut Vec<Pending>) {
        let until = std::time::Instant::now() + BEHIND_GATHER;
        loop {
            let left = until.saturating_duration_since(std::time::Instant::now());
            match self.queue.recv_timeout(left) {
                Ok(p) => {
                    let waited_for = p.done.is_some();
                    batch.push(p);
                    if waited_for {
                        self.take_queued(batch);
                        return;
                    }
                }
                Err(_) => return,
            }
        }
    }

    /// Adds the gathered saves and puts the batch in the order its writes were made.
    fn take_gathered(&self, batch: &mut Vec<Pending>) {
        let mut gathered = self
            .gathered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        batch.append(&mut gathered);
        drop(gathered);
        batch.retain(|p| !matches!(p.write, Write::Gathering));
        batch.sort_by_key(|p| p.seq);
    }

    fn commit_batch(&mut self, batch: Vec<Pending>) {
        if batch.is_empty() {
            return;
        }
        self.commits.fetch_add(1, Ordering::Relaxed);
        let started = std::time::Instant::now();
        let result = commit(&mut self.conn, &batch).map_err(|e| e.to_string());
        metrics::histogram!("caseline_store_batch_size").record(batch.len() as f64);
        metrics::histogram!("caseline_store_commit_seconds")
            .record(started.elapsed().as_secs_f64());
        if let Err(e) = &result {
            metrics::counter!("caseline_database_errors_total").increment(1);
            tracing::error!(error = %e, writes = batch.len(), "a group commit failed");
        }
        // The cache learns of each write before its webhook answers, in commit order,
        // so it never holds an older session than the database.
        for (i, p) in batch.into_iter().enumerate() {
            let outcome = match &result {
                Ok(changed) => {
                    remember(&self.cache, p.write);
                    Ok(changed[i])
                }
                Err(e) => {
                    if let Some((sid, seq)) = p.write.session_row() {
                        self.cache.forget(sid, seq);
                    }
                    Err(e.clone())
                }
            };
            if let Some(done) = p.done {
                let _ = done.send(outcome);
            }
        }
        if self.restart_due.swap(false, Ordering::Acquire) {
            checkpoint(&self.conn);
        }
    }
}

/// What a committed write means for the cache.
fn remember(cache: &SessionCache, write: Write) {
    match write {
        Write::Session {
            cached: Some(session),
            now,
            seq,
            ..
        } => cache.put(*session, now, seq),
        Write::End { call_sid, seq, .. } => cache.forget(&call_sid, seq),
        Write::Session { cached: None, .. }
        | Write::Audit(_)
        | Write::CallPath(_)
        | Write::Barrier
        | Write::Gathering => {}
    }
}

/// Commits a batch in one transaction; answers the rows each write changed. `BEGIN`
/// and `COMMIT` are cached statements like the writes (rusqlite's `transaction()` parses
/// both again for every batch); a failure rolls the batch back.
fn commit(conn: &mut Connection, batch: &[Pending]) -> rusqlite::Result<Vec<usize>> {
    conn.prepare_cached("BEGIN")?.execute([])?;
    let done = write_batch(conn, batch).and_then(|changed| {
        conn.prepare_cached("COMMIT")?.execute([])?;
        Ok(changed)
    });
    if done.is_err() && !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    done
}

fn write_batch(tx: &Connection, batch: &[Pending]) -> rusqlite::Result<Vec<usize>> {
    let mut changed = Vec::with_capacity(batch.len());
    // In order: a call normally appears once per batch (the provider waits for our
    // answer before its next webhook); after a retry, its latest save wins.
    for p in batch {
        let n = match &p.write {
            Write::Session {
                call_sid,
                state,
                now,
                ..
            } => tx
                .prepare_cached(UPSERT_SESSION)?
                .execute(params![call_sid, state, now])?,
            Write::End {
                call_sid,
                status,
                now,
                ..
            } => {
                // By name: SQLite numbers `$n` parameters in order of appearance, and
                // this statement names `$2` before `$1`.
                tx.prepare_cached(END_SESSION)?
                    .execute(rusqlite::named_params! { "$1": call_sid, "$2": now, "$3": status })?
            }
            Write::Barrier | Write::Gathering => 0,
            Write::CallPath(p) => tx.prepare_cached(INSERT_CALL_PATH)?.execute(params![
                p.call_sid,
                p.started_at,
                p.ended_at,
                p.lang,
                p.channel,
                p.verified,
                p.verify_attempts,
                p.verify_locked,
                p.outcome,
                p.ended_on,
                p.steps,
                p.caller_hash,
                p.load_test,
                p.agency
            ])?,
            Write::Audit(a) => tx.prepare_cached(INSERT_AUDIT)?.execute(params![
                a.at,
                a.call_sid,
                a.actor,
                a.event,
                a.outcome,
                a.participant_id,
                a.case_id
            ])?,
        };
        changed.push(n);
    }
    Ok(changed)
}

/// How many writes one transaction takes at most.
pub(super) const GROUP_COMMIT_MAX: usize = 256;

/// Writes waiting for the writer beyond this are refused (the caller hears an apology)
/// rather than queued without bound.
pub(super) const QUEUE_MAX: usize = 4096;
/// How long the writer gathers saves that nobody waits for ([`super::hot::Hot::save_behind`])
/// before committing them, unless a write someone waits for comes first. Waking the
/// writer for each one cost a context switch on both sides per menu step; gathered, a
/// busy line pays one wake-up per window and commits each page it touches once (the
/// wrk bench: the writer's CPU per step from about 10 µs to 4). A crash loses at most
/// this much of callers' positions, which their next webhook's URL names anyway.
pub(super) const BEHIND_GATHER: Duration = Duration::from_millis(2);

/// PostgreSQL's twin relaxes its commit (see `super::pg`'s `upsert_sessions!`); here the group
/// commit already makes the save cheap.
pub(super) const UPSERT_SESSION: &str = "INSERT INTO call_sessions (call_sid, state, created_at, updated_at) \
    VALUES ($1, $2, $3, $3) \
    ON CONFLICT (call_sid) DO UPDATE SET state = excluded.state, \
    updated_at = excluded.updated_at, ended_at = NULL, end_status = NULL";

/// What the writer commits.
pub(super) enum Write {
    Session {
        call_sid: String,
        state: String,
        now: i64,
        /// The session itself, for the cache once committed (`None` when the cache is
        /// off, or already holds it: a save that answered before its commit).
        cached: Option<Box<Session>>,
        /// From [`Hot::next_seq`]: orders the cache's copies.
        seq: u64,
    },
    /// The call is over (the provider's status callback).
    End {
        call_sid: String,
        status: String,
        now: i64,
        seq: u64,
    },
    Audit(AuditLine),
    /// An ended call's path (boxed: it is larger than the other writes).
    CallPath(Box<CallPathRow>),
    /// Writes nothing; answered once everything queued before it is committed.
    Barrier,
    /// Writes nothing: tells a sleeping writer that saves nobody waits for are
    /// gathering ([`Hot::save_behind`] sends one when it finds none gathered).
    Gathering,
}

impl Write {
    /// The call whose session row this write changes, and the write's number.
    pub(super) fn session_row(&self) -> Option<(&str, u64)> {
        match self {
            Write::Session { call_sid, seq, .. } | Write::End { call_sid, seq, .. } => {
                Some((call_sid, *seq))
            }
            Write::Audit(_) | Write::CallPath(_) | Write::Barrier | Write::Gathering => None,
        }
    }
}

/// A write's outcome: the rows it changed, or why the batch failed.
pub(super) type Outcome = Result<usize, String>;

pub(super) struct Pending {
    pub(super) write: Write,
    /// Who waits for the commit; nobody for a save that answers first.
    pub(super) done: Option<oneshot::Sender<Outcome>>,
    /// From [`Hot::next_seq`] (a session write's own number): a batch is committed in
    /// this order, whichever way its writes reached the writer, so a call's end is
    /// never overwritten by a save of the same call queued before it.
    pub(super) seq: u64,
}

/// Saves gathering for the writer's next batch (see [`BEHIND_GATHER`]).
pub(super) type Gathered = Mutex<Vec<Pending>>;

/// A passive checkpoint; answers how many frames the log holds. A failure is logged and
/// left to the next checkpoint.
pub(super) fn checkpoint(conn: &Connection) -> Option<i64> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get(1))
        .inspect_err(
            |e| tracing::warn!(error = %e, "a WAL checkpoint failed; the next one will retry"),
        )
        .ok()
}
