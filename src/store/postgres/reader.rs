//! Session reads that share statements: the reads of a call's session a server must
//! make (a request for a turn another server gave) are gathered into one
//! `SELECT ... FROM UNNEST` while the statements before them are in flight, as the
//! writer gathers saves.
//!
//! Why: behind a round-robin balancer half the requests for a turn cross servers, and
//! each then read its session alone: a statement's own round (bind, execute, sync, a
//! wake-up on each side) for one row. Gathered, two servers round-robin served 8,000
//! to 8,400 requests a second where they served 7,100 (issue 27, `benches/balance`).
//! A request still costs one read in one round trip and never waits for a timer: a
//! read that finds no statement in flight goes at once, alone; only reads that arrive
//! while one is running wait for the next, together (about three a statement then).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::PgPool;
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::once_more;

/// Reads waiting beyond this are made alone rather than queued without bound.
const QUEUE_MAX: usize = 8192;
/// Rows in one statement at most.
const BATCH_MAX: usize = 256;
/// Statements of reads running at once. One gathers the most reads into each (two
/// servers round-robin, 50 calls back to back: 3.1 reads a statement, against 2.0 with
/// two running); reads do not wait on locks, so one slow statement means a slow
/// database, which more at once would not help.
const IN_FLIGHT: usize = 1;

/// The requested calls' live sessions, in one statement, with when each was saved (each
/// read's own `since` is checked here). `= ANY` keeps PostgreSQL's generic plan an
/// index scan: a join on `UNNEST` of the same arrays was planned badly once the plan
/// was cached (six times the buffers per row, measured with `pg_stat_statements`).
const SELECT_SESSIONS: &str = "SELECT call_sid, updated_at, state FROM call_sessions \
    WHERE call_sid = ANY($1) AND ended_at IS NULL";

/// One read waiting for its statement: `Err` when the statement failed.
struct Read {
    call_sid: String,
    since: i64,
    done: oneshot::Sender<Result<Option<String>, ()>>,
}

/// Where reads are queued, and how many statements they took.
#[derive(Debug)]
pub(super) struct Reader {
    reads: mpsc::Sender<Read>,
    statements: Arc<AtomicU64>,
}

impl Reader {
    /// Starts the reading task on the current runtime; it ends when the reader is
    /// dropped.
    pub(super) fn start(pool: PgPool) -> Reader {
        let (reads, queue) = mpsc::channel(QUEUE_MAX);
        let statements = Arc::new(AtomicU64::new(0));
        tokio::spawn(read_sessions(pool, queue, statements.clone()));
        Reader { reads, statements }
    }

    /// The state of a call's live session saved at or after `since`, read with the
    /// other reads queued meanwhile; `Err(())` when it could not be queued (the caller
    /// reads alone).
    pub(super) async fn read(
        &self,
        call_sid: &str,
        since: i64,
    ) -> Result<anyhow::Result<Option<String>>, ()> {
        let Ok(permit) = self.reads.try_reserve() else {
            return Err(());
        };
        let (done, answer) = oneshot::channel();
        permit.send(Read {
            call_sid: call_sid.to_string(),
            since,
            done,
        });
        Ok(match answer.await {
            Ok(Ok(state)) => Ok(state),
            Ok(Err(())) => Err(anyhow::anyhow!("the read of call sessions failed")),
            Err(_) => Err(anyhow::anyhow!("the session reader stopped")),
        })
    }

    /// Statements the reads took.
    pub(super) fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }
}

/// Takes whatever reads are queued once a statement may start, and runs them in one.
async fn read_sessions(pool: PgPool, mut queue: mpsc::Receiver<Read>, statements: Arc<AtomicU64>) {
    let running = Arc::new(Semaphore::new(IN_FLIGHT));
    loop {
        let Ok(permit) = running.clone().acquire_owned().await else {
            return;
        };
        let mut batch = Vec::with_capacity(BATCH_MAX);
        if queue.recv_many(&mut batch, BATCH_MAX).await == 0 {
            return;
        }
        statements.fetch_add(1, Ordering::Relaxed);
        let pool = pool.clone();
        tokio::spawn(async move {
            answer(&pool, batch).await;
            drop(permit);
        });
    }
}

/// Reads a batch and answers each read.
async fn answer(pool: &PgPool, batch: Vec<Read>) {
    let mut sids: Vec<&str> = batch.iter().map(|r| r.call_sid.as_str()).collect();
    sids.sort_unstable();
    sids.dedup();
    let rows = once_more(|| {
        sqlx::query_as::<_, (String, i64, String)>(SELECT_SESSIONS)
            .bind(&sids)
            .fetch_all(pool)
    })
    .await;
    match rows {
        Ok(rows) => {
            // Two reads of one call may share a batch: each gets the row.
            let found: std::collections::HashMap<String, (i64, String)> = rows
                .into_iter()
                .map(|(sid, updated_at, state)| (sid, (updated_at, state)))
                .collect();
            for read in batch {
                let state = found
                    .get(&read.call_sid)
                    .filter(|(updated_at, _)| *updated_at >= read.since)
                    .map(|(_, state)| state.clone());
                let _ = read.done.send(Ok(state));
            }
        }
        Err(e) => {
            metrics::counter!("caseline_database_errors_total").increment(1);
            tracing::error!(error = %e, reads = batch.len(), "call sessions were not read");
            for read in batch {
                let _ = read.done.send(Err(()));
            }
        }
    }
}
