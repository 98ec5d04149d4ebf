//! `read-case-status`: the case status readback: `open` or `closed`.

use crate::domain::readback;
use super::{Act, Outcome};
use crate::flow::ActionSpec;

pub const SPEC: ActionSpec = ActionSpec {
    name: "read-case-status",
    values: &[],
    outcomes: &["open", "closed"],
    takes_input: false,
    prompts: &[],
};

pub async fn run(Act { reading, session, .. }: Act<'_>) -> Outcome {
    Ok(Some(readback::case_status(&reading, session).await?.to_string()))
}
