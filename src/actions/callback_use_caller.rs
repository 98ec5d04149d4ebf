//! `callback-use-caller`: the calling number as the callback number: `ok`, or `none` when it cannot be called back (withheld, not a North American number).

use crate::callbacks;
use super::{Act, Outcome};
use crate::flow::ActionSpec;

pub const SPEC: ActionSpec = ActionSpec {
    name: "callback-use-caller",
    values: &[],
    outcomes: &["ok", "none"],
    takes_input: false,
    prompts: &[],
};

pub async fn run(Act { session, .. }: Act<'_>) -> Outcome {
    Ok(Some(callbacks::use_caller(session).to_string()))
}
