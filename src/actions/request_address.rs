//! `request-address`: the address the caller just recorded, as an address-change
//! request (the recording's SID is kept with it; the recording stays at the provider):
//! `ok`, `already-open`, or `no-recording` when nothing was recorded.

use super::{Act, Outcome};
use crate::flow::ActionSpec;
use crate::domain::requests;

pub const SPEC: ActionSpec = ActionSpec {
    name: "request-address",
    values: &[],
    outcomes: &["ok", "already-open", "no-recording"],
    takes_input: false,
    prompts: &["requests.what.address-change"],
};

pub async fn run(
    Act { store, settings, now, recordings, agencies, session, .. }: Act<'_>,
) -> Outcome {
    let Some(sid) = session.recording_sid.take() else {
        return Ok(Some("no-recording".to_string()));
    };
    let extra = requests::Extra {
        details: None,
        recording_sid: Some(sid.clone()),
        agency: crate::domain::agencies::of_call(agencies, session),
    };
    let tz = settings.hours.tz;
    let outcome =
        requests::request(store, now.timestamp(), tz, "address-change", extra, session).await?;
    // Not kept: the open request has its own recording, so this one goes, unless it is
    // that same recording (the provider delivered its callback twice).
    if outcome == "already-open"
        && !store.requests().holds_recording(&sid).await?
        && let Err(e) = recordings.delete(&sid).await
    {
        tracing::warn!(error = %e, "a second address recording could not be deleted");
    }
    Ok(Some(outcome.to_string()))
}
