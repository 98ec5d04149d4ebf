//! `callback-enter`: ten digits to call back (an `<Input>`): `ok`; anything else is a wrong entry.

use crate::callbacks;
use super::{Act, Outcome};
use crate::flow::ActionSpec;

pub const SPEC: ActionSpec = ActionSpec {
    name: "callback-enter",
    values: &[],
    outcomes: &["ok"],
    takes_input: true,
    prompts: &[],
};

pub async fn run(Act { input, session, .. }: Act<'_>) -> Outcome {
    let outcome = match input {
        Some(i) => callbacks::enter(session, i),
        None => "nomatch",
    };
    Ok(Some(outcome.to_string()))
}
