//! Building and running the server: one shared [`Services`] value (settings, store,
//! compiled flow, prompts, clock) behind an `Arc`, and the router over it.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::routing::get;
use tokio::net::TcpListener;

use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::flow::engine::{CallerInput, Runtime};
use crate::flow::{ActionKind, Condition, Flow};
use crate::prompts::{Catalog, Channel, Lang};
use crate::session::Session;
use crate::signature::Keys;
use crate::store::Store;
use crate::{speech, webhook};

/// Everything a webhook needs, built once at start.
pub struct Services {
    pub settings: Settings,
    pub store: Store,
    pub flow: Flow,
    pub catalog: Catalog,
    pub clock: Arc<dyn Clock>,
    /// `None` only when signatures are switched off on purpose.
    pub keys: Option<Keys>,
    pub blind: crate::verify::BlindIndex,
    pub hasher: crate::verify::Hasher,
    pub lockout: crate::verify::Lockout,
    /// The provider's REST API (staff transfers).
    pub provider: crate::provider::Provider,
    /// The CRM event on transfers, when `CASELINE_SCREEN_POP_URL` is set.
    pub screen_pop: Option<crate::screenpop::ScreenPop>,
    /// The last look at the store, for `/healthz`.
    pub health: crate::health::Health,
}

pub type AppState = Arc<Services>;

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
        let (catalog, flow) = load_flows(&settings)?;
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
        let blind =
            crate::verify::BlindIndex::new(settings.blind_index_key.as_deref().unwrap_or(""))
                .map_err(|_| {
                    anyhow::anyhow!(
                        "CASELINE_BLIND_INDEX_KEY is not set (or shorter than 32 characters): \
                     callers cannot be verified without it"
                    )
                })?;
        let hasher = crate::verify::Hasher::new(settings.hash_cost)?;
        let lockout = settings.lockout;
        let screen_pop = match (&settings.screen_pop_url, &settings.screen_pop_secret) {
            (Some(url), Some(secret)) => Some(crate::screenpop::ScreenPop::new(
                url.clone(),
                secret.clone(),
                settings.screen_pop_retry,
            )?),
            _ => None,
        };
        let provider = crate::provider::Provider::new(
            &settings.twilio_api_base,
            settings.twilio_account_sid.clone(),
            settings.auth_token.clone(),
            settings.provider_timeout,
        )?;
        Ok(Services {
            health: Default::default(),
            provider,
            screen_pop,
            blind,
            hasher,
            lockout,
            settings,
            store,
            flow,
            catalog,
            clock,
            keys,
        })
    }

    /// Unix seconds now.
    pub fn now(&self) -> i64 {
        self.clock.now().timestamp()
    }
}

/// Loads and checks the prompt catalog and the flows, as at start.
pub fn load_flows(settings: &Settings) -> anyhow::Result<(Catalog, Flow)> {
    let catalog = Catalog::load(&settings.prompts_dir)?;
    let flow = Flow::load(&settings.flows_dir, &catalog)?;
    Ok((catalog, flow))
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .merge(webhook::router(state.clone()))
        .merge(crate::staff::api::router())
        .with_state(state)
}

/// 200 while the store answers, 503 while it does not ([`crate::health`]).
async fn healthz(
    axum::extract::State(s): axum::extract::State<AppState>,
) -> (axum::http::StatusCode, &'static str) {
    if s.health.check(|| s.store.ping()).await {
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

/// A bound, ready server.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    /// The open-file limit in force, raised to the hard limit (see [`crate::server`]).
    open_files: u64,
}

impl Application {
    /// Connects the database (migrating it), loads flows and binds the listen address
    /// (port 0 picks a free one).
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let store = Store::connect(&settings.database_url).await?;
        Self::build_with(settings, store, Arc::new(SystemClock)).await
    }

    pub async fn build_with(
        settings: Settings,
        store: Store,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Application> {
        let listen = settings.listen;
        let state = Arc::new(Services::serving(settings, store, clock)?);
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("Failed to listen on {listen}"))?;
        Ok(Self::from_parts(listener, state))
    }

    /// Wraps a listener already bound (the demo needs its port before the settings).
    /// Raises the open-file limit, as every way of building a server does, so idle
    /// connections cannot use up the descriptors a service manager's low default gives.
    pub fn from_parts(listener: TcpListener, state: AppState) -> Application {
        let open_files = crate::server::raise_open_file_limit();
        Application {
            listener,
            state,
            open_files,
        }
    }

    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests (for at most
    /// ten seconds) and closes the store. The session sweeper runs beside the server.
    /// Connections are served by [`crate::server::serve`]: header and idle timeouts, and
    /// a connection cap below the open-file limit.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let sweeper = tokio::spawn(sweep_sessions(self.state.clone()));
        let settings = &self.state.settings;
        let options = crate::server::Options {
            header_timeout: settings.header_timeout,
            idle_timeout: settings.idle_timeout,
            max_connections: crate::server::connection_cap(self.open_files)
                .min(usize::try_from(settings.max_connections).unwrap_or(usize::MAX)),
            shutdown_grace: SHUTDOWN_GRACE,
        };
        crate::server::serve(self.listener, router(self.state.clone()), options, shutdown).await;
        sweeper.abort();
        // Saves that answered before their commit are still queued: commit them, so a
        // restart finds every call where its caller last heard it.
        self.state.store.close().await;
        Ok(())
    }
}

