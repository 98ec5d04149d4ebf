//! PostgreSQL, for production: connecting (each connection with a statement timeout),
//! migrating, and the session path ([`sessions`]: this server's copies in [`hot`], the
//! group-commit [`writer`]), shared by every server behind the load balancer.

mod create;
mod hot;
mod reader;
mod sessions;
mod writer;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use super::audit::INSERT_AUDIT;
use super::backend::Backend;
use super::{AuditLine, CallPathRow};
use crate::session::{CallSid, Session};
pub use create::Database;
use hot::PgHot;
pub use hot::SessionReads;

/// PostgreSQL's `statement_timeout` and `lock_timeout` for every connection, in
/// milliseconds.
const STATEMENT_TIMEOUT_MS: &str = "5000";

/// The end of a call, relaxed like the session save: a database crash may forget that
/// a call in its last fraction of a second ended; the sweeper removes the session when
/// it goes stale. It answers the session as it ended, for the call's path: one
/// statement where a read and an update were two (issue 27).
const END_SESSION_RELAXED: &str = "UPDATE call_sessions SET ended_at = $2, end_status = $3, updated_at = $2 \
    FROM (SELECT set_config('synchronous_commit', 'off', true)) AS relaxed \
    WHERE call_sid = $1 AND ended_at IS NULL RETURNING state";

/// The call path's insert (SQLite's is `audit::INSERT_CALL_PATH`), committed without waiting for the WAL
/// flush (as the session save is): a database crash may lose the last fraction of a
/// second of paths, a figure in a report, and a busy line's status callbacks do not
/// queue behind flushes.
const INSERT_CALL_PATH_RELAXED: &str = "INSERT INTO call_paths (call_sid, started_at, ended_at, \
    lang, channel, verified, verify_attempts, verify_locked, outcome, ended_on, steps, caller_hash, \
    load_test, agency) \
    SELECT $1::text, $2::bigint, $3::bigint, $4::text, $5::text, $6::bigint, $7::bigint, \
    $8::bigint, $9::text, $10::text, $11::text, $12::text, $13::bigint, $14::text \
    FROM (SELECT set_config('synchronous_commit', 'off', true)) AS relaxed \
    ON CONFLICT DO NOTHING";

/// Runs an idempotent statement, and once more if the first try failed on a
/// connection the database had closed (a restart, a failover, an idle reaper): the
/// pool hands out a fresh one, and the caller does not hear an apology for it.
pub(super) async fn once_more<T, F>(run: impl Fn() -> F) -> Result<T, sqlx::Error>
where
    F: std::future::Future<Output = Result<T, sqlx::Error>>,
{
    match run().await {
        Err(e) if connection_lost(&e) => {
            tracing::warn!(error = %e, "a database connection was lost; trying once more");
            run().await
        }
        other => other,
    }
}

/// Whether an error says the connection is gone (not that the statement was wrong).
pub(super) fn connection_lost(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) => true,
        // Class 08 is "connection exception"; 57P01-57P03 are shutdowns.
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P0")),
        _ => false,
    }
}

/// A PostgreSQL store: the pool every query uses, and the webhook path's sessions.
#[derive(Clone, Debug)]
pub struct Postgres {
    pub(in crate::store) pool: PgPool,
    hot: Arc<PgHot>,
    reader: Arc<reader::Reader>,
    pub(in crate::store) announcement: Arc<crate::store::announcements::SlotCache>,
}

/// A pooled connection idle longer than this is pinged before it is handed out; one in
/// use moments ago is not. Why: sqlx pings every connection it hands out, a round trip
/// and a wake-up of the database's process per batch of writes; on the balance bench
/// that was a sixth of PostgreSQL's wake-ups a request. A connection the database
/// closed meanwhile fails its statement, which is tried once more (`once_more`, and
/// the writer writes a failed batch again kind by kind).
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

