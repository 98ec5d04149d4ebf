//! `route-topic`: where the caller was going before verifying (one of
//! [`crate::session::TOPICS`]).


use super::{Act, Outcome};
use crate::flow::ActionSpec;

pub const SPEC: ActionSpec = ActionSpec {
    name: "route-topic",
    values: &[],
    outcomes: crate::session::TOPICS,
    takes_input: false,
    prompts: &[],
};

pub async fn run(Act { session, .. }: Act<'_>) -> Outcome {
    // Payments unless the caller asked for something else we know.
    let to = session
        .topic
        .as_deref()
        .and_then(|t| crate::session::TOPICS.iter().find(|k| **k == t))
        .unwrap_or(&"payments");
    Ok(Some(to.to_string()))
}
