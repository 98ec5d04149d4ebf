//! The shared state: one [`Services`] value (settings, store, compiled flow, prompts,
//! clock, keys) built once at start and shared behind an `Arc` by every request. Only
//! the layers that serve calls and staff use it; the domain modules below take the
//! parts they need.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicUsize, Ordering};

use crate::clock::Clock;
use crate::config::Settings;
use crate::flow::Flow;
use crate::store::Store;
use crate::words::prompts::Catalog;

/// Everything a webhook needs, built once at start.
pub struct Services {
    pub settings: Settings,
    pub store: Store,
    pub flow: Flow,
    pub catalog: Catalog,
    pub clock: Arc<dyn Clock>,
    /// `None` only when signatures are switched off on purpose.
    pub keys: Option<Keys>,
    pub blind: crate::domain::verify::BlindIndex,
    pub hasher: crate::domain::verify::Hasher,
    pub lockout: crate::config::Lockout,
    /// The provider's REST API (staff transfers).
    pub provider: crate::telephony::provider::Provider,
    /// The CRM event on transfers, when `CASELINE_SCREEN_POP_URL` is set.
    pub screen_pop: Option<crate::domain::transfer::screenpop::ScreenPop>,
    /// The last look at the store, for `/healthz`.
    pub health: crate::store::health::Health,
    /// Callers waiting in the queue, as its wait webhooks said (for the dialer).
    pub waiting: Waiting,
    /// Which numbers the server may call back or text.
    pub outbound: crate::domain::outbound::Policy,
    /// The flow diagrams drawn for staff, kept with the flows they draw.
    pub diagrams: crate::flow::diagram::Diagrams,
    /// The TTY media streams open on this server ([`crate::http::stream`]).
    pub streams: Streams,
}

/// Keys that requests may be signed with (the provider's auth token and, for a
/// provider that signs with another secret, that one): built from the settings once,
/// checked by [`crate::http::signature`].
#[derive(Clone)]
pub struct Keys {
    pub auth_token: String,
    pub shared_key: Option<String>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys { .. }")
    }
}

pub type AppState = Arc<Services>;

impl Services {
    /// The parts the verification steps use.
    pub fn checks(&self) -> crate::domain::verify::Checks<'_> {
        crate::domain::verify::Checks {
            store: &self.store,
            blind: &self.blind,
            hasher: &self.hasher,
            lockout: self.lockout,
            now: self.now(),
        }
    }

    /// The parts a readback uses.
    pub fn reading(&self) -> crate::domain::readback::Reading<'_> {
        crate::domain::readback::Reading {
            store: &self.store,
            tz: self.settings.hours.tz,
            now: self.now(),
        }
    }

    /// Unix seconds now.
    pub fn now(&self) -> i64 {
        self.clock.now().timestamp()
    }
}

/// How long what the queue's wait webhook said about the queue stays true: each waiting
/// caller's wait is asked about every minute or so.
const QUEUE_NEWS_SECS: i64 = 90;
/// Callers waiting in the queue, as the last wait webhook said.
#[derive(Debug, Default)]
pub struct Waiting {
    size: AtomicU32,
    at: AtomicI64,
}

impl Waiting {
    /// The queue's size (`CurrentQueueSize`) at `now`.
    pub fn saw(&self, size: u32, now: i64) {
        self.size.store(size, Ordering::Release);
        self.at.store(now, Ordering::Release);
        crate::ops::metrics::gauge("caseline_callers_waiting", f64::from(size));
    }

    /// Callers waiting now: none once no wait webhook has come for a while.
    pub fn now(&self, now: i64) -> u32 {
        if now - self.at.load(Ordering::Acquire) > QUEUE_NEWS_SECS {
            0
        } else {
            self.size.load(Ordering::Acquire)
        }
    }
}

/// This server's streams: how many are open, and how many have not started.
#[derive(Debug, Default)]
pub struct Streams {
    /// Streams open now ([`crate::http::stream`] counts them).
    pub(crate) open: AtomicUsize,
    /// Of those, the ones whose `start` has not come.
    pub(crate) unstarted: AtomicUsize,
}

impl Streams {
    /// Streams open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }
}
