//! `choose-case`: the key for one of several cases (an `<Input>`): `ok`.

use crate::domain::readback;
use super::{Act, Outcome};
use crate::flow::ActionSpec;

pub const SPEC: ActionSpec = ActionSpec {
    name: "choose-case",
    values: &[],
    outcomes: &["ok"],
    takes_input: true,
    prompts: &[],
};

pub async fn run(Act { input, session, .. }: Act<'_>) -> Outcome {
    Ok(Some(
        readback::choose_case(session, &super::keyed(input)).to_string(),
    ))
}