impl Postgres {
    /// Connects to `url`, confined to `schema` if given (tests use a fresh schema each);
    /// does not migrate.
    pub(in crate::store) async fn connect(
        url: &str,
        schema: Option<&str>,
        pool: u32,
    ) -> anyhow::Result<Postgres> {
        let mut opts = PgConnectOptions::from_str(url)
            .context("CASELINE_DATABASE_URL is not a valid PostgreSQL URL")?
            .application_name("caseline")
            // A statement stuck behind a lock fails in time for the caller to hear
            // an apology (the webhook deadline is 8 s), instead of holding a pooled
            // connection until the provider gives up. Imports lift it for their
            // own transaction.
            .options([
                ("statement_timeout", STATEMENT_TIMEOUT_MS),
                ("lock_timeout", STATEMENT_TIMEOUT_MS),
            ]);
        if let Some(schema) = schema {
            // The schema in the name too, so an operator (or a test) can tell the
            // connections of one schema apart.
            opts = opts
                .options([("search_path", schema)])
                .application_name(&format!("caseline {schema}"));
        }
        let pool = PgPoolOptions::new()
            .max_connections(pool)
            .acquire_timeout(Duration::from_secs(3))
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for > PING_AFTER_IDLE {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(opts.clone())
            .await
            .map_err(|e| create::explain(e, &opts))?;
        Ok(Postgres::new(pool))
    }

    /// Creates the database `url` names if it is missing and its user may; otherwise
    /// says the command that would (see [`create`]).
    pub(in crate::store) async fn ensure_database(url: &str) -> anyhow::Result<Database> {
        let opts = PgConnectOptions::from_str(url)
            .context("CASELINE_DATABASE_URL is not a valid PostgreSQL URL")?
            .application_name("caseline migrate");
        create::ensure_database(&opts).await
    }
}

impl Backend for Postgres {
    fn begin_write(&self) -> &'static str {
        "BEGIN"
    }

