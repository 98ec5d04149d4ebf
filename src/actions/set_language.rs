//! `set-language`: the language for the rest of the call (`value="en|es"`).

use crate::prompts::Lang;
use crate::flow::ActionSpec;
use crate::flow::engine::CallerInput;
use crate::session::Session;
use crate::state::Services;

pub const SPEC: ActionSpec = ActionSpec {
    name: "set-language",
    values: &["en", "es"],
    outcomes: &[],
    takes_input: false,
};

pub async fn run(
    _: &Services,
    arg: Option<&str>,
    _: Option<&CallerInput>,
    session: &mut Session,
) -> anyhow::Result<Option<String>> {
    session.lang = arg.and_then(Lang::parse).or(session.lang);
    Ok(None)
}
