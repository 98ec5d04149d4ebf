//! The shared state: one [`Services`] value (settings, store, compiled flow, prompts,
//! clock, keys) built once at start and shared behind an `Arc` by every request. Only
//! the layers that serve calls and staff use it; the domain modules below take the
//! parts they need.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Settings;
use crate::flow::Flow;
use crate::prompts::Catalog;
use crate::signature::Keys;
use crate::store::Store;

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

    /// The parts the verification steps use.
    pub fn checks(&self) -> crate::verify::Checks<'_> {
        crate::verify::Checks {
            store: &self.store,
            blind: &self.blind,
            hasher: &self.hasher,
            lockout: self.lockout,
            now: self.now(),
        }
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
