//! `request-callback`: stores the callback request: `ok`; `already-open` for a number
//! with one; `limit` past one a call or three a number a day; `refused` for a number the
//! policy no longer lets the agency call.

use crate::domain::callbacks;
use super::{Act, Outcome};
use crate::flow::ActionSpec;

pub const SPEC: ActionSpec = ActionSpec {
    name: "request-callback",
    values: &[],
    outcomes: &["ok", "already-open", "limit", "refused"],
    takes_input: false,
    prompts: &[],
};

pub async fn run(
    Act { store, outbound, settings, now, agencies, session, .. }: Act<'_>,
) -> Outcome {
    let (now, tz) = (now, settings.hours.tz);
    let agency = crate::domain::agencies::of_call(agencies, session);
    let outcome = callbacks::request(store, outbound, now, tz, agency.as_deref(), session).await?;
    Ok(Some(outcome.to_string()))
}
