//! `callback-enter`: ten digits to call back (an `<Input>`): `ok`; `refused` for a
//! number the agency does not call; anything else is a wrong entry.

use crate::domain::callbacks;
use super::{Act, Outcome};
use crate::flow::ActionSpec;

pub const SPEC: ActionSpec = ActionSpec {
    name: "callback-enter",
    values: &[],
    outcomes: &["ok", "refused"],
    takes_input: true,
    prompts: &[],
};

pub async fn run(Act { outbound, input, session, .. }: Act<'_>) -> Outcome {
    let outcome = match input {
        Some(i) => callbacks::enter(session, i, outbound),
        None => crate::telephony::input::NO_MATCH,
    };
    Ok(Some(outcome.to_string()))
}
