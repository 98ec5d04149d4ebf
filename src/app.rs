//! The composition root: builds the shared [`Services`], the router over it, and runs
//! the server with its background sweeper. It wires and starts things; nothing imports
//! it but the binary and the tests.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::routing::get;
use tokio::net::TcpListener;

use crate::call::Line;
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::config::shipped::{FLOWS, Found, PROMPTS, Shipped};
use crate::domain::agencies::Agencies;
use crate::domain::agencies::Reach;
use crate::domain::callbacks::dialer::Dialer;
use crate::domain::transfer::Destination;
use crate::flow::Flow;
use crate::http::webhook;
use crate::state::Keys;
use crate::state::{AppState, Services};
use crate::store::Store;
use crate::words::prompts::{Catalog, Lang};

/// Building the shared state is wiring, so it happens here: the state module only
/// holds it.
impl Services {
    /// As [`Services::new`], for a process that answers calls: claims the store's call
    /// sessions first ([`Store::claim_sessions`]), so a second server on the same SQLite
    /// file refuses to start instead of missing this one's saves.
    pub fn serving(
        settings: Settings,
        store: Store,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Services> {
        store.claim_sessions()?;
        Services::new(settings, store, clock)
    }

    /// Loads prompts and flows (refusing to start on any error) around an open store.
    /// Commands that only manage data use this; a server uses [`Services::serving`].
    pub fn new(
        settings: Settings,
        store: Store,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Services> {
        let Loaded {
            catalog,
            flow,
            flows_from,
            prompts_from,
        } = load_flows(&settings)?;
        tracing::info!(
            flows = %flows_from,
            prompts = %prompts_from,
            holidays = %settings.holidays_from.as_ref().map_or("none".to_string(), Found::to_string),
            "call flows loaded"
        );
        let keys = match (&settings.auth_token, settings.insecure_no_signature) {
            (Some(token), _) => Some(Keys {
                auth_token: token.clone(),
                shared_key: settings.shared_key.clone(),
            }),
            (None, true) => None,
            (None, false) => anyhow::bail!(
                "CASELINE_TWILIO_AUTH_TOKEN is not set: without it no webhook can be checked. \
                 Set it, or pass --insecure-no-signature for a local experiment."
            ),
        };
        let blind = crate::domain::verify::BlindIndex::new(
            settings.blind_index_key.as_deref().unwrap_or(""),
        )
        .map_err(|_| {
            anyhow::anyhow!(
                "CASELINE_BLIND_INDEX_KEY is not set (or shorter than 32 characters): \
                     callers cannot be verified without it"
            )
        })?;
        let hasher = crate::domain::verify::Hasher::new(settings.hash_cost)?;
        let lockout = settings.lockout;
        let screen_pop = match (&settings.screen_pop_url, &settings.screen_pop_secret) {
            (Some(url), Some(secret)) => Some(crate::domain::transfer::screenpop::ScreenPop::new(
                url.clone(),
                secret.clone(),
                settings.screen_pop_retry,
            )?),
            _ => None,
        };
        let provider = crate::telephony::provider::Provider::new(
            &settings.twilio_api_base,
            settings.twilio_account_sid.clone(),
            settings.auth_token.clone(),
            settings.provider_timeout,
        )?;
        let agencies = load_agencies(&settings)?;
        let outbound = outbound_policy(&settings, agencies.as_ref());
        // Only where several servers share the calls.
        let carry = match store {
            Store::Postgres(_) => settings
                .blind_index_key
                .as_deref()
                .and_then(crate::call::Carry::new),
            Store::Sqlite(_) => None,
        };
        let line = Line {
            agencies,
            carry,
            outbound,
            waiting: Default::default(),
            texts: provider.texts(),
            recordings: provider.recordings(),
            screen_pop,
            blind,
            hasher,
            lockout,
            settings,
            store,
            flow,
            catalog,
            clock,
        };
        Ok(Services {
            line: Arc::new(line),
            health: Default::default(),
            diagrams: Default::default(),
            streams: Default::default(),
            provider,
            keys,
        })
    }

    /// The dialer's parts: the queue, the settings, the clock, the policy, the queue's
    /// news, and the provider handle that places calls.
    pub fn dialer(&self) -> Dialer<'_> {
        let l = &self.line;
        Dialer {
            store: &l.store,
            settings: &l.settings,
            clock: l.clock.as_ref(),
            outbound: &l.outbound,
            waiting: &l.waiting,
            agencies: l.agencies.as_ref(),
            dialing: self.provider.dialing(),
        }
    }
}

/// The numbers the agency calls back and texts: the regions it chose, never its own
/// numbers (the ones callers dial, the caller IDs it and its local agencies call and
/// text from).
fn outbound_policy(s: &Settings, agencies: Option<&Agencies>) -> crate::domain::outbound::Policy {
    for (name, number) in [
        ("CASELINE_CSU_PHONE", &s.csu_phone),
        ("CASELINE_TTY_PHONE", &s.tty_phone),
    ] {
        if crate::domain::outbound::ten_digits(number).is_none() {
            tracing::warn!(
                setting = name,
                "not a ten-digit North American number: callbacks to it are not refused as the agency's own"
            );
        }
    }
    let own = [&s.csu_phone, &s.tty_phone]
        .into_iter()
        .chain(&s.tty_numbers)
        .chain(&s.dialer.from)
        .chain(&s.sms_from)
        .chain(&s.csu_number)
        .map(String::as_str)
        // Each agency's own numbers: its caller ID, its TTY line and the number its
        // callers are put through to.
        .chain(
            agencies
                .into_iter()
                .flat_map(|a| a.iter())
                .flat_map(|a| {
                    let line = match &a.reach {
                        Reach::Dial(Destination::Number(n)) => Some(n.as_str()),
                        _ => None,
                    };
                    [a.callback_from.as_deref(), a.tty_phone.as_deref(), line]
                })
                .flatten(),
        );
    crate::domain::outbound::Policy::new(s.dialer.regions.clone(), own)
}

/// The agencies file `CASELINE_AGENCIES_FILE` names, checked whole: a broken one stops
/// the start with every error as `file:line: why` (as `caseline agencies check` says),
/// rather than a line that sends some counties' callers nowhere. Unset: none, one unit.
pub fn load_agencies(settings: &Settings) -> anyhow::Result<Option<Agencies>> {
    let Some(file) = &settings.agencies_file else {
        return Ok(None);
    };
    let agencies = Agencies::load(file).map_err(|e| {
        anyhow::anyhow!("CASELINE_AGENCIES_FILE: the agencies file is refused:\n{e:#}")
    })?;
    let unfilled = agencies.iter().filter(|a| !a.reach.is_filled()).count();
    tracing::info!(
        file = %file.display(),
        agencies = agencies.len(),
        unfilled,
        "agencies loaded (those still TO-BE-FILLED go to the statewide unit)"
    );
    Ok(Some(agencies))
}

/// The compiled flows and the prompts they speak, and where each was read.
pub struct Loaded {
    pub catalog: Catalog,
    pub flow: Flow,
    pub flows_from: Found,
    pub prompts_from: Found,
}

/// Loads and checks the prompt catalog and the flows, as at start: each from its
/// setting's folder, else the first found, else the copy built into the binary
/// ([`crate::config::shipped`]).
pub fn load_flows(settings: &Settings) -> anyhow::Result<Loaded> {
    let prompts_from = PROMPTS.find(settings.prompts_dir.as_deref(), &settings.search)?;
    let catalog = match &prompts_from {
        Found::Disk { path, .. } => Catalog::load(path),
        Found::BuiltIn => {
            let sources: Vec<(Lang, String, &str)> = Lang::ALL
                .into_iter()
                .map(|lang| {
                    let name = format!("{}.toml", lang.code());
                    let text = PROMPTS.built_in(&name).unwrap_or_default();
                    (lang, format!("{}/{name}", PROMPTS.folder), text)
                })
                .collect();
            let borrowed: Vec<(Lang, &str, &str)> = sources
                .iter()
                .map(|(l, n, t)| (*l, n.as_str(), *t))
                .collect();
            Catalog::from_sources(&borrowed)
        }
    }
    .map_err(|e| with_hint(e, &PROMPTS, &prompts_from))?;
    let flows_from = FLOWS.find(settings.flows_dir.as_deref(), &settings.search)?;
    let entries = required_entries();
    let entries: Vec<&str> = entries.iter().map(String::as_str).collect();
    let flow = match &flows_from {
        Found::Disk { path, .. } => Flow::load(path, &catalog, crate::actions::SPECS, &entries),
        Found::BuiltIn => {
            let files = FLOWS.built_in_files();
            let borrowed: Vec<(&str, &str)> = files.iter().map(|(n, t)| (n.as_str(), *t)).collect();
            Flow::from_files(&borrowed, &catalog, crate::actions::SPECS, &entries)
        }
    }
    .map_err(|e| with_hint(e, &FLOWS, &flows_from))?;
    Ok(Loaded {
        catalog,
        flow,
        flows_from,
        prompts_from,
    })
}

/// The error, with a line saying which folder was read when the search chose it.
fn with_hint(e: anyhow::Error, shipped: &Shipped, found: &Found) -> anyhow::Error {
    match shipped.hint(found) {
        Some(hint) => anyhow::anyhow!("{e:#}\n{hint}"),
        None => e,
    }
}

/// The flow entries the server jumps to: a call on each line, and each place a staff
/// member can send a caller (`flows check` refuses flows without them).
fn required_entries() -> Vec<String> {
    let staff = crate::session::StaffEntry::WORDS
        .iter()
        .map(|e| format!("staff-{e}"));
    ["voice", "tty"]
        .map(String::from)
        .into_iter()
        .chain(staff)
        .collect()
}

/// The whole HTTP surface, on one port: the webhooks and the staff console and API.
pub fn router(state: AppState) -> Router {
    provider_routes(state.clone())
        .merge(crate::staff::api::router())
        .with_state(state)
}

/// What the webhook port serves when the staff have their own address
/// (`CASELINE_STAFF_LISTEN`): the provider's routes only, so `/staff` is a plain 404
/// there, whatever the public proxy lets through.
pub fn webhook_router(state: AppState) -> Router {
    provider_routes(state.clone()).with_state(state)
}

/// What the staff address serves: the console and the staff API, and the metrics when
/// `CASELINE_METRICS_LISTEN` names the same address.
pub fn staff_router(state: AppState, with_metrics: bool) -> Router {
    let staff = crate::staff::api::router().with_state(state);
    if with_metrics {
        staff.merge(crate::ops::metrics::router())
    } else {
        staff
    }
}

/// The routes the provider (and its load balancer) reach.
fn provider_routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        // The TTY media stream: a WebSocket, checked by its per-call token.
        .route("/tty/stream", get(crate::http::stream::upgrade))
        .merge(webhook::router(state))
        // Outside these routes (`/staff` on a split port, `/metrics`, a scanner's
        // guesses): a plain 404, not the webhook layer's signature refusal, which
        // would log each as a refused webhook.
        .fallback(not_found)
}

