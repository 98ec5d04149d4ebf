//! `read-payments`: the payment readback for the chosen case: `paying`, `receiving` or `none`.

use crate::domain::readback;
use super::{Act, Outcome};
use crate::flow::ActionSpec;

pub const SPEC: ActionSpec = ActionSpec {
    name: "read-payments",
    values: &[],
    outcomes: &["paying", "receiving", "none"],
    takes_input: false,
    prompts: &[],
};

pub async fn run(Act { reading, session, .. }: Act<'_>) -> Outcome {
    Ok(Some(readback::payments(&reading, session).await?.to_string()))
}
