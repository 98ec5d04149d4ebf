//! [`Line`]: what answering a call is handed. The composition root builds it once; the
//! call layer, the flow engine's runtime and (through [`crate::actions::Act`]) the
//! actions read it. It holds no signing key and no client that moves live calls: the
//! provider reaches a call only as the two handles a call uses (texting a reference,
//! deleting an empty recording).

use std::sync::Arc;

use crate::clock::Clock;
use crate::clock::hours::Hours;
use crate::config::{Lockout, Settings};
use crate::domain::agencies::{Agencies, Agency};
use crate::domain::callbacks::dialer::Waiting;
use crate::domain::outbound::Policy;
use crate::domain::readback::Reading;
use crate::domain::transfer::screenpop::ScreenPop;
use crate::domain::verify::{BlindIndex, Checks, Hasher};
use crate::flow::Flow;
use crate::session::Session;
use crate::store::Store;
use crate::telephony::provider::{Recordings, Texts};
use crate::words::prompts::Catalog;

/// Everything a webhook of a call needs, built once at start.
pub struct Line {
    pub settings: Settings,
    pub store: Store,
    pub flow: Flow,
    pub catalog: Catalog,
    pub clock: Arc<dyn Clock>,
    pub blind: BlindIndex,
    pub hasher: Hasher,
    pub lockout: Lockout,
    /// Which numbers the server may call back or text.
    pub outbound: Policy,
    /// The CRM event on transfers, when `CASELINE_SCREEN_POP_URL` is set.
    pub screen_pop: Option<ScreenPop>,
    /// Callers waiting in the queue, as its wait webhooks said (for the dialer).
    pub waiting: Waiting,
    /// Texting the reference number of a request.
    pub texts: Texts,
    /// Deleting a recording nobody keeps.
    pub recordings: Recordings,
    /// Sealing the session into turn URLs, where several servers share the calls.
    pub carry: Option<super::carried::Carry>,
    /// The local agencies (`CASELINE_AGENCIES_FILE`), when the line routes by them.
    pub agencies: Option<Agencies>,
}

impl Line {
    /// The parts the verification steps use.
    pub fn checks(&self) -> Checks<'_> {
        Checks {
            store: &self.store,
            blind: &self.blind,
            hasher: &self.hasher,
            lockout: self.lockout,
            now: self.now(),
        }
    }

    /// The parts a readback uses.
    pub fn reading(&self) -> Reading<'_> {
        Reading {
            store: &self.store,
            tz: self.settings.hours.tz,
            now: self.now(),
        }
    }

    /// The local agency whose own line takes this caller: the one the caller's case
    /// belongs to (see the `route-agency` action), when it has a way to reach it.
    /// `None`: the statewide unit, with its hours.
    pub fn agency(&self, session: &Session) -> Option<&Agency> {
        let id = session.agency.as_deref()?;
        self.agencies.as_ref()?.answering(id)
    }

    /// The hours that decide whether a person answers this caller: their agency's, else
    /// the unit's (`CASELINE_HOURS`).
    pub fn hours(&self, session: &Session) -> &Hours {
        self.agency(session)
            .map_or(&self.settings.hours, |a| &a.hours)
    }

    /// Unix seconds now.
    pub fn now(&self) -> i64 {
        self.clock.now().timestamp()
    }
}