async fn not_found() -> axum::http::StatusCode {
    axum::http::StatusCode::NOT_FOUND
}

/// 200 while the store answers, 503 while it does not ([`crate::store::health`]).
async fn healthz(
    axum::extract::State(s): axum::extract::State<AppState>,
) -> (axum::http::StatusCode, &'static str) {
    if s.health.check(|| s.line.store.ping()).await {
        (axum::http::StatusCode::OK, "ok")
    } else {
        (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "the database does not answer\n",
        )
    }
}

/// How long requests in flight get to finish once the server is told to stop.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The most connections the staff address serves at once, taken out of the server's
/// cap: agents' browsers hold a few each, and a share of their own means a flood on the
/// webhook port cannot crowd out the console, nor the console the webhooks.
const STAFF_CONNECTIONS: usize = 256;

/// A bound, ready server.
pub struct Application {
    listener: TcpListener,
    /// The staff address, when `CASELINE_STAFF_LISTEN` is set.
    staff: Option<TcpListener>,
    /// The metrics address, when `CASELINE_METRICS_LISTEN` is set to an address of its
    /// own (the staff address's own metrics are served by its listener).
    metrics: Option<TcpListener>,
    /// Whether the staff listener serves the metrics too.
    metrics_on_staff: bool,
    state: AppState,
    /// The open-file limit in force, raised to the hard limit (see [`crate::http::server`]).
    open_files: u64,
}

