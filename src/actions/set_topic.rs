//! `set-topic`: what the caller asked for ([`Topic`]), kept across
//! verification.


use super::{Act, Outcome};
use crate::flow::ActionSpec;
use crate::session::Topic;

pub const SPEC: ActionSpec = ActionSpec {
    name: "set-topic",
    values: Topic::WORDS,
    outcomes: &[],
    takes_input: false,
    prompts: &[],
};

pub async fn run(Act { arg, session, .. }: Act<'_>) -> Outcome {
    session.topic = arg.and_then(Topic::parse);
    Ok(None)
}
