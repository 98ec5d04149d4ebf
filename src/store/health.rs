//! Whether the store answers, for `GET /healthz` (200 while it does, 503 while it does
//! not, so a balancer stops sending calls to a server that could only apologise). The
//! store is asked at most once a second however often the balancer looks.

use std::future::Future;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// How long one look at the store stands.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);
/// How long the store gets to answer a look.
pub const PROBE_DEADLINE: Duration = Duration::from_secs(1);

/// The last look at the store and when it was taken.
#[derive(Debug, Default)]
pub struct Health {
    last: Mutex<Option<(Instant, bool)>>,
}

impl Health {
    /// Whether the store answers: the last look if it is recent, otherwise a new one
    /// from `probe` (one at a time: concurrent requests wait for it and share it).
    pub async fn check<F>(&self, probe: impl FnOnce() -> F) -> bool
    where
        F: Future<Output = bool>,
    {
        let mut last = self.last.lock().await;
        if let Some((at, ok)) = *last
            && at.elapsed() < CHECK_EVERY
        {
            return ok;
        }
        let ok = tokio::time::timeout(PROBE_DEADLINE, probe())
            .await
            .unwrap_or(false);
        *last = Some((Instant::now(), ok));
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn looks_at_most_once_a_second_and_recovers() {
        let health = Health::default();
        let probes = AtomicU32::new(0);
        let up = std::sync::atomic::AtomicBool::new(false);
        let probe = || async {
            probes.fetch_add(1, Ordering::SeqCst);
            up.load(Ordering::SeqCst)
        };
        assert!(!health.check(probe).await, "down");
        up.store(true, Ordering::SeqCst);
        assert!(
            !health.check(probe).await,
            "the last look stands for a second"
        );
        assert_eq!(probes.load(Ordering::SeqCst), 1);
        tokio::time::advance(CHECK_EVERY).await;
        assert!(health.check(probe).await, "up again");
        assert_eq!(probes.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_store_that_hangs_counts_as_down() {
        let health = Health::default();
        let hang = || std::future::pending::<bool>();
        assert!(!health.check(hang).await);
    }
}