impl Application {
    /// Connects the database (migrating it), loads flows and binds the listen address
    /// (port 0 picks a free one).
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let store = Store::open(&settings.database_url, settings.database_pool).await?;
        Self::build_with(settings, store, Arc::new(SystemClock)).await
    }

    pub async fn build_with(
        settings: Settings,
        store: Store,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Application> {
        let listen = settings.listen;
        let staff = settings.staff_listen;
        let metrics = settings.metrics_listen;
        let state = Arc::new(Services::serving(settings, store, clock)?);
        crate::domain::verify::check_key(&state.line.store, &state.line.blind).await?;
        let listener =
            webhook_listener(listen).with_context(|| format!("Failed to listen on {listen}"))?;
        let mut app = Self::from_parts(listener, state);
        if let Some(addr) = staff {
            app.staff = Some(TcpListener::bind(addr).await.with_context(|| {
                format!("Failed to listen on {addr} for the staff (CASELINE_STAFF_LISTEN)")
            })?);
        }
        // One address named twice is one listener; port 0 (tests) asks for two ports.
        app.metrics_on_staff = staff.is_some_and(|s| Some(s) == metrics && s.port() != 0);
        if let Some(addr) = metrics.filter(|_| !app.metrics_on_staff) {
            app.metrics = Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("Failed to listen on {addr} for metrics"))?,
            );
        }
        Ok(app)
    }

    /// Wraps a listener already bound (the demo needs its port before the settings).
    /// Raises the open-file limit, as every way of building a server does, so idle
    /// connections cannot use up the descriptors a service manager's low default gives.
    pub fn from_parts(listener: TcpListener, state: AppState) -> Application {
        let open_files = crate::http::server::raise_open_file_limit();
        // Metrics are recorded from the start; served only where configured.
        let _ = crate::ops::metrics::handle();
        Application {
            listener,
            staff: None,
            metrics: None,
            metrics_on_staff: false,
            state,
            open_files,
        }
    }

    /// The metrics address, when one is configured.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        match (&self.metrics, self.metrics_on_staff) {
            (_, true) => self.staff_addr(),
            (Some(l), false) => l.local_addr().ok(),
            (None, false) => None,
        }
    }

    /// The staff address, when `CASELINE_STAFF_LISTEN` is set; else the staff are
    /// served on [`Application::local_addr`].
    pub fn staff_addr(&self) -> Option<SocketAddr> {
        self.staff.as_ref().and_then(|l| l.local_addr().ok())
    }

    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests (for at most
    /// ten seconds) and closes the store. The session sweeper runs beside the server.
    /// Connections are served by [`crate::http::server::serve`]: header and idle timeouts, and
    /// a connection cap below the open-file limit. With a staff address, it gets the same
    /// loop and timeouts, with a share of the cap of its own.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let sweeper = tokio::spawn(sweep_sessions(self.state.clone()));
        let dialer = tokio::spawn(run_dialer(self.state.clone()));
        let metrics = self
            .metrics
            .map(|l| tokio::spawn(crate::ops::metrics::serve(l)));
        let settings = &self.state.line.settings;
        let cap = crate::http::server::connection_cap(self.open_files)
            .min(usize::try_from(settings.max_connections).unwrap_or(usize::MAX));
        let staff_cap = (cap / 8).clamp(1, STAFF_CONNECTIONS);
        let options = crate::http::server::Options {
            header_timeout: settings.header_timeout,
            idle_timeout: settings.idle_timeout,
            max_connections: cap,
            shutdown_grace: SHUTDOWN_GRACE,
        };
        // Both listeners stop on the one signal.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let signal = tokio::spawn(async move {
            shutdown.await;
            let _ = stop.send(true);
        });
        let until_stopped = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
            let _ = stopped.wait_for(|s| *s).await;
        };
        match self.staff {
            None => {
                let router = router(self.state.clone());
                crate::http::server::serve(self.listener, router, options, until_stopped(stopped))
                    .await;
            }
            Some(staff) => {
                let webhooks = crate::http::server::Options {
                    max_connections: cap.saturating_sub(staff_cap).max(1),
                    ..options
                };
                let staff_options = crate::http::server::Options {
                    max_connections: staff_cap,
                    ..options
                };
                tokio::join!(
                    crate::http::server::serve(
                        self.listener,
                        webhook_router(self.state.clone()),
                        webhooks,
                        until_stopped(stopped.clone()),
                    ),
                    crate::http::server::serve(
                        staff,
                        staff_router(self.state.clone(), self.metrics_on_staff),
                        staff_options,
                        until_stopped(stopped),
                    ),
                );
            }
        }
        signal.abort();
        sweeper.abort();
        dialer.abort();
        if let Some(m) = metrics {
            m.abort();
        }
        // Saves that answered before their commit are still queued: commit them, so a
        // restart finds every call where its caller last heard it.
        self.state.line.store.close().await;
        Ok(())
    }
}

