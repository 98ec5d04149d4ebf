//! `route-topic`: where the caller was going before verifying: `payments`, `case-status` or `return`.


use crate::flow::ActionSpec;
use crate::flow::engine::CallerInput;
use crate::session::Session;
use crate::state::Services;

pub const SPEC: ActionSpec = ActionSpec {
    name: "route-topic",
    values: &[],
    outcomes: &["payments", "case-status", "return"],
    takes_input: false,
};

pub async fn run(
    _: &Services,
    _: Option<&str>,
    _: Option<&CallerInput>,
    session: &mut Session,
) -> anyhow::Result<Option<String>> {
    let to = match session.topic.as_deref() {
        Some("case-status") => "case-status",
        Some("return") => "return",
        _ => "payments",
    };
    Ok(Some(to.to_string()))
}
