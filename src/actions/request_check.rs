//! `request-check`: the key of the check that never came, from `{checks}` (an
//! `<Input>`): a stop-payment and reissue request with the check's date and amount:
//! `ok` or `already-open`; `representative` for 0 (the check is not in the list); a key
//! not offered is a wrong key.

use super::{Act, Outcome};
use crate::flow::ActionSpec;
use crate::domain::requests;

pub const SPEC: ActionSpec = ActionSpec {
    name: "request-check",
    values: &[],
    outcomes: &["ok", "already-open", "representative"],
    takes_input: true,
    prompts: &["requests.what.missing-check"],
};

pub async fn run(
    Act { store, settings, now, input, agencies, session, .. }: Act<'_>,
) -> Outcome {
    let keyed = super::keyed(input);
    // The list offers 0 for a check that is not in it.
    if keyed == "0" {
        return Ok(Some("representative".to_string()));
    }
    let Some(details) = requests::picked_check(session, &keyed) else {
        return Ok(Some(crate::telephony::input::NO_MATCH.to_string()));
    };
    let extra = requests::Extra {
        details: Some(details),
        recording_sid: None,
        agency: crate::domain::agencies::of_call(agencies, session),
    };
    let tz = settings.hours.tz;
    let outcome =
        requests::request(store, now.timestamp(), tz, "missing-check", extra, session).await?;
    Ok(Some(outcome.to_string()))
}
