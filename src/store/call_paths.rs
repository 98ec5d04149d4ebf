//! The call paths' table: how each ended call went, for the reports.

use super::{CallPaths, run};

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
}

impl CallPaths<'_> {
    /// The paths of the calls that ended from `since` (Unix seconds) on.
    pub async fn since(&self, since: i64) -> anyhow::Result<Vec<Path>> {
        let sql = "SELECT started_at, ended_at, lang, channel, verified, verify_attempts, \
                   verify_locked, outcome, ended_on, caller_hash FROM call_paths WHERE ended_at >= $1";
        run!(
            self.store,
            read,
            query_as(sql, since).fetch_all,
            "Failed to read the call paths"
        )
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
