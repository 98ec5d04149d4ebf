//! PostgreSQL's webhook path: a call's session read from this server's copy
//! ([`super::hot`]) or the database, and saved through the group-commit
//! [`super::writer`].
//!
//! Why: on PostgreSQL a menu step cost two round trips (read the session, write it
//! back), each a statement the database parses, plans and logs; with the database on
//! the same two cores that was most of a step's cost, and the line held a fifth of what
//! it held on SQLite. Now a step the provider asks for by one of our URLs usually costs
//! no round trip of its own:
//!
//! - **Reads.** Each answer is numbered ([`Session::turn`]) and our step and input URLs
//!   carry the number. The provider asks for such a URL only in answer to that turn, so
//!   if this server holds the session at that very turn, nobody has changed it since
//!   (another server that moved the call on would have given out a later number). Any
//!   other request (no number, another number, a session this server does not hold)
//!   reads the database once, and never waits (see [`Postgres::load_at_turn`]).
//! - **Writes.** A save that only moves the caller (see
//!   [`crate::store::Sessions::save_position`]) is queued and answered at once; one task
//!   commits whatever is queued in one `INSERT ... SELECT FROM UNNEST` with a relaxed
//!   commit. Every other save (a new call, a language, verification, a case, a
//!   transfer...) goes through the same task and is answered only after its commit
//!   (group commit): when calls start thousands a second, one statement writes the
//!   new sessions of many, instead of each waiting its turn for a connection.
//!
//! What holds: a call moves between servers (a server not holding the turn reads the
//! database), and a crash or restart loses at most the caller's last position, which
//! the next request's URL names anyway (the flow engine trusts the step the caller
//! heard). A queued position never overwrites a later save or revives an ended call:
//! the batch updates a row only while it is live and its turn is older.

use std::sync::atomic::Ordering;

use anyhow::Context;
use sqlx::PgPool;

use super::hot::{PgHot, SessionReads, read_counters};
use super::writer::{Row, UPSERT_SAVES, write_rows};
use super::{Postgres, once_more};
use crate::session::Session;
use crate::store::sessions::SELECT_SESSION;

impl Postgres {
    /// Wraps a connected pool and starts its writer and reader (on the current runtime).
    pub(super) fn new(pool: PgPool) -> Postgres {
        Postgres {
            reader: std::sync::Arc::new(super::reader::Reader::start(pool.clone())),
            hot: PgHot::start(&pool),
            pool,
            announcement: std::sync::Arc::default(),
        }
    }
}

impl Postgres {
    /// Saves a session and waits for its commit: with other calls' saves through the
    /// writer, or in a statement of its own when the writer cannot take it (its queue
    /// is full). A save that failed or may not have landed leaves nothing in memory, so
    /// the call is read from the database next time.
    pub(super) async fn save_state(
        &self,
        session: &Session,
        state: String,
        now: i64,
    ) -> anyhow::Result<()> {
        let saved = match self.hot.save_grouped(session, state, now).await {
            // The writer has recorded it in memory.
            Ok(true) => return Ok(()),
            Ok(false) => Err(anyhow::anyhow!("the batch with this save failed")),
            Err(state) => {
                let row = Row {
                    call_sid: session.call_sid.as_str().to_string(),
                    state,
                    turn: session.turn,
                    at: now,
                };
                write_rows(&self.pool, UPSERT_SAVES, std::slice::from_ref(&row))
                    .await
                    .map(|_| ())
                    .map_err(anyhow::Error::from)
            }
        };
        match saved {
            Ok(()) => {
                self.hot.saved(session.clone(), now);
                Ok(())
            }
            Err(e) => {
                self.hot.forget(session.call_sid.as_str());
                Err(e).context("Failed to save the call session")
            }
        }
    }

    /// The live session saved at or after `since`: from memory when this server holds
    /// it at the request's `turn`, else from the database in one indexed read (in one
    /// statement with the other reads made meanwhile, see `reader`), never waiting for
    /// a write.
    ///
    /// A read may find the database behind in two ways, neither waited for:
    /// - this server's own change for the call is still queued in its writer: the copy
    ///   in memory is then the later one (by the count of answers in its turn) and is
    ///   served, as the read would have found it once committed;
    /// - another server answered the turn the URL names and its position is still
    ///   queued there (for a millisecond or two): the older row is served as it is. It
    ///   differs only in where the caller was, and the flow engine goes on from the step
    ///   the URL names; what the request loses is that turn's miss count and the step
    ///   it added to the call's path.
    ///
    /// Before issue 27 such a read waited for this server's writer, then read again
    /// every 10 ms for up to 50 ms: behind a round-robin balancer half the requests
    /// cross servers, and under back-to-back load those waits and reads cut two
    /// servers' throughput to a fifth of one's. At a caller's pace (seconds between
    /// keys) both positions are committed long before the next request.
    pub(super) async fn load_at_turn(
        &self,
        call_sid: &str,
        since: i64,
        turn: Option<u64>,
    ) -> anyhow::Result<Option<Session>> {
        if let Some(session) = turn.and_then(|t| self.hot.at_turn(call_sid, t, since)) {
            self.hot.reads.memory.fetch_add(1, Ordering::Relaxed);
            read_counters()[0].increment(1);
            return Ok(Some(session));
        }
        self.hot.reads.database.fetch_add(1, Ordering::Relaxed);
        read_counters()[1].increment(1);
        let state = match self.reader.read(call_sid, since).await {
            Ok(read) => read,
            // The reader's queue is full: alone.
            Err(()) => once_more(|| {
                sqlx::query_scalar(SELECT_SESSION)
                    .bind(call_sid)
                    .bind(since)
                    .fetch_optional(&self.pool)
            })
            .await
            .map_err(anyhow::Error::from),
        }
        .context("Failed to load the call session")?;
        let Some(json) = state else {
            // Ended (maybe on another server) or gone: a copy here is stale.
            self.hot.forget(call_sid);
            return Ok(None);
        };
        let read =
            serde_json::from_str::<Session>(&json).context("Stored session is not readable")?;
        Ok(Some(self.hot.newer_queued(read, since)))
    }

    /// Whether this server holds the call at a later answer than `turn`'s.
    pub(in crate::store) fn holds_later(&self, call_sid: &str, turn: u64) -> bool {
        self.hot.holds_later(call_sid, turn)
    }

    /// How this server's session reads went since it started (see [`SessionReads`]).
    pub(in crate::store) fn reads(&self) -> SessionReads {
        let r = &self.hot.reads;
        SessionReads {
            from_memory: r.memory.load(Ordering::Relaxed),
            from_database: r.database.load(Ordering::Relaxed),
            statements: self.reader.statements(),
            waited: r.waited.load(Ordering::Relaxed),
        }
    }
}
