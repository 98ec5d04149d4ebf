//! `request-callback`: stores the callback request: `ok`, or `already-open` for a number with one.

use crate::callbacks;
use crate::flow::ActionSpec;
use crate::flow::engine::CallerInput;
use crate::session::Session;
use crate::state::Services;

pub const SPEC: ActionSpec = ActionSpec {
    name: "request-callback",
    values: &[],
    outcomes: &["ok", "already-open"],
    takes_input: false,
};

pub async fn run(
    s: &Services,
    _: Option<&str>,
    _: Option<&CallerInput>,
    session: &mut Session,
) -> anyhow::Result<Option<String>> {
    Ok(Some(callbacks::request(s, session).await?.to_string()))
}