/// The callback dialer: a tick every `CASELINE_CALLBACK_TICK_SECONDS` while it is
/// configured. It runs beside the webhooks and never holds them up; its errors are
/// logged and the next tick tries again.
async fn run_dialer(state: AppState) {
    if state.line.settings.dialer.from.is_none() {
        return;
    }
    let mut tick = tokio::time::interval(state.line.settings.dialer.tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match crate::domain::callbacks::dialer::tick(&state.dialer()).await {
            Ok(crate::domain::callbacks::dialer::Tick::Dialled(id)) => {
                tracing::info!(request = id, "callback dialled")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "the dialer's tick failed"),
        }
    }
}

/// Deletes long-finished and abandoned sessions every ten minutes.
async fn sweep_sessions(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(600));
    loop {
        tick.tick().await;
        match state.line.store.sessions().expire(state.line.now()).await {
            Ok(n) if n > 0 => tracing::info!(expired = n, "expired old call sessions"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "session sweep failed"),
        }
        let keep = i64::from(state.line.settings.analytics_days) * 86_400;
        if let Err(e) =
            crate::ops::analytics::forget_before(&state.line.store, state.line.now() - keep).await
        {
            tracing::warn!(error = %format!("{e:#}"), "call path sweep failed");
        }
        let day_ago = state.line.now() - crate::store::SESSION_KEEP_SECS;
        if let Err(e) = state.line.store.staff().expire_handoffs(day_ago).await {
            tracing::warn!(error = %format!("{e:#}"), "hand-off sweep failed");
        }
        let staff_window = crate::staff::LOCK_SECS.max(crate::staff::ADDRESS_WINDOW_SECS);
        let counts = [
            (crate::store::Guard::StaffName, staff_window),
            (crate::store::Guard::Ssn, state.line.lockout.window_secs),
        ];
        for (guard, window) in counts {
            if let Err(e) = state
                .line
                .store
                .attempts()
                .sweep(guard, state.line.now(), window)
                .await
            {
                tracing::warn!(error = %format!("{e:#}"), "attempt count sweep failed");
            }
        }
    }
}

/// Connections waiting to be accepted on the webhook address, at most (the kernel caps
/// it at `net.core.somaxconn`).
const WEBHOOK_BACKLOG: u32 = 4096;

/// The webhook address's listener, with room for a burst of connections: when another
/// server behind the balancer dies, the balancer opens connections to the survivors
/// all at once. With the standard library's 128 the queue overflowed, connection
/// attempts were dropped, and nginx, whose connect timed out after a second, took the
/// last live server out too: every call failed (the kill drill, issue 27).
fn webhook_listener(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(WEBHOOK_BACKLOG)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A burst of 1,000 connections to a server that has not accepted any yet all
    /// connect at once (with a backlog of 128 most of them were dropped and retried a
    /// second later).
    #[tokio::test]
    async fn the_webhook_address_takes_a_burst_of_connections_before_accepting() {
        let listener = webhook_listener("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let connects = (0..1000).map(|_| {
            tokio::time::timeout(
                std::time::Duration::from_millis(700),
                tokio::net::TcpStream::connect(addr),
            )
        });
        let results = futures::future::join_all(connects).await;
        let connected = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
        assert_eq!(connected, 1000, "connected at once");
        drop(listener);
    }
}
