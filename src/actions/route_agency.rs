//! `route-agency`: before a caller who asks for a person is handed over, which local
//! agency their case belongs to (the chosen case's county, `CASELINE_AGENCIES_FILE`).
//! Sets it for the rest of the call, or clears it (no file, not verified, no case, or a
//! county that is not California's): the statewide unit then answers, as before.

use super::{Act, Outcome};
use crate::flow::ActionSpec;

pub const SPEC: ActionSpec = ActionSpec {
    name: "route-agency",
    values: &[],
    outcomes: &[],
    takes_input: false,
    prompts: &[],
};

pub async fn run(Act { store, agencies, session, .. }: Act<'_>) -> Outcome {
    session.agency = None;
    let (Some(agencies), Some(case)) = (agencies, session.case.as_ref()) else {
        return Ok(None);
    };
    // Only a verified caller's case says where they belong.
    if !session.verified {
        return Ok(None);
    }
    let Some(case) = store.cases().case(case.case_id).await? else {
        return Ok(None);
    };
    match agencies.for_case_county(&case.county) {
        Some(agency) => session.agency = Some(agency.id.clone()),
        None => tracing::warn!(
            call_sid = %session.call_sid,
            "the case's county is not a California county: the statewide unit answers"
        ),
    }
    Ok(None)
}
