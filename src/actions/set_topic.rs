//! `set-topic`: what the caller asked for ([`crate::session::TOPICS`]), kept across
//! verification.


use super::{Act, Outcome};
use crate::flow::ActionSpec;

pub const SPEC: ActionSpec = ActionSpec {
    name: "set-topic",
    values: crate::session::TOPICS,
    outcomes: &[],
    takes_input: false,
    prompts: &[],
};

pub async fn run(Act { arg, session, .. }: Act<'_>) -> Outcome {
    session.topic = arg.map(String::from);
    Ok(None)
}
