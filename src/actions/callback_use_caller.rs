//! `callback-use-caller`: the calling number as the callback number: `ok`, or `none` when it cannot be called back (withheld, not a North American number).

use crate::callbacks;
use crate::flow::ActionSpec;
use crate::flow::engine::CallerInput;
use crate::session::Session;
use crate::state::Services;

pub const SPEC: ActionSpec = ActionSpec {
    name: "callback-use-caller",
    values: &[],
    outcomes: &["ok", "none"],
    takes_input: false,
};

pub async fn run(
    _: &Services,
    _: Option<&str>,
    _: Option<&CallerInput>,
    session: &mut Session,
) -> anyhow::Result<Option<String>> {
    Ok(Some(callbacks::use_caller(session).to_string()))
}
