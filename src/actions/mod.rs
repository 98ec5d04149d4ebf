//! Server actions named by the flows: the Rust behind `<Action name="...">` and
//! `<Input action="...">`. Each lives in its own file with its spec beside its effect
//! (its flow name, the values it takes, the outcomes it answers, whether it reads the
//! caller's input) and is registered once, in `registry!` below: the flow compiler
//! checks flows against [`SPECS`], and [`run`] dispatches to it. Adding an action is
//! one new file and one line.

use chrono::{DateTime, Utc};

use crate::config::Settings;
use crate::domain::agencies::Agencies;
use crate::domain::outbound::Policy;
use crate::domain::readback::Reading;
use crate::domain::verify::Checks;
use crate::flow::{ActionId, ActionSpec};
use crate::session::Session;
use crate::store::Store;
use crate::telephony::input::CallerInput;
use crate::telephony::provider::{Recordings, Texts};
use crate::words::speech;

/// What an action is given: the few parts actions use (never the provider client that
/// moves live calls, nor the signing keys), its `value` from the flow, the caller's
/// entry (for actions fed by an `<Input>`), and the call's session to change. Each
/// action takes apart only the fields it uses, so its first line says what it touches.
pub struct Act<'a> {
    pub store: &'a Store,
    pub settings: &'a Settings,
    /// Which numbers may be called back or texted.
    pub outbound: &'a Policy,
    /// The SSN and PAR ID checks.
    pub checks: Checks<'a>,
    /// Reading a case back.
    pub reading: Reading<'a>,
    /// Texting a reference number.
    pub texts: &'a Texts,
    /// Deleting a recording no request keeps.
    pub recordings: &'a Recordings,
    pub now: DateTime<Utc>,
    /// The local agencies, when the line routes by them.
    pub agencies: Option<&'a Agencies>,
    pub arg: Option<&'a str>,
    pub input: Option<&'a CallerInput>,
    pub session: &'a mut Session,
}

/// An action's outcome, which the flow maps to a step (`None` for actions that just
/// continue).
pub type Outcome = anyhow::Result<Option<String>>;

/// Declares the action files, the list of their specs, and the dispatch, from one list.
macro_rules! registry {
    ($($file:ident),* $(,)?) => {
        $(mod $file;)*

        /// Every action a flow can name; an action's place here is its [`ActionId`].
        pub const SPECS: &[&ActionSpec] = &[$(&$file::SPEC),*];

        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy)]
        enum Which {
            $($file),*
        }

        const ORDER: &[Which] = &[$(Which::$file),*];

        /// Runs the action `id` (its place in [`SPECS`]) with what it is handed;
        /// answers its outcome (`None` for actions without outcomes).
        pub async fn run(id: ActionId, act: Act<'_>) -> anyhow::Result<Option<String>> {
            match ORDER.get(usize::from(id.0)) {
                $(Some(Which::$file) => $file::run(act).await,)*
                None => anyhow::bail!("no action number {}", id.0),
            }
        }
    };
}

registry!(
    set_language,
    clear_language,
    set_topic,
    verify_ssn,
    verify_par,
    select_case,
    choose_case,
    route_topic,
    read_payments,
    read_history,
    read_case_status,
    callback_use_caller,
    callback_enter,
    request_callback,
    request_mail,
    pay_begin,
    pay_amount,
    pay_keyed,
    pay_result,
    list_checks,
    request_check,
    request_address,
    text_reference,
    request_open,
    callback_answer,
    route_agency,
    agency_zip,
    agency_county,
);

/// What the caller entered: keys, or digits they said ("one two three", "1 2 3").
/// Keys win when both came. Anything that is not digits comes back as it was, so the
/// action sees a malformed entry.
fn keyed(input: Option<&CallerInput>) -> String {
    let Some(input) = input else {
        return String::new();
    };
    if !input.digits.is_empty() {
        return input.digits.clone();
    }
    input
        .speech
        .as_deref()
        .and_then(speech::spoken_digits)
        .unwrap_or_else(|| "?".to_string())
}
