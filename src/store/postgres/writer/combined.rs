//! A writer's batch of sessions in one statement: its saves, its positions, its ends of
//! calls and its calls' paths, each kind a data-modifying `WITH` part of one relaxed
//! commit, instead of a statement and a commit apiece.
//!
//! Why: what a batch costs the database and the server is mostly per statement (the
//! round trip, the wake-ups on both sides, the commit), hardly per row. Two servers
//! each write half the calls in batches half the size, so behind a balancer the same
//! calls took twice the statements: 0.19 a request against one server's 0.087, which
//! with the database on the same two cores held two servers to 0.65-0.78 of one
//! server's requests a second (issue 27). One statement per batch cuts that by up to
//! four.
//!
//! What the parts of one statement may not do is touch a row twice (PostgreSQL then
//! keeps one of the changes, not saying which), so [`Combined::of`] gives each call one
//! part: a position queued after its call's save is folded into the save (as the
//! positions' guard would have written it after), a position queued with its call's
//! end is folded into the end (the end writes it, under the same guard, and answers
//! the state as it ended). A batch holding a save and an end of the same call (a call
//! hung up before its first commit) is written apart, as it was before. So is a batch
//! whose statement the database refused (a deadlock with another server inserting the
//! same new call, say): the whole statement rolled back, so writing it again kind by
//! kind changes nothing twice.
//!
//! Rows are locked first, all of them and in CallSid order, before any part writes, as
//! every batch of every server takes them: two servers ending and moving the same
//! calls at once cannot deadlock.

use std::collections::{BTreeMap, HashMap};

use sqlx::postgres::PgArguments;
use sqlx::{PgPool, Postgres, Row as _};

use super::Row;
use crate::store::CallPathRow;

/// The batch's statement. Parameters: saves ($1-$4: CallSid, state, time, turn),
/// positions ($5-$8, the same), ends ($9-$13: CallSid, status, time, and a folded
/// position's state and turn or NULLs), every CallSid written ($14, to lock), then the
/// paths' fourteen columns ($15-$28). Answers one row per session written: its kind
/// (`s`, `p`, `e`), CallSid, turn, and for an end the state as it ended.
///
/// `gate` sets the relaxed commit (as each separate statement did: a database crash
/// may forget the last fraction of a second of positions, ends and paths; saves that
/// wait are relaxed too, as before) and counts the locked rows; every part reads it, so
/// no part writes before every row is locked.
const WRITE_BATCH: &str = "WITH \
    locked AS MATERIALIZED (SELECT c.call_sid FROM call_sessions c \
      WHERE c.call_sid = ANY($14::text[]) ORDER BY c.call_sid COLLATE \"C\" FOR UPDATE OF c), \
    gate AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true) AS relaxed, \
      (SELECT count(*) FROM locked) AS n), \
    saved AS (INSERT INTO call_sessions (call_sid, state, created_at, updated_at, turn) \
      SELECT u.call_sid, u.state, u.at, u.at, u.turn FROM gate, \
      UNNEST($1::text[], $2::text[], $3::bigint[], $4::bigint[]) AS u(call_sid, state, at, turn) \
      ON CONFLICT (call_sid) DO UPDATE SET state = excluded.state, \
      updated_at = excluded.updated_at, turn = excluded.turn, ended_at = NULL, end_status = NULL \
      RETURNING call_sid, turn), \
    moved AS (INSERT INTO call_sessions (call_sid, state, created_at, updated_at, turn) \
      SELECT u.call_sid, u.state, u.at, u.at, u.turn FROM gate, \
      UNNEST($5::text[], $6::text[], $7::bigint[], $8::bigint[]) AS u(call_sid, state, at, turn) \
      ON CONFLICT (call_sid) DO UPDATE SET state = excluded.state, \
      updated_at = excluded.updated_at, turn = excluded.turn \
      WHERE call_sessions.ended_at IS NULL \
      AND (call_sessions.turn >> 32) < (excluded.turn >> 32) \
      RETURNING call_sid, turn), \
    ended AS (UPDATE call_sessions AS c SET ended_at = u.at, end_status = u.status, \
      updated_at = u.at, \
      state = CASE WHEN (c.turn >> 32) < (u.turn >> 32) THEN u.state ELSE c.state END, \
      turn = CASE WHEN (c.turn >> 32) < (u.turn >> 32) THEN u.turn ELSE c.turn END \
      FROM gate, UNNEST($9::text[], $10::text[], $11::bigint[], $12::text[], $13::bigint[]) \
      AS u(call_sid, status, at, state, turn) \
      WHERE c.call_sid = ANY($9::text[]) AND c.call_sid = u.call_sid AND c.ended_at IS NULL \
      RETURNING c.call_sid, c.turn, c.state), \
    paths AS (INSERT INTO call_paths (call_sid, started_at, ended_at, lang, channel, verified, \
      verify_attempts, verify_locked, outcome, ended_on, steps, caller_hash, load_test, agency) \
      SELECT u.* FROM gate, UNNEST($15::text[], $16::bigint[], $17::bigint[], $18::text[], \
      $19::text[], $20::bigint[], $21::bigint[], $22::bigint[], $23::text[], $24::text[], \
      $25::text[], $26::text[], $27::bigint[], $28::text[]) AS u \
      ON CONFLICT DO NOTHING) \
    SELECT 's' AS kind, call_sid, turn, NULL::text AS state FROM saved \
    UNION ALL SELECT 'p', call_sid, turn, NULL FROM moved \
    UNION ALL SELECT 'e', call_sid, turn, state FROM ended";

