//! The call sessions' table: where each call is, between webhooks. On SQLite the
//! session path runs through `sqlite::hot` (a writer thread and a cache); on PostgreSQL
//! through the group-commit writer in `postgres`.

use anyhow::Context;
use sqlx::Row;

use super::backend::{Backend, on_backend};
use super::{SESSION_KEEP_SECS, SESSION_TTL_SECS, Sessions, on_both, run};
use crate::session::{CallSid, Session};

/// Shared by both backends (SQLite binds `$n` by position too).
pub(super) const SELECT_SESSION: &str = "SELECT state FROM call_sessions \
    WHERE call_sid = $1 AND ended_at IS NULL AND updated_at >= $2";

pub(super) const END_SESSION: &str = "UPDATE call_sessions SET ended_at = $2, end_status = $3, updated_at = $2 \
    WHERE call_sid = $1 AND ended_at IS NULL";

impl Sessions<'_> {
    /// The live session for a call, if any (ended or stale sessions are not returned).
    /// `turn` is the one the request's URL names, if any: on PostgreSQL the server that
    /// holds the session at that turn answers from memory (see `postgres::writer`).
    ///
    /// Its span, and `save`'s, are debug only: every webhook loads and saves, and its
    /// own span already names the call (at info, these two cost a few per cent of a
    /// menu step's CPU, most of it formatting their fields).
    #[tracing::instrument(level = "debug", skip_all, fields(call_sid = %call_sid))]
    pub async fn load(
        &self,
        call_sid: &CallSid,
        now: i64,
        turn: Option<u64>,
    ) -> anyhow::Result<Option<Session>> {
        on_backend!(self.store, |b| b
            .load(call_sid, now - SESSION_TTL_SECS, turn)
            .await)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(call_sid = %session.call_sid))]
    pub async fn save(&self, session: &Session, now: i64) -> anyhow::Result<()> {
        on_backend!(self.store, |b| b.save(session, now).await)
    }

    /// The newest copy of a session read from the file: the one in memory when this
    /// server holds a later save (one that has not reached the file yet).
    pub(crate) fn newest(&self, session: Session, now: i64) -> Session {
        on_backend!(self.store, |b| b.newest(session, now))
    }

    /// This server's name in the turns it gives (0 on SQLite).
    pub fn server(&self) -> u32 {
        on_backend!(self.store, |b| b.server())
    }

    /// Numbers the answer a webhook is building for `session` ([`Session::next_turn`]),
    /// in this server's name (on SQLite, where one server owns the file, the name is 0).
    pub fn number(&self, session: &mut Session, url_turn: Option<u64>) {
        let server = on_backend!(self.store, |b| b.server());
        session.next_turn(url_turn, server);
    }

    /// Whether [`Sessions::save_position`] answers before its commit: on SQLite, once this
    /// process has claimed the database (it then serves sessions from memory); always on
    /// PostgreSQL (see `postgres::writer`).
    pub fn writes_behind(&self) -> bool {
        on_backend!(self.store, |b| b.writes_behind())
    }

    /// Saves a session whose only change since it was loaded is where the caller is:
    /// the step, the step awaited (not the miss count). Where the store
    /// [`writes behind`](Sessions::writes_behind) this returns as soon as the save is queued
    /// (on SQLite the writer gathers such saves for 2 ms, then commits them together):
    /// every menu step is such a save, and not waiting for its commit spares a webhook a
    /// wake-up and the writer a commit of its own. A crash in those milliseconds loses only
    /// the position, which the next webhook's URL names anyway (the flow engine trusts
    /// the step the caller heard), the same trade PostgreSQL's relaxed session commit
    /// makes. Everything else (a new call, its language, verification, cases, callbacks,
    /// transfers) goes through [`Sessions::save`] and waits. A clean stop
    /// ([`super::Store::close`]) commits what is queued.
    pub async fn save_position(&self, session: Session, now: i64) -> anyhow::Result<()> {
        on_backend!(self.store, |b| b.save_position(session, now).await)
    }

    /// How this server's session reads went, on PostgreSQL (SQLite has one server and
    /// reads its file only for a call it does not hold, after a restart).
    pub fn reads(&self) -> Option<super::SessionReads> {
        match self.store {
            super::Store::Postgres(pg) => Some(pg.reads()),
            super::Store::Sqlite(_) => None,
        }
    }

    /// Whether this server has answered the call past `turn` (on PostgreSQL, from its
    /// copy): a request for `turn` is then a repeat, to be read, not taken from its URL.
    pub fn answered_past(&self, call_sid: &CallSid, turn: u64) -> bool {
        match self.store {
            super::Store::Postgres(pg) => pg.holds_later(call_sid.as_str(), turn),
            super::Store::Sqlite(_) => false,
        }
    }

    /// Marks a call over (from the provider's status callback); answers whether it was
    /// live.
    pub async fn end(&self, call_sid: &CallSid, status: &str, now: i64) -> anyhow::Result<bool> {
        Ok(self.finish(call_sid, status, now).await?.is_some())
    }

    /// Marks a call over and answers, when it was live, the session as it ended (`None`
    /// inside if it could not be read): on PostgreSQL one statement does both.
    #[tracing::instrument(skip(self), fields(call_sid = %call_sid))]
    pub async fn finish(
        &self,
        call_sid: &CallSid,
        status: &str,
        now: i64,
    ) -> anyhow::Result<Option<Option<Session>>> {
        on_backend!(self.store, |b| b.end(call_sid, status, now).await)
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
        let rows = run!(
            self.store,
            write,
            query(sql, token, call_sid.as_str(), now).execute,
            "Failed to take a stream token"
        )?;
        Ok(rows == 1)
    }

    /// Deletes sessions not touched for [`SESSION_KEEP_SECS`] (and stream tokens taken
    /// as long ago); answers how many sessions.
    pub async fn expire(&self, now: i64) -> anyhow::Result<u64> {
        on_backend!(self.store, |b| b.sweep(now));
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
    /// server last saved it (at most 500); with `agency`, the calls that belong to it
    /// ([`Session::belongs_to`]), found by a match on the stored JSON that both stores
    /// understand (the staff listing still checks each against this server's copy).
    pub async fn live(&self, now: i64, agency: Option<&str>) -> anyhow::Result<Vec<Session>> {
        const ALL: &str = "SELECT state FROM call_sessions WHERE ended_at IS NULL \
            AND updated_at > $1 ORDER BY created_at DESC LIMIT 500";
        const ONE: &str = "SELECT state FROM call_sessions WHERE ended_at IS NULL \
            AND updated_at > $1 AND state LIKE $2 ORDER BY created_at DESC LIMIT 500";
        let since = now - crate::store::SESSION_TTL_SECS;
        let states: Vec<String> = match agency {
            None => run!(
                self.store,
                read,
                query_scalar(ALL, since).fetch_all,
                "Failed to list live calls"
            )?,
            Some(id) => {
                // serde_json writes the field this way, without spaces; an agency id
                // is lowercase letters, digits and '-' (the file's check), so nothing
                // in it is a LIKE wildcard.
                let like = format!("%\"belongs_to\":{}%", serde_json::Value::from(id));
                run!(
                    self.store,
                    read,
                    query_scalar(ONE, since, &like).fetch_all,
                    "Failed to list the agency's live calls"
                )?
            }
        };
        Ok(states
            .iter()
            .filter_map(|s| serde_json::from_str(s).ok())
            .map(|s| self.newest(s, now))
            .collect())
    }
}
