//! `request-callback`: stores the callback request: `ok`, or `already-open` for a number with one.

use crate::callbacks;
use super::{Act, Outcome};
use crate::flow::ActionSpec;

pub const SPEC: ActionSpec = ActionSpec {
    name: "request-callback",
    values: &[],
    outcomes: &["ok", "already-open"],
    takes_input: false,
    prompts: &[],
};

pub async fn run(Act { s, session, .. }: Act<'_>) -> Outcome {
    Ok(Some(callbacks::request(&s.store, s.now(), session).await?.to_string()))
}
