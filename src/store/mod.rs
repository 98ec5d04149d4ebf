//! Persistence: SQLite (embedded default, created and migrated on first run) or
//! PostgreSQL (production). One enum, one method per question the IVR asks; each runs
//! one indexed statement. Where the dialects agree the SQL text is shared (`$1`
//! placeholders work in both); each backend has its own `migrations/<backend>/`.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::session::{CallSid, Session};

mod attempts;
mod audit;
mod cache;
pub mod health;
mod hot;
mod pg;
mod work;
pub use attempts::{Guard, Limit, Reservation, Slot};
pub use audit::{AuditEntry, AuditLine, CallPathRow};
use hot::{Hot, Write};
pub use pg::Postgres;
pub use work::WorkKind;

/// A session not touched for this long is treated as over (the provider caps calls at
/// four hours).
pub const SESSION_TTL_SECS: i64 = 4 * 3600;
/// Rows older than this are deleted by the sweeper.
pub const SESSION_KEEP_SECS: i64 = 24 * 3600;

/// PostgreSQL's `statement_timeout` and `lock_timeout` for every connection, in
/// milliseconds.
const STATEMENT_TIMEOUT_MS: &str = "5000";

#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(Sqlite),
    Postgres(Postgres),
}

/// SQLite allows one writer at a time. The occasional writes (imports, staff, status
/// callbacks) share one pooled connection, so they queue in the pool (an async wait)
/// instead of contending for the file lock (SQLite's busy handler sleeps, which showed
/// as multi-millisecond p99s); readers use their own pool, which WAL lets run beside the
/// writer. Session reads and writes and audit lines, on every webhook's path, take the
/// `hot` path.
#[derive(Clone, Debug)]
pub struct Sqlite {
    pub read: SqlitePool,
    pub write: SqlitePool,
    hot: Arc<Hot>,
}

/// Runs the same statement on whichever backend this is; `read` or `write` picks the
/// SQLite pool.
macro_rules! on_both {
    ($store:expr, read |$pool:ident| $body:expr) => {
        match $store {
            Store::Sqlite(Sqlite { read: $pool, .. }) => $body,
            Store::Postgres($crate::store::Postgres { pool: $pool, .. }) => $body,
        }
    };
    ($store:expr, write |$pool:ident| $body:expr) => {
        match $store {
            Store::Sqlite(Sqlite { write: $pool, .. }) => $body,
            Store::Postgres($crate::store::Postgres { pool: $pool, .. }) => $body,
        }
    };
}

pub(crate) use on_both;

/// Declares a part of the store: a view that says what it holds, reached as
/// `store.<part>()` (`store.sessions().load(..)`), with its queries in its own `impl`.
macro_rules! part {
    ($name:ident, $method:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Copy)]
        pub struct $name<'a> {
            pub(crate) store: &'a Store,
        }

        impl Store {
            #[doc = $doc]
            pub fn $method(&self) -> $name<'_> {
                $name { store: self }
            }
        }
    };
}

part!(
    Sessions,
    sessions,
    "Call sessions: where each call is, between webhooks."
);
part!(
    Announcements,
    announcements,
    "The emergency announcement slot."
);
part!(
    Attempts,
    attempts,
    "Guesses counted before they are checked (PAR IDs, staff passwords)."
);
part!(
    AuditLog,
    audit_log,
    "The audit table: who did what, never the digits."
);
part!(
    Cases,
    cases,
    "Participants, cases, payments and disbursements from the extract."
);
part!(
    StaffAccounts,
    staff,
    "Staff accounts, their logins, and their hand-offs of live calls."
);
part!(
    KeyFingerprints,
    key_fingerprints,
    "Fingerprints of the keys the stored data depends on (never the keys)."
);
part!(
    CallbackQueue,
    callback_queue,
    "Callback requests left by callers."
);
part!(
    RequestQueue,
    requests,
    "Things verified callers asked for by phone (by mail)."
);
part!(
    CardPayments,
    card_payments,
    "Card payments verified callers made by phone (what the processor confirmed)."
);
part!(
    WorkQueue,
    work,
    "Claiming and completing work items (callbacks, requests by mail)."
);