/// Deletes long-finished and abandoned sessions every ten minutes.
async fn sweep_sessions(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(600));
    loop {
        tick.tick().await;
        match state.store.expire_sessions(state.now()).await {
            Ok(n) if n > 0 => tracing::info!(expired = n, "expired old call sessions"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "session sweep failed"),
        }
        let day_ago = state.now() - crate::store::SESSION_KEEP_SECS;
        if let Err(e) = state.store.expire_handoffs(day_ago).await {
            tracing::warn!(error = %format!("{e:#}"), "hand-off sweep failed");
        }
        let staff_window = crate::staff::LOCK_SECS.max(crate::staff::ADDRESS_WINDOW_SECS);
        let counts = [
            (crate::store::Guard::StaffName, staff_window),
            (crate::store::Guard::Ssn, state.lockout.window_secs),
        ];
        for (guard, window) in counts {
            if let Err(e) = state.store.sweep_attempts(guard, state.now(), window).await {
                tracing::warn!(error = %format!("{e:#}"), "attempt count sweep failed");
            }
        }
    }
}

impl Runtime for Services {
    fn flow(&self) -> &Flow {
        &self.flow
    }

    fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.settings.public_url)
    }

    fn voice(&self, lang: Lang) -> Option<&str> {
        match lang {
            Lang::En => self.settings.voice_en.as_deref(),
            Lang::Es => self.settings.voice_es.as_deref(),
        }
    }

    fn value(&self, session: &Session, name: &str, lang: Lang, channel: Channel) -> Option<String> {
        let now = self.clock.now();
        let hours = &self.settings.hours;
        match (session.values.get(name), name) {
            (Some(v), _) => Some(v.render(&self.catalog, lang, channel)),
            (None, "next_open") => {
                let local = now.with_timezone(&hours.tz).naive_local();
                hours
                    .next_open(now)
                    .map(|open| speech::next_open(local, open, lang))
            }
            (None, "holiday") => hours.holiday(now, lang).map(String::from),
            (None, _) => speech::setting_value(&self.settings, name, lang, channel),
        }
    }

    async fn condition(&self, condition: Condition, session: &Session) -> anyhow::Result<bool> {
        Ok(match condition {
            Condition::OfficeOpen => self.settings.hours.is_open(self.clock.now()),
            Condition::Verified => session.verified,
            Condition::Tty => session.channel == Channel::Tty,
            Condition::LanguageChosen => session.lang.is_some(),
            Condition::Announcement => self.store.announcement(self.now()).await?.is_some(),
            Condition::Holiday => self
                .settings
                .hours
                .holiday(self.clock.now(), Lang::En)
                .is_some(),
            Condition::CallbackRequested => session.callback_requested,
            Condition::StaffTransfer => session.staff_transfer.is_some(),
            Condition::RepresentativeReached => matches!(
                session.transfer_result.as_deref(),
                Some("bridged" | "bridging-in-process" | "completed" | "answered")
            ),
        })
    }

    async fn action(
        &self,
        action: ActionKind,
        arg: Option<&str>,
        input: Option<&CallerInput>,
        session: &mut Session,
    ) -> anyhow::Result<Option<String>> {
        crate::actions::run(self, action, arg, input, session).await
    }

    async fn representative(
        &self,
        session: &mut Session,
        after: String,
    ) -> anyhow::Result<crate::twiml::Element> {
        let ctx = crate::transfer::Context::of(session);
        // A caller a staff member sent here goes back to that staff member (once).
        let (el, destination) = match session.staff_transfer.take() {
            Some(t) => {
                let dest = crate::transfer::Destination::parse_return_to(&t.return_to)
                    .map_err(anyhow::Error::msg)?;
                (dest.dial(&ctx, after), t.return_to)
            }
            None => {
                let wait = self.url("/voice/queue/wait");
                crate::transfer::to_representative(&self.settings, &ctx, after, wait)?
            }
        };
        session.transfer_result = None;
        session.callback_requested = false;
        if let Some(pop) = &self.screen_pop {
            pop.send(&ctx, destination);
        }
        Ok(el)
    }

    async fn announcement(&self, lang: Lang) -> anyhow::Result<Option<String>> {
        Ok(self
            .store
            .announcement(self.now())
            .await?
            .map(|a| match lang {
                Lang::En => a.text_en,
                Lang::Es => a.text_es,
            }))
    }
}
