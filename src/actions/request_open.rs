//! `request-open`: whether the chosen case already has an open request of a kind
//! (`value`), before the caller spends time on a new one: `none`, or `open` (with
//! `{requested_on}`).

use super::{Act, Outcome};
use crate::flow::ActionSpec;
use crate::domain::requests;

pub const SPEC: ActionSpec = ActionSpec {
    name: "request-open",
    values: requests::KINDS,
    outcomes: &["none", "open"],
    takes_input: false,
    prompts: &[],
};

pub async fn run(Act { store, settings, arg, session, .. }: Act<'_>) -> Outcome {
    let kind = arg.unwrap_or_default();
    let tz = settings.hours.tz;
    let open = requests::open_since(store, tz, kind, session).await?;
    Ok(Some(if open { "open" } else { "none" }.to_string()))
}
