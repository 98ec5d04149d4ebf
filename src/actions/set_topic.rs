//! `set-topic`: what the caller asked for (`value="payments|case-status|return"`), kept across verification.


use crate::flow::ActionSpec;
use crate::flow::engine::CallerInput;
use crate::session::Session;
use crate::state::Services;

pub const SPEC: ActionSpec = ActionSpec {
    name: "set-topic",
    values: &["payments", "case-status", "return"],
    outcomes: &[],
    takes_input: false,
};

pub async fn run(
    _: &Services,
    arg: Option<&str>,
    _: Option<&CallerInput>,
    session: &mut Session,
) -> anyhow::Result<Option<String>> {
    session.topic = arg.map(String::from);
    Ok(None)
}
