//! `read-payments`: the payment readback for the chosen case: `paying`, `receiving` or `none`.

use crate::readback;
use crate::flow::ActionSpec;
use crate::flow::engine::CallerInput;
use crate::session::Session;
use crate::state::Services;

pub const SPEC: ActionSpec = ActionSpec {
    name: "read-payments",
    values: &[],
    outcomes: &["paying", "receiving", "none"],
    takes_input: false,
};

pub async fn run(
    s: &Services,
    _: Option<&str>,
    _: Option<&CallerInput>,
    session: &mut Session,
) -> anyhow::Result<Option<String>> {
    Ok(Some(readback::payments(s, session).await?.to_string()))
}
