//! `pay-amount`: the amount owed of a kind (`value`: `monthly` or `past-due`): `ok`,
//! `none` (nothing of that kind is owed) or `too-much` (over `CASELINE_PAY_MAX`).

use super::{Act, Outcome};
use crate::flow::ActionSpec;

pub const SPEC: ActionSpec = ActionSpec {
    name: "pay-amount",
    values: &["monthly", "past-due"],
    outcomes: &["ok", "none", "too-much"],
    takes_input: false,
    prompts: &[],
};

pub async fn run(Act { store, settings, arg, session, .. }: Act<'_>) -> Outcome {
    let outcome = crate::domain::pay::choose_amount(store, &settings.pay, session, arg, "").await?;
    Ok(Some(outcome.to_string()))
}