    fn skip_locked(&self) -> &'static str {
        " FOR UPDATE SKIP LOCKED"
    }

    fn lift_statement_timeout(&self) -> Option<&'static str> {
        Some("SET LOCAL statement_timeout = 0")
    }

    async fn migrate(&self) -> anyhow::Result<()> {
        // A migration may take longer than a webhook's statement timeout: it runs on a
        // connection of its own without one, closed after.
        let run = async {
            let mut conn = self.pool.acquire().await?;
            conn.close_on_drop();
            for set in ["SET statement_timeout = 0", "SET lock_timeout = 0"] {
                sqlx::query(set).execute(&mut *conn).await?;
            }
            sqlx::migrate!("./migrations/postgres")
                .run(&mut *conn)
                .await
                .map_err(anyhow::Error::from)
        };
        run.await.context("Failed to apply database migrations")
    }

    /// PostgreSQL is shared by every server behind the load balancer: nothing to claim.
    fn claim(&self) -> anyhow::Result<()> {
        Ok(())
    }

    async fn close(&self) {
        self.hot.close().await;
        self.pool.close().await;
    }

    async fn load(
        &self,
        call_sid: &CallSid,
        since: i64,
        turn: Option<u64>,
    ) -> anyhow::Result<Option<Session>> {
        self.load_at_turn(call_sid.as_str(), since, turn).await
    }

    async fn save(&self, session: &Session, now: i64) -> anyhow::Result<()> {
        let state = serde_json::to_string(session)?;
        self.save_state(session, state, now).await
    }

    async fn save_position(&self, session: Session, now: i64) -> anyhow::Result<()> {
        // A session's first save waits, so a queued position always finds its row (a
        // session read before turns were numbered counts as new).
        if session.answers() <= 1 {
            return self.save(&session, now).await;
        }
        let state = serde_json::to_string(&session)?;
        match self.hot.save_behind(session, state, now) {
            Ok(()) => Ok(()),
            Err(session) => self.save(&session, now).await,
        }
    }

    /// Each server reads the table itself: what it read is the newest.
    fn newest(&self, session: Session, _now: i64) -> Session {
        session
    }

    fn server(&self) -> u32 {
        self.hot.server
    }

    /// Always: see `writer`.
    fn writes_behind(&self) -> bool {
        true
    }

    async fn end(
        &self,
        call_sid: &CallSid,
        status: &str,
        now: i64,
    ) -> anyhow::Result<Option<Option<Session>>> {
        // Through the writer, after this server's queued writes for the call, with the
        // other calls ending meanwhile (one statement for many status callbacks).
        match self.hot.end(call_sid.as_str(), status, now).await {
            Ok(Ok(state)) => return Ok(state.map(|json| serde_json::from_str(&json).ok())),
            Ok(Err(())) => anyhow::bail!("Failed to end the call session: its batch failed"),
            Err(()) => {}
        }
        // Alone, after this server's queued write: a save still queued would make the
        // call live again, and the session answered is then the one this server last gave.
        self.hot.settle(call_sid.as_str()).await;
        self.hot.forget(call_sid.as_str());
        let state: Option<String> = sqlx::query_scalar(END_SESSION_RELAXED)
            .bind(call_sid.as_str())
            .bind(now)
            .bind(status)
            .fetch_optional(&self.pool)
            .await
            .context("Failed to end the call session")?;
        Ok(state.map(|json| serde_json::from_str(&json).ok()))
    }

    fn sweep(&self, now: i64) {
        self.hot.sweep(now)
    }

    /// Through the writer, so the lines of many calls share a statement and a flush;
    /// alone when the writer cannot take it.
    async fn write_audit(&self, line: AuditLine) -> anyhow::Result<()> {
        let line = match self.hot.audit(line).await {
            Ok(true) => return Ok(()),
            Ok(false) => anyhow::bail!("the audit line's batch failed"),
            Err(line) => line,
        };
        sqlx::query(INSERT_AUDIT)
            .bind(line.at)
            .bind(line.call_sid)
            .bind(line.actor)
            .bind(line.event)
            .bind(line.outcome)
            .bind(line.participant_id)
            .bind(line.case_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn keep_call_path(&self, row: CallPathRow) -> anyhow::Result<()> {
        let row = match self.hot.keep_path(row).await {
            Ok(true) => return Ok(()),
            Ok(false) => anyhow::bail!("the call path's batch failed"),
            Err(row) => row,
        };
        sqlx::query(INSERT_CALL_PATH_RELAXED)
            .bind(&row.call_sid)
            .bind(row.started_at)
            .bind(row.ended_at)
            .bind(row.lang)
            .bind(row.channel)
            .bind(row.verified)
            .bind(row.verify_attempts)
            .bind(row.verify_locked)
            .bind(row.outcome)
            .bind(&row.ended_on)
            .bind(&row.steps)
            .bind(&row.caller_hash)
            .bind(row.load_test)
            .bind(&row.agency)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Nothing listens on port 1: the error says where it looked and what to check,
    /// not only that a pool timed out.
    #[tokio::test]
    async fn an_unreachable_database_says_where_and_what_to_check() {
        let Err(e) = Postgres::connect("postgres://caseline:s3cret@127.0.0.1:1/ivr", None, 2).await
        else {
            panic!("connected to nothing");
        };
        let said = format!("{e:#}");
        assert!(
            said.contains("cannot reach PostgreSQL at 127.0.0.1:1"),
            "{said}"
        );
        assert!(
            said.contains("CASELINE_DATABASE_URL") && said.contains("pg_isready"),
            "{said}"
        );
        assert!(!said.contains("s3cret"), "{said}");
    }

    #[tokio::test]
    async fn a_lost_connection_is_tried_once_more_and_only_once() {
        let tries = AtomicU32::new(0);
        let lost = || async {
            tries.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(sqlx::Error::Io(std::io::ErrorKind::ConnectionReset.into()))
        };
        assert!(once_more(lost).await.is_err());
        assert_eq!(tries.load(Ordering::SeqCst), 2, "tried twice, not more");
        let tries = AtomicU32::new(0);
        let then_ok = || async {
            match tries.fetch_add(1, Ordering::SeqCst) {
                0 => Err(sqlx::Error::Io(std::io::ErrorKind::BrokenPipe.into())),
                _ => Ok(7),
            }
        };
        assert_eq!(once_more(then_ok).await.ok(), Some(7));
        // A statement that is wrong is not tried again.
        let tries = AtomicU32::new(0);
        let wrong = || async {
            tries.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(sqlx::Error::RowNotFound)
        };
        assert!(once_more(wrong).await.is_err());
        assert_eq!(tries.load(Ordering::SeqCst), 1);
    }
}
