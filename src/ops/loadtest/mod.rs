//! `caseline loadtest`: plays the telephony provider against a running server, many
//! whole calls at once, to learn what one server holds.
//!
//! Each call is what the provider would send for a person on the line: the incoming
//! webhook, then the keys a caller presses at each `<Gather>`, posted to the `action`
//! the server wrote (and every `<Redirect>` followed), each request signed like the
//! provider's; then the status callback. The server's answers drive the call: the tool
//! knows only which keys a caller presses (`script`), reads from the compiled flows the
//! steps those keys lead to ([`Steps`]), and checks at each turn that the server put the
//! caller where a person pressing those keys would be.
//!
//! One file per job: `script` (the keys and the steps), `call` (one call's signed
//! webhooks), `summary` (the figures), `callers` (the callers file); here, the run.
//!
//! Built to hold 10,000 calls from one process on two cores: one runtime, one HTTP
//! client whose requests in flight are capped (so sockets stay bounded however many
//! calls wait), a worker task per concurrent call holding only where its call is, and
//! latencies kept as one `u32` of microseconds per request.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::Semaphore;

mod call;
mod callers;
mod script;
mod summary;

use call::{Rng, pause};
pub use callers::{Caller, parse_callers};
pub use script::Steps;
pub use summary::{Failure, Servers, Summary, percentile};

/// How long one webhook may take before it counts as a transport failure: the
/// provider's own limit (it gives up on a webhook after 15 seconds).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// What one run does.
pub struct Options {
    /// Where the requests go: each server's address, like `http://127.0.0.1:8080`.
    /// With several, requests alternate between them (as a round-robin balancer sends
    /// them), or each call keeps to one ([`Options::sticky`]).
    pub urls: Vec<String>,
    /// Each call's requests all go to one server (calls dealt out in turn), as a
    /// balancer with sticky sessions sends them.
    pub sticky: bool,
    /// The server's `CASELINE_PUBLIC_URL`: the base of the URLs it writes into its
    /// TwiML and of the URL it checks each signature against.
    pub public_url: String,
    /// `CASELINE_TWILIO_AUTH_TOKEN`: the key of `X-Twilio-Signature`.
    pub token: String,
    /// Calls placed in all.
    pub calls: u64,
    /// Calls on the line at once.
    pub concurrency: u64,
    /// The mean pause before each key press and before hanging up (jittered 0.5x to
    /// 1.5x); the first calls' starts are spread over one such pause.
    pub think: Duration,
    /// Requests in flight at once, whatever the number of calls (bounds the sockets).
    pub connections: usize,
    /// People who verify; none: every call hears general information.
    pub callers: Vec<Caller>,
    /// Print a progress line on stderr once a second.
    pub progress: bool,
    /// The steps of the server's flows the scripts pass ([`Steps::read`]).
    pub steps: Steps,
}

/// Counters the workers move and the progress line reads.
#[derive(Default)]
struct Counters {
    started: AtomicU64,
    finished: AtomicU64,
    completed: AtomicU64,
    errors: AtomicU64,
    requests: AtomicU64,
    /// Requests sent to another server than their call's last request.
    crossed: AtomicU64,
}

/// What every call shares.
struct Shared {
    client: reqwest::Client,
    /// The cap on requests in flight.
    slots: Semaphore,
    urls: Vec<String>,
    sticky: bool,
    /// The server the next request goes to, when not sticky.
    next_server: AtomicU64,
    /// Requests sent to each server.
    by_server: Vec<AtomicU64>,
    public_url: String,
    token: String,
    calls: u64,
    think: Duration,
    callers: Vec<Caller>,
    steps: Steps,
    /// The next call number to place.
    next: AtomicU64,
    counters: Counters,
    failures: Mutex<BTreeMap<&'static str, (u64, String)>>,
    /// Makes this run's CallSids its own.
    run_id: u64,
}

impl Shared {
    fn fail(&self, failure: &Failure) {
        self.counters.errors.fetch_add(1, Relaxed);
        if let Ok(mut failures) = self.failures.lock() {
            failures
                .entry(failure.kind())
                .and_modify(|(count, _)| *count += 1)
                .or_insert_with(|| (1, failure.detail()));
        }
    }

