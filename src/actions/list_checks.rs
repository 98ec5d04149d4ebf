//! `list-checks`: the checks sent to the caller on the chosen case, newest first, at
//! most five, in `{checks}`: `some` or `none`.

use super::{Act, Outcome};
use crate::flow::ActionSpec;

pub const SPEC: ActionSpec = ActionSpec {
    name: "list-checks",
    values: &[],
    outcomes: &["some", "none"],
    takes_input: false,
    prompts: &[],
};

pub async fn run(Act { store, session, .. }: Act<'_>) -> Outcome {
    Ok(Some(
        crate::domain::requests::list_checks(store, session)
            .await?
            .to_string(),
    ))
}
