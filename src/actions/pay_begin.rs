//! `pay-begin`: may this caller pay by card for the chosen case: `ok`, `not-payer` (the
//! receiving parent) or `unavailable` (no payment connector configured).

use super::{Act, Outcome};
use crate::flow::ActionSpec;

pub const SPEC: ActionSpec = ActionSpec {
    name: "pay-begin",
    values: &[],
    outcomes: &["ok", "not-payer", "unavailable"],
    takes_input: false,
    prompts: &[],
};

pub async fn run(Act { s, session, .. }: Act<'_>) -> Outcome {
    let outcome = crate::pay::begin(&s.store, &s.settings.pay, session).await?;
    Ok(Some(outcome.to_string()))
}
