//! Live call sessions kept in memory by the one server that owns a SQLite database.
//!
//! Why: reading a session back from SQLite on every webhook was the largest single cost
//! of a menu step once the write was group-committed (a read transaction, the
//! write-ahead log's index, pages copied out of the log: a few microseconds, a sixth of
//! the step). The server that wrote a session last already holds it.
//!
//! Why it stays right: every change to a session row goes through the one SQLite writer
//! thread (saves and ends; the sweep only deletes rows the cache no longer serves), and
//! the cache learns of each in the order they were made: each save or end takes a
//! number as it is queued, and the cache keeps the highest. The writer records each
//! after it commits; a save that does not wait for its commit (where the caller is in
//! the flow, see [`super::Store::save_position`]) is recorded as it is queued, so the
//! cache may run ahead of the file by the writes still queued, never behind. A failed
//! commit drops the call, so the next read goes to the file. Nothing outside this
//! process may change the rows: the cache is switched on only while this process holds
//! the database's server lock ([`super::Store::claim_sessions`]). A miss falls back to
//! the database, so a restarted server starts empty and reads what it needs.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::session::Session;

/// Sessions kept at most. A line's live calls are far fewer; past this (status
/// callbacks lost for hours, say) new sessions are simply read from the database.
const MAX_ENTRIES: usize = 50_000;

struct Entry {
    session: Session,
    /// Unix seconds of the save, as `call_sessions.updated_at`.
    updated_at: i64,
    /// The write's number: a lower one never replaces or removes a higher one.
    seq: u64,
}

/// Call sessions by CallSid, as last committed.
#[derive(Default)]
pub(super) struct SessionCache {
    enabled: AtomicBool,
    entries: Mutex<HashMap<String, Entry>>,
}

impl SessionCache {
    /// Switches the cache on; until then it holds nothing and every read misses.
    pub(super) fn enable(&self) {
        self.enabled.store(true, Ordering::Release);
    }

    pub(super) fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Acquire)
    }

    /// The session as last committed, if it was saved at or after `since` (the same
    /// window as the database read).
    pub(super) fn get(&self, call_sid: &str, since: i64) -> Option<Session> {
        if !self.is_enabled() {
            return None;
        }
        let entries = self.entries.lock().ok()?;
        entries
            .get(call_sid)
            .filter(|e| e.updated_at >= since)
            .map(|e| e.session.clone())
    }

    /// Records save number `seq`, unless the cache already holds a later one.
    pub(super) fn put(&self, session: Session, updated_at: i64, seq: u64) {
        if !self.is_enabled() {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        let full = entries.len() >= MAX_ENTRIES;
        let key = session.call_sid.as_str();
        match entries.get_mut(key) {
            Some(e) if e.seq > seq => {}
            Some(e) => {
                *e = Entry {
                    session,
                    updated_at,
                    seq,
                }
            }
            None if full => {}
            None => {
                entries.insert(
                    key.to_string(),
                    Entry {
                        session,
                        updated_at,
                        seq,
                    },
                );
            }
        }
    }

    /// Drops a call as of write number `seq`: it ended, or that write failed and only
    /// the database knows what it holds now. A later save stays (it carries the whole
    /// session, and its own commit will write it).
    pub(super) fn forget(&self, call_sid: &str, seq: u64) {
        if let Ok(mut entries) = self.entries.lock()
            && entries.get(call_sid).is_some_and(|e| e.seq <= seq)
        {
            entries.remove(call_sid);
        }
    }

    /// Drops sessions saved before `since`; reads would not serve them anyway.
    pub(super) fn sweep(&self, since: i64) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|_, e| e.updated_at >= since);
        }
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.entries.lock().map_or(0, |e| e.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::CallSid;
    use crate::words::prompts::Channel;

    fn session(sid: &str, step: &str) -> Session {
        let mut s = Session::new(CallSid::parse(sid).unwrap(), Channel::Voice, 0);
        s.step = Some(step.into());
        s
    }

    #[test]
    fn a_disabled_cache_keeps_nothing() {
        let cache = SessionCache::default();
        cache.put(session("CA1", "main-menu"), 100, 1);
        assert!(cache.get("CA1", 0).is_none());
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn the_last_put_is_served_within_its_window() {
        let cache = SessionCache::default();
        cache.enable();
        cache.put(session("CA1", "language"), 100, 1);
        cache.put(session("CA1", "main-menu"), 110, 2);
        let got = cache.get("CA1", 110).unwrap();
        assert_eq!(got.step.as_deref(), Some("main-menu"));
        assert!(cache.get("CA1", 111).is_none(), "older than the window");
        assert!(cache.get("CA2", 0).is_none());
    }

    #[test]
    fn forget_and_sweep_drop_entries() {
        let cache = SessionCache::default();
        cache.enable();
        cache.put(session("CA1", "a"), 100, 1);
        cache.put(session("CA2", "b"), 200, 2);
        cache.put(session("CA3", "c"), 300, 3);
        cache.forget("CA1", 4);
        assert!(cache.get("CA1", 0).is_none());
        cache.sweep(250);
        assert!(cache.get("CA2", 0).is_none());
        assert_eq!(cache.get("CA3", 0).unwrap().step.as_deref(), Some("c"));
        assert_eq!(cache.len(), 1);
    }

    /// A save recorded as it was queued (number 2) must survive the writer recording
    /// the commit of the one before it (number 1), and that one's failure.
    #[test]
    fn an_earlier_write_never_replaces_or_drops_a_later_one() {
        let cache = SessionCache::default();
        cache.enable();
        cache.put(session("CA1", "info-menu"), 110, 2);
        cache.put(session("CA1", "main-menu"), 100, 1);
        assert_eq!(
            cache.get("CA1", 0).unwrap().step.as_deref(),
            Some("info-menu")
        );
        cache.forget("CA1", 1);
        assert_eq!(
            cache.get("CA1", 0).unwrap().step.as_deref(),
            Some("info-menu")
        );
        cache.put(session("CA1", "info-menu"), 110, 2); // Its own commit: no change.
        cache.forget("CA1", 3); // The call ended after it.
        assert!(cache.get("CA1", 0).is_none());
    }
}
