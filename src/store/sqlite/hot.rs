//! The SQLite hot path: the two things every webhook does to the database, reading its
//! call session and writing it back (with any audit lines), done with rusqlite instead
//! of sqlx.
//!
//! Why a second driver: sqlx runs each SQLite connection on a thread of its own and
//! pays two cross-thread wake-ups per statement (plus BEGIN and COMMIT round trips).
//! On the webhook path those hand-offs cost more than SQLite itself: the benchmark
//! spent over half its time in them. Here a session read is one prepared point lookup
//! run in place (microseconds: a primary-key probe in WAL mode, which never waits for
//! the writer), and writes go to one writer thread that commits everything queued in one
//! transaction, then tells each webhook its write is durable. Both drivers link the same
//! bundled SQLite library, so its file locking sees every connection in the process.
//!
//! The server that owns the database (see [`Hot::claim`]) also keeps each session it
//! saves in memory ([`SessionCache`]) and reads it from there, and a save that only
//! moves the caller need not wait for its commit ([`Hot::save_behind`]; why that is safe
//! is on `Store::save_position`). Such saves do not wake the writer one by one: it
//! gathers them for [`BEHIND_GATHER`] and commits them together. Every other write
//! still answers once it is durable.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use anyhow::Context;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use tokio::sync::oneshot;

use super::cache::SessionCache;
use super::writer::{Gathered, Pending, QUEUE_MAX, Write, Writer, checkpoint};

/// Read connections; a read holds one for microseconds, so a few serve many workers.
const READERS: usize = 4;
use crate::session::Session;
use crate::store::sessions::SELECT_SESSION;

/// When the checkpoints run and when the log is made to start over.
#[derive(Debug, Clone, Copy)]
pub(super) struct Checkpoints {
    /// How often the checkpointer copies the write-ahead log into the database file.
    pub every: Duration,
    /// A log longer than this many frames (pages) after a checkpoint is made to start
    /// over (see [`group_commit`]).
    pub restart_after_frames: i64,
}

impl Default for Checkpoints {
    fn default() -> Self {
        Checkpoints {
            every: Duration::from_millis(500),
            // 16 MB of 4 KB pages: a quiet line never gets there (its log starts over on
            // its own); under sustained load the log starts over at most twice a second.
            restart_after_frames: 4096,
        }
    }
}

/// When the log starts over, a file longer than this is cut back, so a burst does not
/// keep its disk space. Kept well above what sustained load needs between restarts
/// (the benchmark's log peaks near 100 MB): writing over the file's existing pages costs
/// the kernel far less than growing it again, about a tenth of a menu step's CPU.
const WAL_SIZE_LIMIT_BYTES: i64 = 256 * 1024 * 1024;

/// Session reads in place and group-committed writes on one SQLite file.
pub(super) struct Hot {
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    writes: mpsc::SyncSender<Pending>,
    /// Saves nobody waits for, until the writer's next batch.
    gathered: Arc<Gathered>,
    /// Transactions the writer has committed (or tried to); tests read how writes group.
    #[cfg(test)]
    commits: Arc<AtomicUsize>,
    /// Set by [`Hot::close`]: reads and writes fail as a closed pool's would.
    closed: AtomicBool,
    /// Committed sessions, when this process owns the database.
    cache: Arc<SessionCache>,
    /// The database file, to name its server lock.
    path: PathBuf,
    /// The server lock, held from [`Hot::claim`] until the store is dropped.
    server_lock: Mutex<Option<File>>,
    /// Numbers session writes in the order they are queued.
    next_seq: AtomicU64,
}

impl std::fmt::Debug for Hot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hot")
            .field("readers", &self.readers.len())
            .finish_non_exhaustive()
    }
}

impl Hot {
    /// Opens the read connections and starts the writer thread. The database must
    /// exist and be migrated (the sqlx pool did both).
    pub(super) fn open(path: &Path) -> anyhow::Result<Arc<Hot>> {
        Hot::open_with(path, Checkpoints::default())
    }

