//! `pay-begin`: may this caller pay by card for the chosen case: `ok`, `not-payer` (the
//! receiving parent), `unavailable` (no payment connector configured) or `spent` (two
//! failed tries in this call already).

use super::{Act, Outcome};
use crate::flow::ActionSpec;

pub const SPEC: ActionSpec = ActionSpec {
    name: "pay-begin",
    values: &[],
    outcomes: &["ok", "not-payer", "unavailable", "spent"],
    takes_input: false,
    prompts: &[],
};

pub async fn run(Act { store, settings, session, .. }: Act<'_>) -> Outcome {
    let outcome = crate::domain::pay::begin(store, &settings.pay, session).await?;
    Ok(Some(outcome.to_string()))
}
