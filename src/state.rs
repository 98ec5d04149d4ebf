//! The shared state: one [`Services`] value built once at start and shared behind an
//! `Arc` by every request. Only the composition root and the HTTP handlers (webhooks,
//! staff) name it; the call layer is handed its [`Line`], and everything below takes
//! the parts it uses.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::call::Line;

/// The shared state, built once at start: the call layer's [`Line`] and what only
/// the HTTP surfaces and the workers beside the server hold.
pub struct Services {
    /// What answering a call uses.
    pub line: Arc<Line>,
    /// `None` only when signatures are switched off on purpose.
    pub keys: Option<Keys>,
    /// The provider's REST API, whole: staff transfers move live calls with it.
    pub provider: crate::telephony::provider::Provider,
    /// The last look at the store, for `/healthz`.
    pub health: crate::store::health::Health,
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
