//! `route-topic`: where the caller was going before verifying (one of
//! [`Topic`]).


use super::{Act, Outcome};
use crate::flow::ActionSpec;
use crate::session::Topic;

pub const SPEC: ActionSpec = ActionSpec {
    name: "route-topic",
    values: &[],
    outcomes: Topic::WORDS,
    takes_input: false,
    prompts: &[],
};

pub async fn run(Act { session, .. }: Act<'_>) -> Outcome {
    // Payments unless the caller asked for something else we know.
    let to = session.topic.unwrap_or(Topic::Payments);
    Ok(Some(to.as_str().to_string()))
}
