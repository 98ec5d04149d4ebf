//! `route-agency`: before a caller who asks for a person is handed over, which local
//! agency takes them (`CASELINE_AGENCIES_FILE`). A verified caller's chosen case gives
//! the county, hence the agency (`ok`). A caller with no case to go by is asked their
//! ZIP code once in the call (`ask-zip`), when the file names a ZIP table and some
//! agency has a line of its own. Otherwise
//! (no file, an answer already given, a county that is not California's) `ok` with what
//! is known: no agency means the statewide unit, as before the file.

use super::{Act, Outcome};
use crate::flow::ActionSpec;

pub const SPEC: ActionSpec = ActionSpec {
    name: "route-agency",
    values: &[],
    outcomes: &["ok", "ask-zip"],
    takes_input: false,
    prompts: &[],
};

pub async fn run(Act { store, agencies, session, .. }: Act<'_>) -> Outcome {
    let Some(agencies) = agencies else {
        session.agency = None;
        return Ok(Some("ok".into()));
    };
    // Only a verified caller's case says where they belong; it wins over a ZIP code.
    if let (true, Some(case)) = (session.verified, session.case.as_ref()) {
        session.agency = None;
        // Sessions stored before the county was kept with the case read it.
        let county = match &case.county {
            Some(county) => county.clone(),
            None => match store.cases().case(case.case_id).await? {
                Some(case) => case.county,
                None => return Ok(Some("ok".into())),
            },
        };
        match agencies.for_case_county(&county) {
            Some(agency) => session.agency = Some(agency.id.clone()),
            None => tracing::warn!(
                call_sid = %session.call_sid,
                "the case's county is not a California county: the statewide unit answers"
            ),
        }
        return Ok(Some("ok".into()));
    }
    // A person the dialer called back asked for this call already: not questioned again
    // (their request's agency came with the call, as the dialer placed it; none: the
    // statewide unit).
    if session.callback_request.is_some() {
        return Ok(Some("ok".into()));
    }
    // Not while every agency is still to be filled in: the answer would change nothing.
    let any_own_line = agencies.iter().any(|a| a.reach.is_filled());
    if session.agency.is_none() && !session.zip_asked && agencies.zips().is_some() && any_own_line
    {
        session.zip_asked = true;
        return Ok(Some("ask-zip".into()));
    }
    Ok(Some("ok".into()))
}