    /// One concurrent line: places calls one after another until all are placed.
    async fn worker(&self, index: u64, lines: u64) -> Vec<u32> {
        let mut rng = Rng(self.run_id ^ index.wrapping_mul(0xD6E8_FEB8_6659_FD93));
        let mut latencies = Vec::new();
        // Ramp: the first calls start spread over one think time, not all at once.
        pause(self.think.mul_f64(index as f64 / lines as f64)).await;
        loop {
            let n = self.next.fetch_add(1, Relaxed);
            if n >= self.calls {
                break;
            }
            self.call(n, &mut rng, &mut latencies).await;
        }
        latencies
    }
}

/// Places the calls and answers the figures. Fails only if the run cannot start (no
/// server, a client that cannot be built); every failure of a call is counted in the
/// summary.
pub async fn run(options: Options) -> anyhow::Result<Summary> {
    anyhow::ensure!(!options.urls.is_empty(), "no server to send the calls to");
    let trim = |u: &str| u.trim_end_matches('/').to_string();
    // Enough descriptors for the connections asked for (the soft limit is often 1024).
    crate::http::server::raise_open_file_limit();
    let connections = options.connections.max(1);
    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .pool_max_idle_per_host(connections)
        .tcp_nodelay(true)
        .build()
        .context("Failed to build the HTTP client")?;
    let shared = std::sync::Arc::new(Shared {
        client,
        slots: Semaphore::new(connections),
        by_server: options.urls.iter().map(|_| AtomicU64::new(0)).collect(),
        urls: options.urls.iter().map(|u| trim(u)).collect(),
        sticky: options.sticky,
        next_server: AtomicU64::new(0),
        public_url: trim(&options.public_url),
        token: options.token,
        calls: options.calls,
        think: options.think,
        callers: options.callers,
        steps: options.steps,
        next: AtomicU64::new(0),
        counters: Counters::default(),
        failures: Mutex::new(BTreeMap::new()),
        run_id: uuid::Uuid::new_v4().as_u64_pair().0,
    });
    let lines = options.concurrency.clamp(1, options.calls.max(1));
    let progress = options
        .progress
        .then(|| tokio::spawn(report_progress(shared.clone())));
    let workers: Vec<_> = (0..lines)
        .map(|i| {
            let shared = shared.clone();
            tokio::spawn(async move { shared.worker(i, lines).await })
        })
        .collect();
    let mut latencies = Vec::new();
    for w in workers {
        latencies.extend(w.await.context("a load test worker stopped")?);
    }
    if let Some(p) = progress {
        p.abort();
    }
    let c = &shared.counters;
    let mut summary = Summary::new(
        c.started.load(Relaxed),
        c.completed.load(Relaxed),
        c.errors.load(Relaxed),
        c.requests.load(Relaxed),
        latencies,
    );
    if let Ok(failures) = shared.failures.lock() {
        summary.failures = failures.clone();
    }
    if shared.urls.len() > 1 {
        summary.servers = Some(Servers {
            sticky: shared.sticky,
            requests: shared.by_server.iter().map(|n| n.load(Relaxed)).collect(),
            crossed: c.crossed.load(Relaxed),
        });
    }
    Ok(summary)
}

/// Once a second on stderr: calls started, on the line, completed, failed, and the
/// requests per second over the last second.
async fn report_progress(shared: std::sync::Arc<Shared>) {
    let began = Instant::now();
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    ticks.tick().await;
    let mut last = (0, Instant::now());
    loop {
        ticks.tick().await;
        let requests = shared.counters.requests.load(Relaxed);
        let per_sec = (requests - last.0) as f64 / last.1.elapsed().as_secs_f64().max(1e-3);
        last = (requests, Instant::now());
        print_progress(&shared, per_sec.round() as u64, began.elapsed());
    }
}

fn print_progress(shared: &Shared, per_sec: u64, elapsed: Duration) {
    let c = &shared.counters;
    let started = c.started.load(Relaxed);
    let finished = c.finished.load(Relaxed);
    eprintln!(
        "{:>5}s  started {started}  active {}  completed {}  errors {}  req/s {per_sec}",
        elapsed.as_secs(),
        started.saturating_sub(finished),
        c.completed.load(Relaxed),
        c.errors.load(Relaxed),
    );
}
