//! `callback-enter`: ten digits to call back (an `<Input>`): `ok`; anything else is a wrong entry.

use crate::callbacks;
use crate::flow::ActionSpec;
use crate::flow::engine::CallerInput;
use crate::session::Session;
use crate::state::Services;

pub const SPEC: ActionSpec = ActionSpec {
    name: "callback-enter",
    values: &[],
    outcomes: &["ok"],
    takes_input: true,
};

pub async fn run(
    _: &Services,
    _: Option<&str>,
    input: Option<&CallerInput>,
    session: &mut Session,
) -> anyhow::Result<Option<String>> {
    let outcome = match input {
        Some(i) => callbacks::enter(session, i),
        None => "nomatch",
    };
    Ok(Some(outcome.to_string()))
}
