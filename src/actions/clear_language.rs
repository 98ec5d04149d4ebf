//! `clear-language`: forgets the language, so prompts are said in both again (to change language).


use super::{Act, Outcome};
use crate::flow::ActionSpec;

pub const SPEC: ActionSpec = ActionSpec {
    name: "clear-language",
    values: &[],
    outcomes: &[],
    takes_input: false,
    prompts: &[],
};

pub async fn run(Act { session, .. }: Act<'_>) -> Outcome {
    session.lang = None;
    Ok(None)
}
