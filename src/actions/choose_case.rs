//! `choose-case`: the key for one of several cases (an `<Input>`): `ok`.

use crate::readback;
use crate::flow::ActionSpec;
use crate::flow::engine::CallerInput;
use crate::session::Session;
use crate::state::Services;

pub const SPEC: ActionSpec = ActionSpec {
    name: "choose-case",
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
    Ok(Some(
        readback::choose_case(session, &super::keyed(input)).to_string(),
    ))
}