/// A batch's sessions, one part per call, ready to bind.
pub(super) struct Combined<'a> {
    /// Each call's save, with the turn of a position folded into it (the turn written).
    saves: Vec<Folded<'a>>,
    positions: Vec<&'a Row>,
    /// One end per call: CallSid, status, time, and a position folded into it.
    ends: Vec<(&'a str, &'a str, i64, Option<&'a Row>)>,
    /// Positions queued after their call's save but no later than it, which the guard
    /// would refuse: not written, so their copies must go.
    pub(super) dropped: Vec<(&'a str, u64)>,
    paths: &'a [CallPathRow],
}

struct Folded<'a> {
    save: &'a Row,
    /// A position queued after the save, written instead of it (its state and turn).
    then: Option<&'a Row>,
}

impl Folded<'_> {
    fn written(&self) -> &Row {
        self.then.unwrap_or(self.save)
    }
}

/// What the statement wrote: the turns written by CallSid and kind, and each ended
/// call's state.
#[derive(Default)]
pub(super) struct Written {
    pub(super) saves: HashMap<String, i64>,
    pub(super) positions: HashMap<String, i64>,
    pub(super) ended: HashMap<String, String>,
}

/// The count in a turn's high bits: a later answer has a higher one.
fn count(turn: u64) -> u64 {
    turn >> 32
}

impl<'a> Combined<'a> {
    /// One part per call, or `None` when a call has both a save and an end in the batch
    /// (written apart, in order). `saves` holds each call's save with whatever waits
    /// for it.
    pub(super) fn of<W>(
        saves: &'a BTreeMap<String, (Row, W)>,
        positions: &'a BTreeMap<String, Row>,
        ends: &'a BTreeMap<&'a str, (&'a str, i64)>,
        paths: &'a [CallPathRow],
    ) -> Option<Combined<'a>> {
        if ends.keys().any(|sid| saves.contains_key(*sid)) {
            return None;
        }
        let mut dropped = Vec::new();
        let folded = saves
            .iter()
            .map(|(sid, (save, _))| {
                let then = positions.get(sid).filter(|p| {
                    let later = count(p.turn) > count(save.turn);
                    if !later {
                        dropped.push((p.call_sid.as_str(), p.turn));
                    }
                    later
                });
                Folded { save, then }
            })
            .collect();
        let alone = positions
            .iter()
            .filter(|(sid, _)| !saves.contains_key(*sid) && !ends.contains_key(sid.as_str()))
            .map(|(_, row)| row)
            .collect();
        let ends = ends
            .iter()
            .map(|(sid, (status, at))| (*sid, *status, *at, positions.get(*sid)))
            .collect();
        Some(Combined {
            saves: folded,
            positions: alone,
            ends,
            dropped,
            paths,
        })
    }

