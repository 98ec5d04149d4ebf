//! `set-topic`: what the caller asked for (`value="payments|case-status|return"`), kept across verification.


use super::{Act, Outcome};
use crate::flow::ActionSpec;

pub const SPEC: ActionSpec = ActionSpec {
    name: "set-topic",
    values: &["payments", "case-status", "return"],
    outcomes: &[],
    takes_input: false,
};

pub async fn run(Act { arg, session, .. }: Act<'_>) -> Outcome {
    session.topic = arg.map(String::from);
    Ok(None)
}
