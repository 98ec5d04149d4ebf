//! `pay-keyed`: an amount keyed as dollars, `*`, cents (an `<Input>`): `ok`, `zero`,
//! `too-much` or `invalid`.

use super::{Act, Outcome};
use crate::flow::ActionSpec;

pub const SPEC: ActionSpec = ActionSpec {
    name: "pay-keyed",
    values: &[],
    outcomes: &["ok", "zero", "too-much", "invalid"],
    takes_input: true,
    prompts: &[],
};

pub async fn run(Act { store, settings, input, session, .. }: Act<'_>) -> Outcome {
    // Keys only: an amount is never taken from speech.
    let keys = input.map(|i| i.digits.as_str()).unwrap_or("");
    let outcome =
        crate::domain::pay::choose_amount(store, &settings.pay, session, None, keys).await?;
    Ok(Some(outcome.to_string()))
}
