//! SQLite, the embedded default: opening the file (created and migrated on first run),
//! and the session path every webhook takes, through [`hot`] (a writer thread with
//! group commit, and the sessions of the server that owns the file in [`cache`]).

mod cache;
mod hot;
mod writer;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::backend::Backend;
use super::{AuditLine, CallPathRow, SESSION_TTL_SECS};
use crate::session::{CallSid, Session};
use hot::Hot;
use writer::Write;

/// SQLite allows one writer at a time. The occasional writes (imports, staff, status
/// callbacks) share one pooled connection, so they queue in the pool (an async wait)
/// instead of contending for the file lock (SQLite's busy handler sleeps, which showed
/// as multi-millisecond p99s); readers use their own pool, which WAL lets run beside the
/// writer. Session reads and writes and audit lines, on every webhook's path, take the
/// `hot` path.
#[derive(Clone, Debug)]
pub struct Sqlite {
    pub(in crate::store) read: SqlitePool,
    pub(in crate::store) write: SqlitePool,
    hot: Arc<Hot>,
    pub(in crate::store) announcement: Arc<crate::store::announcements::SlotCache>,
}

impl Sqlite {
    /// Opens (creating if missing) the file `url` names; does not migrate.
    pub(in crate::store) async fn connect(url: &str) -> anyhow::Result<Sqlite> {
        let opts = SqliteConnectOptions::from_str(url)
            .context("CASELINE_DATABASE_URL is not a valid SQLite URL")?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(3))
            .foreign_keys(true);
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(3))
            .connect_with(opts.clone())
            .await
            .context("Failed to open the SQLite database")?;
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(3))
            .connect_with(opts.clone().read_only(true).create_if_missing(false))
            .await
            .context("Failed to open the SQLite database")?;
        let hot = Hot::open(opts.get_filename())?;
        Ok(Sqlite {
            read,
            write,
            hot,
            announcement: Arc::default(),
        })
    }
}

impl Backend for Sqlite {
    fn begin_write(&self) -> &'static str {
        "BEGIN IMMEDIATE"
    }

    fn skip_locked(&self) -> &'static str {
        ""
    }

    fn lift_statement_timeout(&self) -> Option<&'static str> {
        None
    }

    async fn migrate(&self) -> anyhow::Result<()> {
        sqlx::migrate!("./migrations/sqlite")
            .run(&self.write)
            .await
            .context("Failed to apply database migrations")
    }

    fn claim(&self) -> anyhow::Result<()> {
        self.hot.claim()
    }

    async fn close(&self) {
        self.hot.close().await;
        self.write.close().await;
        self.read.close().await;
    }

    async fn load(
        &self,
        call_sid: &CallSid,
        since: i64,
        _turn: Option<u64>,
    ) -> anyhow::Result<Option<Session>> {
        if let Some(session) = self.hot.cached_session(call_sid.as_str(), since)? {
            return Ok(Some(session));
        }
        match self.hot.load_session(call_sid.as_str(), since)? {
            Some(json) => Ok(Some(
                serde_json::from_str(&json).context("Stored session is not readable")?,
            )),
            None => Ok(None),
        }
    }

    async fn save(&self, session: &Session, now: i64) -> anyhow::Result<()> {
        let state = serde_json::to_string(session)?;
        self.hot
            .write(Write::Session {
                call_sid: session.call_sid.as_str().to_string(),
                state,
                now,
                cached: self.hot.caching().then(|| Box::new(session.clone())),
                seq: self.hot.next_seq(),
            })
            .await
            .map(|_| ())
            .context("Failed to save the call session")
    }

    async fn save_position(&self, session: Session, now: i64) -> anyhow::Result<()> {
        if !self.hot.caching() {
            return self.save(&session, now).await;
        }
        let state = serde_json::to_string(&session)?;
        self.hot
            .save_behind(session, state, now)
            .context("Failed to save the call session")
    }

    fn newest(&self, session: Session, now: i64) -> Session {
        self.hot
            .cached_session(session.call_sid.as_str(), now - SESSION_TTL_SECS)
            .ok()
            .flatten()
            .unwrap_or(session)
    }

    /// One server owns the file, so its name is 0.
    fn server(&self) -> u32 {
        0
    }

    fn writes_behind(&self) -> bool {
        self.hot.caching()
    }

    async fn end(
        &self,
        call_sid: &CallSid,
        status: &str,
        now: i64,
    ) -> anyhow::Result<Option<Option<Session>>> {
        // This server owns the file: its copy (or the file's) is the session as it ends.
        let session = self.load(call_sid, 0, None).await.ok().flatten();
        // Through the session writer, so the end is ordered with the call's saves and
        // the cache forgets the call.
        let rows = self
            .hot
            .write(Write::End {
                call_sid: call_sid.as_str().to_string(),
                status: status.to_string(),
                now,
                seq: self.hot.next_seq(),
            })
            .await
            .context("Failed to end the call session")?;
        Ok((rows > 0).then_some(session))
    }

    fn sweep(&self, now: i64) {
        self.hot.sweep_cache(now - SESSION_TTL_SECS)
    }

    /// Writes an audit line through the group commit; answers once it is durable.
    async fn write_audit(&self, line: AuditLine) -> anyhow::Result<()> {
        self.hot.write(Write::Audit(line)).await.map(|_| ())
    }

    /// Writes an ended call's path through the group commit.
    async fn keep_call_path(&self, row: CallPathRow) -> anyhow::Result<()> {
        self.hot
            .write(Write::CallPath(Box::new(row)))
            .await
            .map(|_| ())
    }
}
