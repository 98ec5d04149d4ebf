//! The call paths' table: how each ended call went, for the reports.

use anyhow::Context;

use super::backend::{Backend, on_backend};
use super::{CallPaths, Store, run};

/// One ended call's path, for the call reports (read by `ops::analytics`), as stored.
#[derive(Debug, Clone)]
pub struct CallPathRow {
    pub call_sid: String,
    pub started_at: i64,
    pub ended_at: i64,
    pub lang: &'static str,
    pub channel: &'static str,
    pub verified: i64,
    pub verify_attempts: i64,
    pub verify_locked: i64,
    pub outcome: &'static str,
    pub ended_on: String,
    pub steps: String,
    pub caller_hash: Option<String>,
    /// 1 for a call `caseline loadtest` placed.
    pub load_test: i64,
    /// The local agency the call was routed to or its verified case belongs to.
    pub agency: Option<String>,
}

/// Shared by both backends; a repeated status callback adds nothing.
pub(super) const INSERT_CALL_PATH: &str = "INSERT INTO call_paths (call_sid, started_at, ended_at, \
    lang, channel, verified, verify_attempts, verify_locked, outcome, ended_on, steps, caller_hash, \
    load_test, agency) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
    ON CONFLICT DO NOTHING";

impl Store {
    /// Keeps an ended call's path. On SQLite it goes through the writer thread with the
    /// sessions: a second writer on the file would make both wait on its lock, and the
    /// status callbacks of a busy line queued behind each other (200 ms under the load
    /// tester's 10,000 calls).
    pub async fn keep_call_path(&self, row: CallPathRow) -> anyhow::Result<()> {
        on_backend!(self, |b| b.keep_call_path(row).await).context("Failed to keep the call's path")
    }
}

/// One stored path, as the report reads it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Path {
    pub started_at: i64,
    pub ended_at: i64,
    pub lang: String,
    pub channel: String,
    pub verified: i64,
    pub verify_attempts: i64,
    pub verify_locked: i64,
    pub outcome: String,
    pub ended_on: String,
    pub caller_hash: Option<String>,
    pub load_test: i64,
    pub agency: Option<String>,
    /// The steps entered, in order, comma-separated.
    pub steps: String,
}

impl CallPaths<'_> {
    /// The paths of the calls that ended from `since` (Unix seconds) on.
    /// With `agency`, only that agency's (filtered here, not after reading them all).
    pub async fn since(&self, since: i64, agency: Option<&str>) -> anyhow::Result<Vec<Path>> {
        const ALL: &str = "SELECT started_at, ended_at, lang, channel, verified, \
            verify_attempts, verify_locked, outcome, ended_on, caller_hash, load_test, agency, \
            steps FROM call_paths WHERE ended_at >= $1";
        const ONE: &str = "SELECT started_at, ended_at, lang, channel, verified, \
            verify_attempts, verify_locked, outcome, ended_on, caller_hash, load_test, agency, \
            steps FROM call_paths WHERE ended_at >= $1 AND agency = $2";
        match agency {
            None => run!(
                self.store,
                read,
                query_as(ALL, since).fetch_all,
                "Failed to read the call paths"
            ),
            Some(id) => run!(
                self.store,
                read,
                query_as(ONE, since, id).fetch_all,
                "Failed to read the agency's call paths"
            ),
        }
    }

    /// Deletes paths that ended before `before`.
    pub async fn forget_before(&self, before: i64) -> anyhow::Result<u64> {
        let sql = "DELETE FROM call_paths WHERE ended_at < $1";
        run!(
            self.store,
            write,
            query(sql, before).execute,
            "Failed to delete old call paths"
        )
    }
}