    pub(super) fn open_with(path: &Path, checkpoints: Checkpoints) -> anyhow::Result<Arc<Hot>> {
        let readers = (0..READERS)
            .map(|_| open_reader(path).map(Mutex::new))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let writer = open_writer(path)?;
        // Checkpoints end in an fsync; left to the writer (SQLite's default, every 1,000
        // pages) they stall whichever commit crosses the mark, and every webhook waiting
        // on it: the benchmark's p99 went from 1 to 10 ms. Their own thread does them.
        writer.pragma_update(None, "wal_autocheckpoint", 0)?;
        writer.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT_BYTES)?;
        let checkpointer = open_writer(path)?;
        let (writes, queue) = mpsc::sync_channel(QUEUE_MAX);
        let restart_due = Arc::new(AtomicBool::new(false));
        let due = restart_due.clone();
        let commits = Arc::new(AtomicUsize::new(0));
        let counted = commits.clone();
        let cache = Arc::new(SessionCache::default());
        let gathered = Arc::new(Gathered::default());
        let thread = Writer {
            conn: writer,
            queue,
            gathered: gathered.clone(),
            restart_due: due,
            commits: counted,
            cache: cache.clone(),
        };
        std::thread::Builder::new()
            .name("caseline-writer".into())
            .spawn(move || thread.run())
            .context("Failed to start the database writer")?;
        let hot = Arc::new(Hot {
            readers,
            next_reader: AtomicUsize::new(0),
            writes,
            gathered,
            #[cfg(test)]
            commits,
            closed: AtomicBool::new(false),
            cache,
            path: path.to_path_buf(),
            server_lock: Mutex::new(None),
            next_seq: AtomicU64::new(1),
        });
        let weak = Arc::downgrade(&hot);
        std::thread::Builder::new()
            .name("caseline-checkpoint".into())
            .spawn(move || run_checkpoints(checkpointer, weak, checkpoints, &restart_due))
            .context("Failed to start the database checkpointer")?;
        Ok(hot)
    }

    /// Makes this process the database's one server: takes the server lock (a file
    /// beside the database) and from then on keeps committed sessions in memory. Fails
    /// while another process holds the lock, since its saves would go unseen here.
    pub(super) fn claim(&self) -> anyhow::Result<()> {
        let mut held = self
            .server_lock
            .lock()
            .map_err(|_| anyhow::anyhow!("the server lock was poisoned"))?;
        if held.is_some() {
            return Ok(());
        }
        let mut name = self.path.clone().into_os_string();
        name.push(".lock");
        let lock_path = PathBuf::from(name);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("Failed to open {}", lock_path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
                "another Caseline server is answering calls on {} (it holds {}). A SQLite \
                 database serves one server at a time; run several on PostgreSQL.",
                self.path.display(),
                lock_path.display()
            ),
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("Failed to lock {}", lock_path.display()));
            }
        }
        *held = Some(file);
        self.cache.enable();
        Ok(())
    }

    /// Whether saves should hand their session to the cache.
    pub(super) fn caching(&self) -> bool {
        self.cache.is_enabled()
    }

    /// A call's session from memory, if this server committed it last (within the
    /// window).
    pub(super) fn cached_session(
        &self,
        call_sid: &str,
        since: i64,
    ) -> anyhow::Result<Option<Session>> {
        self.check_open()?;
        Ok(self.cache.get(call_sid, since))
    }

    /// Forgets sessions saved before `since` (the sweeper deletes their rows).
    pub(super) fn sweep_cache(&self, since: i64) {
        self.cache.sweep(since);
    }

    /// A call's live session JSON, if any.
    pub(super) fn load_session(
        &self,
        call_sid: &str,
        since: i64,
    ) -> anyhow::Result<Option<String>> {
        self.check_open()?;
        let conn = self.reader()?;
        let mut stmt = conn
            .prepare_cached(SELECT_SESSION)
            .context("Failed to load the call session")?;
        stmt.query_row(params![call_sid, since], |row| row.get::<_, String>(0))
            .optional()
            .context("Failed to load the call session")
    }

    /// The number for the next session write (saves and ends).
    pub(super) fn next_seq(&self) -> u64 {
        self.next_seq.fetch_add(1, Ordering::Relaxed)
    }

    /// Queues a write and waits until it is committed; answers the rows it changed.
    pub(super) async fn write(&self, write: Write) -> anyhow::Result<usize> {
        self.check_open()?;
        self.commit_and_wait(write).await
    }

    async fn commit_and_wait(&self, write: Write) -> anyhow::Result<usize> {
        let (done, wait) = oneshot::channel();
        let seq = match write.session_row() {
            Some((_, seq)) => seq,
            None => self.next_seq(),
        };
        self.enqueue(Pending {
            write,
            done: Some(done),
            seq,
        })?;
        wait.await
            .map_err(|_| anyhow::anyhow!("the database writer has stopped"))?
            .map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// Queues a session save without waiting for its commit; the cache serves it from
    /// now on (the server owns the database). The writer commits it with the next batch
    /// (within [`BEHIND_GATHER`]); if that fails the cache forgets the call and the next
    /// webhook reads the file. Only the first save of a gathering wakes the writer.
    pub(super) fn save_behind(
        &self,
        session: Session,
        state: String,
        now: i64,
    ) -> anyhow::Result<()> {
        self.check_open()?;
        let seq = self.next_seq();
        let call_sid = session.call_sid.as_str().to_string();
        self.cache.put(session, now, seq);
        let write = Write::Session {
            call_sid: call_sid.clone(),
            state,
            now,
            cached: None,
            seq,
        };
        self.gather(Pending {
            write,
            done: None,
            seq,
        })
        .inspect_err(|_| self.cache.forget(&call_sid, seq))
    }

    /// Adds a save to the gathering; the first of one wakes the writer.
    fn gather(&self, pending: Pending) -> anyhow::Result<()> {
        let first = {
            let mut gathered = self
                .gathered
                .lock()
                .map_err(|_| anyhow::anyhow!("the database writer's queue was poisoned"))?;
            if gathered.len() >= QUEUE_MAX {
                anyhow::bail!("the database writer is overloaded");
            }
            gathered.push(pending);
            gathered.len() == 1
        };
        if first {
            let wake = Pending {
                write: Write::Gathering,
                done: None,
                seq: 0,
            };
            match self.writes.try_send(wake) {
                // A full queue: the writer is awake and takes the gathering with it.
                Ok(()) | Err(mpsc::TrySendError::Full(_)) => {}
                Err(mpsc::TrySendError::Disconnected(_)) => {
                    anyhow::bail!("the database writer has stopped")
                }
            }
        }
        Ok(())
    }

    fn enqueue(&self, pending: Pending) -> anyhow::Result<()> {
        self.writes.try_send(pending).map_err(|e| match e {
            mpsc::TrySendError::Full(_) => anyhow::anyhow!("the database writer is overloaded"),
            mpsc::TrySendError::Disconnected(_) => {
                anyhow::anyhow!("the database writer has stopped")
            }
        })
    }

    #[cfg(test)]
    fn commits(&self) -> usize {
        self.commits.load(Ordering::Relaxed)
    }

    /// Refuses new reads and writes, then waits until everything already queued is
    /// committed (saves that answered before their commit included), so a server that
    /// stops cleanly leaves every call where its caller last heard it.
    pub(super) async fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        if let Err(e) = self.commit_and_wait(Write::Barrier).await {
            tracing::warn!(error = %format!("{e:#}"), "the database writer did not finish its queue");
        }
    }

    fn check_open(&self) -> anyhow::Result<()> {
        if self.closed.load(Ordering::SeqCst) {
            anyhow::bail!("the database is closed");
        }
        Ok(())
    }

    /// A free read connection, or (when all are busy for their few microseconds) the
    /// next in turn.
    fn reader(&self) -> anyhow::Result<std::sync::MutexGuard<'_, Connection>> {
        for conn in &self.readers {
            if let Ok(guard) = conn.try_lock() {
                return Ok(guard);
            }
        }
        let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        self.readers[i]
            .lock()
            .map_err(|_| anyhow::anyhow!("a database reader was poisoned"))
    }
}

fn open_reader(path: &Path) -> anyhow::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .context("Failed to open the SQLite database")?;
    // A WAL reader only waits while another connection recovers the log after a crash.
    conn.busy_timeout(Duration::from_secs(1))?;
    Ok(conn)
}

fn open_writer(path: &Path) -> anyhow::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .context("Failed to open the SQLite database")?;
    conn.busy_timeout(Duration::from_secs(3))?;
    // WAL is a property of the file (set by the pool); synchronous and foreign keys are
    // per connection and must match the pool's.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(conn)
}

/// The checkpointer thread: a passive checkpoint (it never blocks the writer or
/// readers) every [`Checkpoints::every`], until the store is dropped or closed. When the
/// log it leaves behind is long, it asks the writer to let the log start over.
fn run_checkpoints(
    conn: Connection,
    hot: std::sync::Weak<Hot>,
    checkpoints: Checkpoints,
    restart_due: &AtomicBool,
) {
    loop {
        std::thread::sleep(checkpoints.every);
        match hot.upgrade() {
            Some(h) if !h.closed.load(Ordering::SeqCst) => {}
            _ => return,
        }
        if checkpoint(&conn).is_some_and(|frames| frames > checkpoints.restart_after_frames) {
            restart_due.store(true, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests;
