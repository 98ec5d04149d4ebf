//! `read-case-status`: the case status readback: `open` or `closed`.

use crate::readback;
use crate::flow::ActionSpec;
use crate::flow::engine::CallerInput;
use crate::session::Session;
use crate::state::Services;

pub const SPEC: ActionSpec = ActionSpec {
    name: "read-case-status",
    values: &[],
    outcomes: &["open", "closed"],
    takes_input: false,
};

pub async fn run(
    s: &Services,
    _: Option<&str>,
    _: Option<&CallerInput>,
    session: &mut Session,
) -> anyhow::Result<Option<String>> {
    Ok(Some(readback::case_status(s, session).await?.to_string()))
}
