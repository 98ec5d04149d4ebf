//! Room for connections: the open-file limit and the cap under it, the registry of live
//! connections that sheds the longest idle when room runs short, and the rate-limited
//! logs of a server short of room.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;

use super::Stop;
use super::conn::{Conn, now_ms};

/// Raises the soft open-file limit (RLIMIT_NOFILE) to the hard one, logs the limit in
/// force and the connection cap it allows, and returns the limit.
pub fn raise_open_file_limit() -> u64 {
    let before = rlimit::getrlimit(rlimit::Resource::NOFILE);
    let limit = match (rlimit::increase_nofile_limit(u64::MAX), &before) {
        (Ok(limit), _) => limit,
        (Err(e), Ok((soft, hard))) => {
            tracing::warn!(error = %e, soft, hard, "could not raise the open-file limit");
            *soft
        }
        (Err(e), Err(_)) => {
            tracing::warn!(error = %e, "could not read the open-file limit");
            1024
        }
    };
    let connections = connection_cap(limit);
    match before {
        Ok((soft, hard)) if soft < limit => tracing::info!(
            limit,
            was = soft,
            hard,
            connections,
            "open-file limit raised to the hard limit"
        ),
        _ => tracing::info!(limit, connections, "open-file limit"),
    }
    limit
}

/// The connections served at once under an open-file limit: the limit less a reserve
/// for the database, files and logs (a tenth, at least 64).
pub fn connection_cap(open_files: u64) -> usize {
    let reserve = (open_files / 10).max(64);
    let cap = open_files.saturating_sub(reserve).clamp(1, 1 << 20);
    usize::try_from(cap).unwrap_or(1 << 20)
}

/// The live connections, for making room and for shutdown.
#[derive(Default)]
pub(super) struct Registry {
    pub(super) inner: Mutex<Connections>,
    /// Woken whenever a connection closes.
    pub(super) closed: Notify,
}

#[derive(Default)]
pub(super) struct Connections {
    pub(super) next_id: u64,
    pub(super) live: HashMap<u64, Entry>,
    /// Connections told to close that have not closed yet.
    pub(super) told: usize,
}

pub(super) struct Entry {
    pub(super) conn: Arc<Conn>,
    /// `None` once the connection has been told to close.
    pub(super) stop: Option<oneshot::Sender<Stop>>,
}

impl Registry {
    pub(super) fn lock(&self) -> MutexGuard<'_, Connections> {
        // The lock guards plain bookkeeping, left consistent at every step.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn add(&self, conn: Arc<Conn>) -> (u64, oneshot::Receiver<Stop>) {
        let (tx, rx) = oneshot::channel();
        let mut c = self.lock();
        let id = c.next_id;
        c.next_id += 1;
        c.live.insert(
            id,
            Entry {
                conn,
                stop: Some(tx),
            },
        );
        (id, rx)
    }

    pub(super) fn remove(&self, id: u64) {
        {
            let mut c = self.lock();
            if let Some(entry) = c.live.remove(&id)
                && entry.stop.is_none()
            {
                c.told -= 1;
            }
        }
        self.closed.notify_waiters();
    }

    /// Connections open (descriptors held).
    pub(super) fn len(&self) -> usize {
        self.lock().live.len()
    }

    /// Connections open and not told to close.
    pub(super) fn open(&self) -> usize {
        let c = self.lock();
        c.live.len() - c.told
    }

    /// Tells up to `n` idle connections to close, those idle the longest first;
    /// returns how many.
    pub(super) fn shed(&self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        let now = now_ms();
        let mut guard = self.lock();
        let c = &mut *guard;
        let mut idle: Vec<(u64, u64)> = c
            .live
            .iter()
            .filter(|(_, e)| {
                e.stop.is_some() && (e.conn.busy.load(Ordering::Acquire) == 0 || e.conn.stuck(now))
            })
            .map(|(&id, e)| (e.conn.last_active(), id))
            .collect();
        let n = n.min(idle.len());
        if n == 0 {
            return 0;
        }
        if n < idle.len() {
            idle.select_nth_unstable(n - 1);
        }
        let mut told = 0;
        for (_, id) in &idle[..n] {
            if let Some(stop) = c.live.get_mut(id).and_then(|e| e.stop.take()) {
                // A connection that has just ended has dropped its receiver: nothing to do.
                let _ = stop.send(Stop::Shed);
                told += 1;
            }
        }
        c.told += told;
        told
    }

    /// Tells every connection the server is stopping.
    pub(super) fn stop_all(&self, deadline: Instant) {
        let mut guard = self.lock();
        let c = &mut *guard;
        for entry in c.live.values_mut() {
            if let Some(stop) = entry.stop.take() {
                let _ = stop.send(Stop::Shutdown(deadline));
                c.told += 1;
            }
        }
    }
}

/// A connection's place in the registry, left when dropped.
pub(super) struct Registered {
    pub(super) registry: Arc<Registry>,
    pub(super) id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.registry.remove(self.id);
    }
}

/// `accept` failed for want of descriptors (this process's, or the system's).
pub(super) fn out_of_descriptors(e: &io::Error) -> bool {
    // EMFILE and ENFILE; the same numbers on Linux, the BSDs and macOS.
    matches!(e.raw_os_error(), Some(23 | 24))
}

/// Logs of a server short of room, at most one a second of each kind.
#[derive(Default)]
pub(super) struct Pressure {
    pub(super) last_shed: Option<Instant>,
    pub(super) shed: usize,
    pub(super) last_refused: Option<Instant>,
    pub(super) refused: usize,
    pub(super) last_error: Option<Instant>,
}

impl Pressure {
    pub(super) fn shed(&mut self, n: usize, open: usize, cap: usize) {
        self.shed += n;
        if self.shed > 0 && due(&mut self.last_shed) {
            tracing::warn!(
                closed = self.shed,
                open,
                cap,
                "at the connection cap: closed the connections idle the longest"
            );
            self.shed = 0;
        }
    }

    pub(super) fn refused(&mut self, cap: usize) {
        self.refused += 1;
        if due(&mut self.last_refused) {
            tracing::warn!(
                refused = self.refused,
                cap,
                "at the connection cap with every connection busy: refused new connections"
            );
            self.refused = 0;
        }
    }

    pub(super) fn out_of_descriptors(&mut self, e: &io::Error, shed: usize, open: usize) {
        self.shed += shed;
        if due(&mut self.last_error) {
            tracing::warn!(
                error = %e,
                closed = self.shed,
                open,
                "out of descriptors: closed the connections idle the longest"
            );
            self.shed = 0;
        }
    }

    pub(super) fn accept_failed(&mut self, e: &io::Error) {
        if due(&mut self.last_error) {
            tracing::warn!(error = %e, "accept failed");
        }
    }
}

/// True at most once a second.
pub(super) fn due(last: &mut Option<Instant>) -> bool {
    let now = Instant::now();
    match last {
        Some(t) if now.duration_since(*t) < Duration::from_secs(1) => false,
        _ => {
            *last = Some(now);
            true
        }
    }
}
