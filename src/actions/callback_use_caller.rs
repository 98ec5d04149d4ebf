//! `callback-use-caller`: the calling number as the callback number: `ok`; `refused`
//! when the policy does not let the agency call it (the caller may key another); `none`
//! when no number shows but the caller verified; `withheld` when the caller neither
//! verified nor showed a number (no callback: see [`callbacks::use_caller`]).

use crate::domain::callbacks;
use super::{Act, Outcome};
use crate::flow::ActionSpec;

pub const SPEC: ActionSpec = ActionSpec {
    name: "callback-use-caller",
    values: &[],
    outcomes: &["ok", "none", "refused", "withheld"],
    takes_input: false,
    prompts: &[],
};

pub async fn run(Act { outbound, session, .. }: Act<'_>) -> Outcome {
    Ok(Some(callbacks::use_caller(session, outbound).to_string()))
}