/// The announcement in the slot, with its window.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Announcement {
    pub text_en: String,
    pub text_es: String,
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
}

/// Shared by both backends (SQLite binds `$n` by position too).
const SELECT_SESSION: &str = "SELECT state FROM call_sessions \
    WHERE call_sid = $1 AND ended_at IS NULL AND updated_at >= $2";

const END_SESSION: &str = "UPDATE call_sessions SET ended_at = $2, end_status = $3, updated_at = $2 \
    WHERE call_sid = $1 AND ended_at IS NULL";

/// PostgreSQL's twin of [`END_SESSION`], relaxed like the session save: a database crash
/// may forget that a call in its last fraction of a second ended; the sweeper removes
/// the session when it goes stale.
const END_SESSION_RELAXED: &str = "UPDATE call_sessions SET ended_at = $2, end_status = $3, updated_at = $2 \
    FROM (SELECT set_config('synchronous_commit', 'off', true)) AS relaxed \
    WHERE call_sid = $1 AND ended_at IS NULL";

pub(crate) const INSERT_AUDIT: &str = "INSERT INTO audit (at, call_sid, actor, event, outcome, participant_id, case_id) \
    VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// Runs an idempotent statement, and once more if the first try failed on a
/// connection the database had closed (a restart, a failover, an idle reaper): the
/// pool hands out a fresh one, and the caller does not hear an apology for it.
async fn once_more<T, F>(run: impl Fn() -> F) -> Result<T, sqlx::Error>
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
fn connection_lost(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) => true,
        // Class 08 is "connection exception"; 57P01-57P03 are shutdowns.
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P0")),
        _ => false,
    }
}

impl Sqlite {
    /// Writes an audit line through the group commit; answers once it is durable.
    pub(crate) async fn write_audit(&self, line: AuditLine) -> anyhow::Result<()> {
        self.hot.write(Write::Audit(line)).await.map(|_| ())
    }

    /// Writes an ended call's path through the group commit.
    pub(crate) async fn write_call_path(&self, row: CallPathRow) -> anyhow::Result<()> {
        self.hot
            .write(Write::CallPath(Box::new(row)))
            .await
            .map(|_| ())
    }
}

impl Store {
    /// Connects (creating a SQLite file if missing) and applies pending migrations.
    pub async fn connect(url: &str) -> anyhow::Result<Store> {
        Self::connect_in_schema(url, None).await
    }

    /// As [`Store::connect`], with PostgreSQL confined to one schema (tests use a fresh
    /// schema each).
    pub async fn connect_in_schema(url: &str, schema: Option<&str>) -> anyhow::Result<Store> {
        let store = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
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
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(3))
                .connect_with(opts)
                .await
                .context("Failed to connect to PostgreSQL")?;
            Store::Postgres(Postgres::new(pool))
        } else {
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
            Store::Sqlite(Sqlite { read, write, hot })
        };
        store.migrate().await?;
        Ok(store)
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self {
            Store::Sqlite(db) => sqlx::migrate!("./migrations/sqlite").run(&db.write).await,
            Store::Postgres(Postgres { pool, .. }) => {
                // A migration may take longer than a webhook's statement timeout: it
                // runs on a connection of its own without one, closed after.
                let mut conn = pool.acquire().await?;
                conn.close_on_drop();
                for set in ["SET statement_timeout = 0", "SET lock_timeout = 0"] {
                    sqlx::query(set).execute(&mut *conn).await?;
                }
                sqlx::migrate!("./migrations/postgres")
                    .run(&mut *conn)
                    .await
            }
        }
        .context("Failed to apply database migrations")
    }

    /// Makes this process the server that answers calls on this database. On SQLite it
    /// takes the database's server lock (refusing while another server holds it) and
    /// then keeps each committed call session in memory, so a webhook reads its session
    /// without touching the file. PostgreSQL is shared by every server behind the load
    /// balancer: nothing changes there, each webhook reads its session.
    ///
    /// Commands that only manage data (`import`, `staff`, `announce`...) do not claim, so
    /// they run beside a live server.
    pub fn claim_sessions(&self) -> anyhow::Result<()> {
        match self {
            Store::Sqlite(db) => db.hot.claim(),
            Store::Postgres(_) => Ok(()),
        }
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        let answered = on_both!(
            self,
            read | pool | {
                sqlx::query_scalar::<_, i32>("SELECT 1")
                    .fetch_one(pool)
                    .await
            }
        );
        answered.is_ok()
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// Stops the store: reads and writes fail from now on, and on SQLite everything
    /// already queued is committed first.
    pub async fn close(&self) {
        match self {
            Store::Sqlite(db) => {
                db.hot.close().await;
                db.write.close().await;
                db.read.close().await;
            }
            Store::Postgres(pg) => {
                pg.hot.close().await;
                pg.pool.close().await;
            }
        }
    }
}

