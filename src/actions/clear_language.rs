//! `clear-language`: forgets the language, so prompts are said in both again (to change language).


use crate::flow::ActionSpec;
use crate::flow::engine::CallerInput;
use crate::session::Session;
use crate::state::Services;

pub const SPEC: ActionSpec = ActionSpec {
    name: "clear-language",
    values: &[],
    outcomes: &[],
    takes_input: false,
};

pub async fn run(
    _: &Services,
    _: Option<&str>,
    _: Option<&CallerInput>,
    session: &mut Session,
) -> anyhow::Result<Option<String>> {
    session.lang = None;
    Ok(None)
}
