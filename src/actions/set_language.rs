//! `set-language`: the language for the rest of the call (`value="en|es"`).

use crate::words::prompts::Lang;
use super::{Act, Outcome};
use crate::flow::ActionSpec;

pub const SPEC: ActionSpec = ActionSpec {
    name: "set-language",
    values: &["en", "es"],
    outcomes: &[],
    takes_input: false,
    prompts: &[],
};

pub async fn run(Act { arg, session, .. }: Act<'_>) -> Outcome {
    session.lang = arg.and_then(Lang::parse).or(session.lang);
    Ok(None)
}