impl Sessions<'_> {
    /// The live session for a call, if any (ended or stale sessions are not returned).
    /// `turn` is the one the request's URL names, if any: on PostgreSQL the server that
    /// holds the session at that turn answers from memory (see `pg`).
    #[tracing::instrument(skip(self), fields(call_sid = %call_sid))]
    pub async fn load(
        &self,
        call_sid: &CallSid,
        now: i64,
        turn: Option<u64>,
    ) -> anyhow::Result<Option<Session>> {
        let since = now - SESSION_TTL_SECS;
        let state: Option<String> = match self.store {
            Store::Sqlite(db) => {
                if let Some(session) = db.hot.cached_session(call_sid.as_str(), since)? {
                    return Ok(Some(session));
                }
                db.hot.load_session(call_sid.as_str(), since)?
            }
            Store::Postgres(pg) => return pg.load(call_sid.as_str(), since, turn).await,
        };
        match state {
            Some(json) => Ok(Some(
                serde_json::from_str(&json).context("Stored session is not readable")?,
            )),
            None => Ok(None),
        }
    }

    #[tracing::instrument(skip_all, fields(call_sid = %session.call_sid))]
    pub async fn save(&self, session: &Session, now: i64) -> anyhow::Result<()> {
        let state = serde_json::to_string(session)?;
        match self.store {
            Store::Sqlite(db) => db
                .hot
                .write(Write::Session {
                    call_sid: session.call_sid.as_str().to_string(),
                    state,
                    now,
                    cached: db.hot.caching().then(|| Box::new(session.clone())),
                    seq: db.hot.next_seq(),
                })
                .await
                .map(|_| ())
                .context("Failed to save the call session"),
            Store::Postgres(pg) => pg.save(session, state, now).await,
        }
    }

    /// The newest copy of a session read from the file: the one in memory when this
    /// server holds a later save (one that has not reached the file yet).
    pub(crate) fn newest(&self, session: Session, now: i64) -> Session {
        match self.store {
            Store::Sqlite(db) => db
                .hot
                .cached_session(session.call_sid.as_str(), now - SESSION_TTL_SECS)
                .ok()
                .flatten()
                .unwrap_or(session),
            Store::Postgres(_) => session,
        }
    }

    /// Numbers the answer a webhook is building for `session` ([`Session::next_turn`]),
    /// in this server's name (on SQLite, where one server owns the file, the name is 0).
    pub fn number(&self, session: &mut Session, url_turn: Option<u64>) {
        let server = match self.store {
            Store::Sqlite(_) => 0,
            Store::Postgres(pg) => pg.hot.server,
        };
        session.next_turn(url_turn, server);
    }

    /// Whether [`Sessions::save_position`] answers before its commit: on SQLite, once this
    /// process has claimed the database (it then serves sessions from memory); always on
    /// PostgreSQL (see `pg`).
    pub fn writes_behind(&self) -> bool {
        match self.store {
            Store::Sqlite(db) => db.hot.caching(),
            Store::Postgres(_) => true,
        }
    }

    /// Saves a session whose only change since it was loaded is where the caller is:
    /// the step, the step awaited, the miss count. Where the store
    /// [`writes behind`](Sessions::writes_behind) this returns as soon as the save is queued
    /// (the next batch commits it, within a fraction of a millisecond): every menu step
    /// is such a save, and not waiting for its commit spares a webhook a wake-up and the
    /// writer a commit of its own. A crash in that fraction of a millisecond loses only
    /// the position, which the next webhook's URL names anyway (the flow engine trusts
    /// the step the caller heard), the same trade PostgreSQL's relaxed session commit
    /// makes. Everything else (a new call, its language, verification, cases, callbacks,
    /// transfers) goes through [`Sessions::save`] and waits. A clean stop
    /// ([`Store::close`]) commits what is queued.
    pub async fn save_position(&self, session: Session, now: i64) -> anyhow::Result<()> {
        match self.store {
            Store::Sqlite(db) if db.hot.caching() => {
                let state = serde_json::to_string(&session)?;
                db.hot
                    .save_behind(session, state, now)
                    .context("Failed to save the call session")
            }
            // A session's first save waits, so a queued position always finds its row
            // (a session read before turns were numbered counts as new).
            Store::Postgres(pg) if session.answers() > 1 => {
                let state = serde_json::to_string(&session)?;
                match pg.hot.save_behind(session, state, now) {
                    Ok(()) => Ok(()),
                    Err(session) => self.save(&session, now).await,
                }
            }
            _ => self.save(&session, now).await,
        }
    }

    /// Marks a call over (from the provider's status callback).
    #[tracing::instrument(skip(self), fields(call_sid = %call_sid))]
    pub async fn end(&self, call_sid: &CallSid, status: &str, now: i64) -> anyhow::Result<bool> {
        let rows = match self.store {
            // Through the session writer, so the end is ordered with the call's saves
            // and the cache forgets the call.
            Store::Sqlite(db) => db
                .hot
                .write(Write::End {
                    call_sid: call_sid.as_str().to_string(),
                    status: status.to_string(),
                    now,
                    seq: db.hot.next_seq(),
                })
                .await
                .context("Failed to end the call session")? as u64,
            Store::Postgres(pg) => {
                // After this server's queued position, which would not revive the call
                // but is better written first.
                pg.hot.settle(call_sid.as_str()).await;
                pg.hot.forget(call_sid.as_str());
                sqlx::query(END_SESSION_RELAXED)
                    .bind(call_sid.as_str())
                    .bind(now)
                    .bind(status)
                    .execute(&pg.pool)
                    .await
                    .context("Failed to end the call session")?
                    .rows_affected()
            }
        };
        Ok(rows > 0)
    }

    /// How a session ended, if it did (for tests and staff views).
    pub async fn ended(&self, call_sid: &CallSid) -> anyhow::Result<Option<String>> {
        let sql = "SELECT end_status FROM call_sessions WHERE call_sid = $1";
        let status: Option<Option<String>> = on_both!(
            self.store,
            read | pool | {
                sqlx::query(sql)
                    .bind(call_sid.as_str())
                    .fetch_optional(pool)
                    .await?
                    .map(|row| row.try_get::<Option<String>, _>("end_status"))
                    .transpose()?
            }
        );
        Ok(status.flatten())
    }

    /// Takes a TTY stream's token for its `start`: `true` for the first to take it, on
    /// any server; `false` if it was taken before.
    #[tracing::instrument(skip(self, token), fields(call_sid = %call_sid))]
    pub async fn take_stream_token(
        &self,
        call_sid: &CallSid,
        token: &str,
        now: i64,
    ) -> anyhow::Result<bool> {
        let sql = "INSERT INTO stream_starts (token, call_sid, taken_at) VALUES ($1, $2, $3) \
                   ON CONFLICT (token) DO NOTHING";
        let rows = on_both!(
            self.store,
            write | pool | {
                sqlx::query(sql)
                    .bind(token)
                    .bind(call_sid.as_str())
                    .bind(now)
                    .execute(pool)
                    .await
                    .context("Failed to take a stream token")?
                    .rows_affected()
            }
        );
        Ok(rows == 1)
    }

    /// Deletes sessions not touched for [`SESSION_KEEP_SECS`] (and stream tokens taken
    /// as long ago); answers how many sessions.
    pub async fn expire(&self, now: i64) -> anyhow::Result<u64> {
        match self.store {
            Store::Sqlite(db) => db.hot.sweep_cache(now - SESSION_TTL_SECS),
            Store::Postgres(pg) => pg.hot.sweep(now),
        }
        let sql = "DELETE FROM call_sessions WHERE updated_at < $1";
        let tokens = "DELETE FROM stream_starts WHERE taken_at < $1";
        Ok(on_both!(
            self.store,
            write | pool | {
                sqlx::query(tokens)
                    .bind(now - SESSION_KEEP_SECS)
                    .execute(pool)
                    .await
                    .context("Failed to expire stream tokens")?;
                sqlx::query(sql)
                    .bind(now - SESSION_KEEP_SECS)
                    .execute(pool)
                    .await
                    .context("Failed to expire sessions")?
                    .rows_affected()
            }
        ))
    }
}

