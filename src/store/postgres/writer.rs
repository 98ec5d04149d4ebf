//! PostgreSQL's group commit: one task takes whatever the webhooks queued (saves that
//! wait for their commit, changes of position that do not, ends of calls, their paths,
//! audit lines) and writes the sessions and paths in one statement
//! ([`combined`]) and the audit lines in another, so a busy line costs the
//! database a statement or two per batch rather than one per request (see
//! [`super::sessions`] for what may wait and what may not). A queued position never overwrites a later save or revives an ended
//! call: the batch updates a row only while it is live and its turn is older.

use std::collections::BTreeMap;
use std::sync::Weak;
use std::time::{Duration, Instant};

use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};

use super::{connection_lost, once_more};
use combined::{Combined, bind_paths, bind_rows, turn_column};

mod combined;
use crate::store::{AuditLine, CallPathRow};

/// Positions waiting for the writer beyond this are saved the slow way (each waits for
/// its own commit) rather than queued without bound.
pub(super) const QUEUE_MAX: usize = 8192;
/// Rows in one statement at most.
const BATCH_MAX: usize = 512;

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
pub(super) const UPSERT_SAVES: &str = upsert_sessions!(", ended_at = NULL, end_status = NULL");

/// A session's row as the writer writes it.
pub(super) struct Row {
    pub(super) call_sid: String,
    pub(super) state: String,
    pub(super) turn: u64,
    pub(super) at: i64,
}

pub(super) enum Pending {
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
    /// The end of a call (its status callback), answered after its commit with the
    /// session's state as it ended (`None` when it was not live); `Err` if the statement
    /// failed.
    End {
        call_sid: String,
        status: String,
        at: i64,
        done: oneshot::Sender<Result<Option<String>, ()>>,
    },
    /// An ended call's path, answered after its commit: `true` once committed.
    Path {
        row: Box<CallPathRow>,
        done: oneshot::Sender<bool>,
    },
    /// Answered once everything queued before it is committed (or failed).
    Barrier(oneshot::Sender<()>),
}

/// Ends of calls, as many as are queued, in one relaxed statement (as a single end was):
/// each live row named is ended, and its state returned for the call's path. The rows
/// are locked first in CallSid order, as every batch of every server takes them
/// (saves and positions are written in that order): two servers ending and moving the
/// same calls at once otherwise deadlocked (the bench saw it: a second's stall). Ends go
/// after the batch's saves and positions, so a call's last position queued before its
/// end is written first.
///
/// The rows to lock are named by `= ANY` of the CallSids, not by a join on the `UNNEST`:
/// the join's plan, once the table's statistics said few rows are live, scanned the
/// whole table for each batch (`auto_explain` on the balance bench: 462 of 464
/// sequential scans of `call_sessions`, some 3,000 rows each, a batch of ends apiece),
/// and two servers' smaller batches made twice as many. `= ANY` is an index scan.
const END_SESSIONS: &str = "WITH u AS (SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[]) \
    AS u(call_sid, status, at)), \
    locked AS (SELECT c.call_sid FROM call_sessions c WHERE c.call_sid = ANY($1::text[]) \
    AND c.ended_at IS NULL ORDER BY c.call_sid COLLATE \"C\" FOR UPDATE OF c) \
    UPDATE call_sessions AS c SET ended_at = u.at, end_status = u.status, updated_at = u.at \
    FROM (SELECT set_config('synchronous_commit', 'off', true)) AS relaxed, u, locked \
    WHERE c.call_sid = u.call_sid AND c.call_sid = locked.call_sid AND c.ended_at IS NULL \
    RETURNING c.call_sid, c.state";

/// Ended calls' paths, as many as are queued, in one relaxed statement (a database crash
/// may lose the last fraction of a second of them: a figure in a report); a repeated
/// status callback's path adds nothing.
const INSERT_CALL_PATHS: &str = "INSERT INTO call_paths (call_sid, started_at, ended_at, \
    lang, channel, verified, verify_attempts, verify_locked, outcome, ended_on, steps, caller_hash, \
    load_test, agency) \
    SELECT u.* FROM (SELECT set_config('synchronous_commit', 'off', true)) AS relaxed, \
    UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::bigint[], \
    $7::bigint[], $8::bigint[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bigint[], \
    $14::text[]) AS u \
    ON CONFLICT DO NOTHING";

