//! `select-case`: the verified caller'\''s cases: `one` (chosen), `several` (ask), `none`.

use crate::domain::readback;
use super::{Act, Outcome};
use crate::flow::ActionSpec;

pub const SPEC: ActionSpec = ActionSpec {
    name: "select-case",
    values: &[],
    outcomes: &["one", "several", "none"],
    takes_input: false,
    prompts: &[],
};

pub async fn run(Act { session, .. }: Act<'_>) -> Outcome {
    Ok(Some(readback::select_case(session).to_string()))
}