impl Announcements<'_> {
    /// The announcement in force at `now`, if any.
    pub async fn current(&self, now: i64) -> anyhow::Result<Option<Announcement>> {
        self.read(Some(now)).await
    }

    /// The announcement in the slot, in force or not (for staff to see).
    pub async fn slot(&self) -> anyhow::Result<Option<Announcement>> {
        self.read(None).await
    }

    async fn read(&self, now: Option<i64>) -> anyhow::Result<Option<Announcement>> {
        let sql = match now {
            Some(_) => {
                "SELECT text_en, text_es, starts_at, ends_at FROM announcement WHERE id = 1 \
                 AND (starts_at IS NULL OR starts_at <= $1) AND (ends_at IS NULL OR ends_at > $1)"
            }
            None => "SELECT text_en, text_es, starts_at, ends_at FROM announcement WHERE id = 1",
        };
        on_both!(
            self.store,
            read | pool | {
                let mut q = sqlx::query_as(sql);
                if let Some(now) = now {
                    q = q.bind(now);
                }
                q.fetch_optional(pool)
                    .await
                    .context("Failed to read the announcement")
            }
        )
    }

    /// Puts an announcement in the slot (replacing any).
    pub async fn set(&self, a: &Announcement, now: i64) -> anyhow::Result<()> {
        let sql = "INSERT INTO announcement (id, text_en, text_es, starts_at, ends_at, updated_at) \
                   VALUES (1, $1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET \
                   text_en = excluded.text_en, text_es = excluded.text_es, \
                   starts_at = excluded.starts_at, ends_at = excluded.ends_at, \
                   updated_at = excluded.updated_at";
        on_both!(
            self.store,
            write | pool | {
                sqlx::query(sql)
                    .bind(&a.text_en)
                    .bind(&a.text_es)
                    .bind(a.starts_at)
                    .bind(a.ends_at)
                    .bind(now)
                    .execute(pool)
                    .await
                    .context("Failed to set the announcement")?;
            }
        );
        Ok(())
    }

    pub async fn clear(&self) -> anyhow::Result<()> {
        on_both!(
            self.store,
            write | pool | {
                sqlx::query("DELETE FROM announcement")
                    .execute(pool)
                    .await
                    .context("Failed to clear the announcement")?;
            }
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

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
