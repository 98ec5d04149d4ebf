//! The call sessions' table: where each call is, between webhooks. On SQLite the
//! session path runs through `sqlite::hot` (a writer thread and a cache); on PostgreSQL
//! through the group-commit writer in `postgres`.

use anyhow::Context;
use sqlx::Row;

use super::hot::Write;
use super::{SESSION_KEEP_SECS, SESSION_TTL_SECS, Sessions, Sqlite, Store, on_both};
use crate::session::{CallSid, Session};

/// Shared by both backends (SQLite binds `$n` by position too).
pub(super) const SELECT_SESSION: &str = "SELECT state FROM call_sessions \
    WHERE call_sid = $1 AND ended_at IS NULL AND updated_at >= $2";

pub(super) const END_SESSION: &str = "UPDATE call_sessions SET ended_at = $2, end_status = $3, updated_at = $2 \
    WHERE call_sid = $1 AND ended_at IS NULL";

/// PostgreSQL's twin of [`END_SESSION`], relaxed like the session save: a database crash
/// may forget that a call in its last fraction of a second ended; the sweeper removes
/// the session when it goes stale.
const END_SESSION_RELAXED: &str = "UPDATE call_sessions SET ended_at = $2, end_status = $3, updated_at = $2 \
    FROM (SELECT set_config('synchronous_commit', 'off', true)) AS relaxed \
    WHERE call_sid = $1 AND ended_at IS NULL";

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

    /// Calls not ended and heard from within `SESSION_TTL`, newest first, each as this
    /// server last saved it.
    pub async fn live(&self, now: i64) -> anyhow::Result<Vec<Session>> {
        let sql = "SELECT state FROM call_sessions WHERE ended_at IS NULL AND updated_at > $1 \
                   ORDER BY created_at DESC LIMIT 500";
        let since = now - crate::store::SESSION_TTL_SECS;
        let states: Vec<String> = on_both!(
            self.store,
            read | pool | {
                sqlx::query_scalar(sql)
                    .bind(since)
                    .fetch_all(pool)
                    .await
                    .context("Failed to list live calls")?
            }
        );
        Ok(states
            .iter()
            .filter_map(|s| serde_json::from_str(s).ok())
            .map(|s| self.newest(s, now))
            .collect())
    }
}
