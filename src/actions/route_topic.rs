//! `route-topic`: where the caller was going before verifying: `payments`, `case-status` or `return`.


use super::{Act, Outcome};
use crate::flow::ActionSpec;

pub const SPEC: ActionSpec = ActionSpec {
    name: "route-topic",
    values: &[],
    outcomes: &["payments", "case-status", "return"],
    takes_input: false,
};

pub async fn run(Act { session, .. }: Act<'_>) -> Outcome {
    let to = match session.topic.as_deref() {
        Some("case-status") => "case-status",
        Some("return") => "return",
        _ => "payments",
    };
    Ok(Some(to.to_string()))
}
