//! `select-case`: the verified caller'\''s cases: `one` (chosen), `several` (ask), `none`.

use crate::readback;
use crate::flow::ActionSpec;
use crate::flow::engine::CallerInput;
use crate::session::Session;
use crate::state::Services;

pub const SPEC: ActionSpec = ActionSpec {
    name: "select-case",
    values: &[],
    outcomes: &["one", "several", "none"],
    takes_input: false,
};

pub async fn run(
    _: &Services,
    _: Option<&str>,
    _: Option<&CallerInput>,
    session: &mut Session,
) -> anyhow::Result<Option<String>> {
    Ok(Some(readback::select_case(session).to_string()))
}
