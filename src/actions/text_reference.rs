//! `text-reference`: texts the request's reference number (and nothing else) to the
//! number the caller is calling from: `sent` or `failed`.

use super::{Act, Outcome};
use crate::flow::ActionSpec;

pub const SPEC: ActionSpec = ActionSpec {
    name: "text-reference",
    values: &[],
    outcomes: &["sent", "failed"],
    takes_input: false,
    prompts: &[],
};

pub async fn run(Act { s, session, .. }: Act<'_>) -> Outcome {
    let outcome = crate::domain::requests::text_reference(s, session).await?;
    Ok(Some(outcome.to_string()))
}