    /// Runs the statement: what it wrote, or the database's error (nothing written).
    pub(super) async fn write(&self, pool: &PgPool) -> sqlx::Result<Written> {
        let saves: Vec<&Row> = self.saves.iter().map(Folded::written).collect();
        let ends = &self.ends;
        let mut all: Vec<&str> = saves
            .iter()
            .chain(&self.positions)
            .map(|r| r.call_sid.as_str())
            .chain(ends.iter().map(|e| e.0))
            .collect();
        all.sort_unstable();
        let query = sqlx::query(WRITE_BATCH);
        let query = bind_rows(query, &saves);
        let query = bind_rows(query, &self.positions);
        let query = query
            .bind(ends.iter().map(|e| e.0).collect::<Vec<_>>())
            .bind(ends.iter().map(|e| e.1).collect::<Vec<_>>())
            .bind(ends.iter().map(|e| e.2).collect::<Vec<_>>())
            .bind(
                ends.iter()
                    .map(|e| e.3.map(|r| r.state.as_str()))
                    .collect::<Vec<_>>(),
            )
            .bind(
                ends.iter()
                    .map(|e| e.3.map(|r| turn_column(r.turn)))
                    .collect::<Vec<_>>(),
            )
            .bind(all);
        let query = bind_paths(query, self.paths);
        let rows = query.fetch_all(pool).await?;
        let mut written = Written::default();
        for row in rows {
            let kind: String = row.try_get(0)?;
            let sid: String = row.try_get(1)?;
            let turn: i64 = row.try_get(2)?;
            match kind.as_str() {
                "s" => {
                    written.saves.insert(sid, turn);
                }
                "p" => {
                    written.positions.insert(sid, turn);
                }
                _ => {
                    written.ended.insert(sid, row.try_get(3)?);
                }
            }
        }
        Ok(written)
    }

    /// The turn each save was written at (a position folded into it, or its own).
    pub(super) fn save_turns(&self) -> impl Iterator<Item = (&str, u64)> {
        self.saves
            .iter()
            .map(|f| (f.save.call_sid.as_str(), f.written().turn))
    }
}

/// A turn as its `bigint` column holds it.
pub(super) fn turn_column(turn: u64) -> i64 {
    i64::try_from(turn).unwrap_or(i64::MAX)
}

type Query<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;

/// Binds sessions' rows as four arrays: CallSid, state, time, turn.
pub(super) fn bind_rows<'q>(query: Query<'q>, rows: &[&Row]) -> Query<'q> {
    query
        .bind(rows.iter().map(|r| r.call_sid.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.state.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.at).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| turn_column(r.turn)).collect::<Vec<_>>())
}

/// Binds calls' paths as the fourteen arrays of `call_paths`' columns.
pub(super) fn bind_paths<'q>(query: Query<'q>, rows: &[CallPathRow]) -> Query<'q> {
    let col = |f: fn(&CallPathRow) -> i64| rows.iter().map(f).collect::<Vec<i64>>();
    let text = |f: fn(&CallPathRow) -> &str| rows.iter().map(f).collect::<Vec<&str>>();
    query
        .bind(text(|r| r.call_sid.as_str()))
        .bind(col(|r| r.started_at))
        .bind(col(|r| r.ended_at))
        .bind(text(|r| r.lang))
        .bind(text(|r| r.channel))
        .bind(col(|r| r.verified))
        .bind(col(|r| r.verify_attempts))
        .bind(col(|r| r.verify_locked))
        .bind(text(|r| r.outcome))
        .bind(text(|r| r.ended_on.as_str()))
        .bind(text(|r| r.steps.as_str()))
        .bind(
            rows.iter()
                .map(|r| r.caller_hash.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(col(|r| r.load_test))
        .bind(rows.iter().map(|r| r.agency.as_deref()).collect::<Vec<_>>())
}