/// What the writer tells the server's copies of the sessions it wrote
/// ([`super::hot::PgHot`]): which turns are in the database now, and which never will be.
pub(super) trait Copies {
    /// The database holds this turn of the call (or a later one).
    fn committed(&self, call_sid: &str, turn: u64);
    /// This turn of the call did not reach the database (failed, refused by the
    /// positions' guard, or superseded by a later entry of the call).
    fn forget_turn(&self, call_sid: &str, turn: u64);
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
    /// Ends in the order they were queued: CallSid, status, time, who waits.
    ends: Vec<End>,
    paths: Vec<(CallPathRow, oneshot::Sender<bool>)>,
    barriers: Vec<oneshot::Sender<()>>,
}

type End = (
    String,
    String,
    i64,
    oneshot::Sender<Result<Option<String>, ()>>,
);

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
            ends: Vec::new(),
            paths: Vec::new(),
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
                Pending::End {
                    call_sid,
                    status,
                    at,
                    done,
                } => batch.ends.push((call_sid, status, at, done)),
                Pending::Path { row, done } => batch.paths.push((*row, done)),
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

/// The writer: takes whatever is queued (up to [`BATCH_MAX`] entries), commits the audit
/// lines, then the sessions and paths (see [`write_sessions`]), answers everyone
/// waiting, then the barriers. Ends when the store is dropped.
pub(super) async fn run<C: Copies>(pool: PgPool, mut queue: mpsc::Receiver<Pending>, hot: Weak<C>) {
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
        let (paths, path_waiters) = std::mem::take(&mut batch.paths).into_iter().unzip();
        let sessions = Sessions {
            saves: batch.saves,
            positions: batch.positions,
            ends: std::mem::take(&mut batch.ends),
            paths,
            path_waiters,
        };
        failed |= write_sessions(&pool, &hot, sessions).await;
        for done in batch.barriers {
            let _ = done.send(());
        }
        if failed {
            // A failing database is not hammered: the next batch waits a little.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// What a batch writes to the sessions and the paths, each with who waits for it.
struct Sessions {
    saves: BTreeMap<String, (Row, Vec<oneshot::Sender<bool>>)>,
    positions: BTreeMap<String, Row>,
    ends: Vec<End>,
    paths: Vec<CallPathRow>,
    /// Everyone waiting for a path: all are answered alike (the paths share a statement).
    path_waiters: Vec<oneshot::Sender<bool>>,
}

/// Writes a batch's sessions and paths in one statement (see [`combined`]), or
/// kind by kind when it cannot be one or the database refused it; answers everyone
/// waiting and tells the copies in memory. True when something failed.
async fn write_sessions<C: Copies>(pool: &PgPool, hot: &Weak<C>, mut batch: Sessions) -> bool {
    if batch.saves.is_empty()
        && batch.positions.is_empty()
        && batch.ends.is_empty()
        && batch.paths.is_empty()
    {
        return false;
    }
    // In CallSid order, as every batch takes its rows (no deadlock with another server
    // inserting a repeated status callback's path).
    batch.paths.sort_by(|a, b| a.call_sid.cmp(&b.call_sid));
    let ends = first_end_of_each(&batch.ends);
    let Some(combined) = Combined::of(&batch.saves, &batch.positions, &ends, &batch.paths) else {
        return write_apart(pool, hot, batch).await;
    };
    let started = Instant::now();
    let written = match combined.write(pool).await {
        Ok(written) => written,
        // Refused (a deadlock, a row the database would not take) or the connection lost:
        // kind by kind, each write tried as it always was. After a lost connection the
        // statement may have landed; its ends then find the calls ended and answer no
        // state, as a repeated status callback does.
        Err(e) if matches!(e, sqlx::Error::Database(_)) || connection_lost(&e) => {
            tracing::warn!(error = %e, "a batch's statement failed; writing it kind by kind");
            return write_apart(pool, hot, batch).await;
        }
        Err(e) => {
            metrics::counter!("caseline_database_errors_total").increment(1);
            tracing::error!(error = %e, "a batch of call sessions was not written");
            if let Some(hot) = hot.upgrade() {
                let saves = batch.saves.values().map(|(row, _)| row);
                for row in saves.chain(batch.positions.values()) {
                    hot.forget_turn(&row.call_sid, row.turn);
                }
            }
            answer_all(batch, false);
            return true;
        }
    };
    metrics::histogram!("caseline_store_batch_size")
        .record((batch.saves.len() + batch.positions.len() + ends.len()) as f64);
    metrics::histogram!("caseline_store_commit_seconds").record(started.elapsed().as_secs_f64());
    // Each save as written (a position folded into it, or its own turn), in the order of
    // `batch.saves`: every save is written (its update has no guard), so one that was
    // not failed.
    let saved: Vec<(&str, u64, bool)> = combined
        .save_turns()
        .map(|(sid, turn)| {
            (
                sid,
                turn,
                written.saves.get(sid) == Some(&turn_column(turn)),
            )
        })
        .collect();
    if let Some(hot) = hot.upgrade() {
        for (sid, turn) in &combined.dropped {
            hot.forget_turn(sid, *turn);
        }
        for (sid, turn, ok) in &saved {
            if *ok {
                hot.committed(sid, *turn);
            } else {
                hot.forget_turn(sid, *turn);
            }
        }
        for row in batch.positions.values() {
            if written.positions.get(&row.call_sid) == Some(&turn_column(row.turn)) {
                hot.committed(&row.call_sid, row.turn);
            } else if !batch.saves.contains_key(&row.call_sid) {
                // Refused by the guard, or folded into an end (whose copy goes).
                hot.forget_turn(&row.call_sid, row.turn);
            }
        }
    }
    let oks: Vec<bool> = saved.iter().map(|(.., ok)| *ok).collect();
    let mut states = written.ended;
    for (sid, _, _, done) in batch.ends {
        let _ = done.send(Ok(states.remove(&sid)));
    }
    for ((_, waiting), ok) in batch.saves.into_values().zip(&oks) {
        for done in waiting {
            let _ = done.send(*ok);
        }
    }
    for done in batch.path_waiters {
        let _ = done.send(true);
    }
    oks.contains(&false)
}

/// Answers everyone waiting on a batch that failed as a whole.
fn answer_all(batch: Sessions, ok: bool) {
    for (_, (_, waiting)) in batch.saves {
        for done in waiting {
            let _ = done.send(ok);
        }
    }
    for (.., done) in batch.ends {
        let _ = done.send(Err(()));
    }
    for done in batch.path_waiters {
        let _ = done.send(ok);
    }
}

/// Each call's first end queued: its status and time, in CallSid order (the order every
/// batch locks rows in).
fn first_end_of_each(ends: &[End]) -> BTreeMap<&str, (&str, i64)> {
    let mut calls: BTreeMap<&str, (&str, i64)> = BTreeMap::new();
    for (sid, status, at, _) in ends {
        calls.entry(sid.as_str()).or_insert((status.as_str(), *at));
    }
    calls
}

/// Writes a batch's sessions and paths kind by kind, a statement each: saves, then
/// positions, then ends, then paths. True when something failed.
async fn write_apart<C: Copies>(pool: &PgPool, hot: &Weak<C>, batch: Sessions) -> bool {
    let Sessions {
        saves,
        positions,
        ends,
        paths,
        path_waiters,
    } = batch;
    let mut failed = false;
    if !saves.is_empty() {
        let (rows, waiting): (Vec<Row>, Vec<_>) = saves.into_values().unzip();
        let mut results = match write_rows(pool, UPSERT_SAVES, &rows).await {
            Ok(_) => vec![true; rows.len()],
            // One row the database refuses must not fail every call in the batch:
            // each is tried alone (not when the database is unreachable).
            Err(sqlx::Error::Database(_)) if rows.len() > 1 => {
                let mut each = Vec::with_capacity(rows.len());
                for row in &rows {
                    let one = std::slice::from_ref(row);
                    each.push(write_rows(pool, UPSERT_SAVES, one).await.is_ok());
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
    if !positions.is_empty() {
        let rows: Vec<Row> = positions.into_values().collect();
        let result = write_rows(pool, UPSERT_POSITIONS, &rows).await;
        failed |= result.is_err();
        if let Some(hot) = hot.upgrade() {
            // A row the guard refused (a later save, an ended call) is not in the
            // database: this server must not serve its copy as if it were.
            let written: std::collections::HashSet<(&str, i64)> = match &result {
                Ok(rows) => rows.iter().map(|(s, t)| (s.as_str(), *t)).collect(),
                Err(_) => Default::default(),
            };
            for row in &rows {
                if written.contains(&(row.call_sid.as_str(), turn_column(row.turn))) {
                    hot.committed(&row.call_sid, row.turn);
                } else {
                    hot.forget_turn(&row.call_sid, row.turn);
                }
            }
        }
    }
    if !ends.is_empty() {
        failed |= !write_ends(pool, ends).await;
    }
    if !paths.is_empty() {
        // Sorted by `write_sessions`.
        let ok = write_paths(pool, &paths).await.is_ok();
        failed |= !ok;
        for done in path_waiters {
            let _ = done.send(ok);
        }
    }
    failed
}

/// Ends calls in one statement and answers each: its state, once, to the first that
/// asked for the call (a repeated status callback gets none, as the call has ended).
/// False when the statement failed.
async fn write_ends(pool: &PgPool, ends: Vec<End>) -> bool {
    let calls = first_end_of_each(&ends);
    let sids: Vec<&str> = calls.keys().copied().collect();
    let statuses: Vec<&str> = calls.values().map(|(s, _)| *s).collect();
    let ats: Vec<i64> = calls.values().map(|(_, at)| *at).collect();
    // Not tried again on a lost connection, unlike the other writes: a commit that
    // landed before the connection went would answer nothing the second time, and the
    // calls' paths would be lost as if they had ended before.
    let result = sqlx::query_as::<_, (String, String)>(END_SESSIONS)
        .bind(&sids)
        .bind(&statuses)
        .bind(&ats)
        .fetch_all(pool)
        .await;
    let mut states: std::collections::HashMap<String, String> = match result {
        Ok(rows) => rows.into_iter().collect(),
        Err(e) => {
            metrics::counter!("caseline_database_errors_total").increment(1);
            tracing::error!(error = %e, calls = ends.len(), "ends of calls were not written");
            for (.., done) in ends {
                let _ = done.send(Err(()));
            }
            return false;
        }
    };
    for (sid, _, _, done) in ends {
        let _ = done.send(Ok(states.remove(&sid)));
    }
    true
}

/// Writes ended calls' paths in one statement.
async fn write_paths(pool: &PgPool, rows: &[CallPathRow]) -> sqlx::Result<()> {
    let result = once_more(|| bind_paths(sqlx::query(INSERT_CALL_PATHS), rows).execute(pool)).await;
    if let Err(e) = &result {
        metrics::counter!("caseline_database_errors_total").increment(1);
        tracing::error!(error = %e, paths = rows.len(), "call paths were not kept");
    }
    result.map(|_| ())
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
pub(super) async fn write_rows(
    pool: &PgPool,
    sql: &'static str,
    rows: &[Row],
) -> sqlx::Result<Vec<(String, i64)>> {
    let rows: Vec<&Row> = rows.iter().collect();
    let started = Instant::now();
    let result = once_more(|| {
        bind_rows(sqlx::query(sql), &rows)
            .try_map(|row: sqlx::postgres::PgRow| {
                use sqlx::Row as _;
                Ok((row.try_get(0)?, row.try_get(1)?))
            })
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
mod tests {
    use super::*;

    fn row(sid: &str, count: u64) -> Row {
        Row {
            call_sid: sid.to_string(),
            state: format!("{sid}@{count}"),
            turn: count << 32,
            at: 100,
        }
    }

    #[test]
    fn a_batch_holds_each_calls_last_save_and_the_positions_not_superseded() {
        let save = |sid: &str, count: u64| {
            let (done, _) = oneshot::channel();
            Pending::Save {
                row: row(sid, count),
                done,
            }
        };
        let queued = vec![
            Pending::Position(row("CA3", 4)),
            save("CA3", 5),                   // supersedes CA3's earlier position
            Pending::Position(row("CA3", 6)), // after the save: written after it
            save("CA1", 1),
            save("CA2", 1),
            save("CA1", 2), // CA1's later save; both its callers wait for it
            Pending::Position(row("CA4", 9)),
            Pending::Position(row("CA4", 10)),
        ];
        let batch = Batch::of(queued);
        let saves: Vec<(&str, &str, usize)> = batch
            .saves
            .iter()
            .map(|(sid, (row, waiting))| (sid.as_str(), row.state.as_str(), waiting.len()))
            .collect();
        assert_eq!(
            saves,
            [
                ("CA1", "CA1@2", 2),
                ("CA2", "CA2@1", 1),
                ("CA3", "CA3@5", 1)
            ]
        );
        let positions: Vec<&str> = batch.positions.values().map(|r| r.state.as_str()).collect();
        assert_eq!(positions, ["CA3@6", "CA4@10"]);
        // What the writer drops from memory if it still holds them.
        let superseded: Vec<(&str, u64)> = batch
            .superseded
            .iter()
            .map(|(sid, turn)| (sid.as_str(), turn >> 32))
            .collect();
        assert_eq!(superseded, [("CA3", 4), ("CA1", 1), ("CA4", 9)]);
    }
}
