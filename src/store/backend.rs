//! The one seam between the two backends: what SQLite and PostgreSQL truly do
//! differently. Everything else (the parts' queries) is one statement run on either
//! pool (see `on_both!`); the case tables keep one representation on both.
//!
//! What differs is the session path (SQLite: a writer thread and a cache in front of
//! one file, owned by one server; PostgreSQL: a group-commit writer shared by many
//! servers, with each server's last answered turns in memory), how a migration runs,
//! how audit lines and call paths are written, and two words of SQL. Calls go through [`on_backend!`], a `match` on [`super::Store`]
//! over concrete types: no boxed futures on the webhook path.

use super::{AuditLine, CallPathRow};
use crate::session::{CallSid, Session};

/// What a backend does its own way. Implemented by [`super::Sqlite`] and
/// [`super::Postgres`].
pub(crate) trait Backend {
    /// How a transaction that reads and then writes starts. SQLite takes the write
    /// lock at once: the session writer may commit between a read and a write of a
    /// deferred transaction, which SQLite answers with BUSY.
    fn begin_write(&self) -> &'static str;
    /// What a claim's subquery adds so two servers never take the same row (SQLite has
    /// one writer, so nothing).
    fn skip_locked(&self) -> &'static str;

    /// The statement that lifts the statement timeout for the rest of a transaction
    /// (an import's statements may take longer than a webhook's), if there is one.
    fn lift_statement_timeout(&self) -> Option<&'static str>;

    /// Applies pending migrations (`migrations/<backend>/`).
    async fn migrate(&self) -> anyhow::Result<()>;
    /// Makes this process the server that answers calls (see `Store::claim_sessions`).
    fn claim(&self) -> anyhow::Result<()>;
    /// Stops reads and writes, committing what is queued first.
    async fn close(&self);

    /// The live session saved at or after `since`; `turn` is the one the request's URL
    /// names, if any.
    async fn load(
        &self,
        call_sid: &CallSid,
        since: i64,
        turn: Option<u64>,
    ) -> anyhow::Result<Option<Session>>;
    /// Saves a session and waits for its commit.
    async fn save(&self, session: &Session, now: i64) -> anyhow::Result<()>;
    /// Saves a session whose only change is the caller's position, where the backend
    /// may answer before the commit (see `Sessions::save_position`).
    async fn save_position(&self, session: Session, now: i64) -> anyhow::Result<()>;
    /// The newest copy of a session read from the table (see `Sessions::newest`).
    fn newest(&self, session: Session, now: i64) -> Session;
    /// This server's name in the turns it numbers.
    fn server(&self) -> u32;
    /// Whether a position save answers before its commit.
    fn writes_behind(&self) -> bool;
    /// Writes an audit line; answers once it is durable. On SQLite through the session
    /// writer (a second writer on the file would make both wait on its lock).
    async fn write_audit(&self, line: AuditLine) -> anyhow::Result<()>;
    /// Keeps an ended call's path (once: a repeated status callback adds nothing).
    async fn keep_call_path(&self, row: CallPathRow) -> anyhow::Result<()>;
    /// Marks a call over; answers, if it was live, the session as it was (`None` inside
    /// when unreadable).
    async fn end(
        &self,
        call_sid: &CallSid,
        status: &str,
        now: i64,
    ) -> anyhow::Result<Option<Option<Session>>>;
    /// Drops from memory the sessions no longer live at `now`.
    fn sweep(&self, now: i64);
}

/// Runs `$body` with `$b` bound to whichever backend the store is (both implement
/// [`Backend`]).
macro_rules! on_backend {
    ($store:expr, |$b:ident| $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite($b) => $body,
            $crate::store::Store::Postgres($b) => $body,
        }
    };
}

pub(in crate::store) use on_backend;
