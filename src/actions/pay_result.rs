//! `pay-result`: what `<Pay>` answered: `success` (stored once; `{confirmation}` holds
//! its last six characters), each failure as the provider names it
//! (`too-many-failed-attempts`, `payment-connector-error`,
//! `caller-interrupted-with-star`, `validation-error`, `caller-hung-up`,
//! `internal-error`), `unconfirmed` (a success that cannot be confirmed: never "nothing
//! was charged"), or `spent` once the call has failed twice.

use super::{Act, Outcome};
use crate::flow::ActionSpec;

pub const SPEC: ActionSpec = ActionSpec {
    name: "pay-result",
    values: &[],
    outcomes: crate::domain::pay::OUTCOMES,
    takes_input: false,
    prompts: &[],
};

pub async fn run(Act { store, now, agencies, session, .. }: Act<'_>) -> Outcome {
    let agency = crate::domain::agencies::of_call(agencies, session);
    let now = now.timestamp();
    Ok(Some(crate::domain::pay::result(store, now, agency.as_deref(), session).await?))
}
