//! `text-reference`: texts the request's reference number (and nothing else) to the
//! number the caller is calling from: `sent` or `failed`.

use super::{Act, Outcome};
use crate::domain::requests::Texting;
use crate::flow::ActionSpec;

pub const SPEC: ActionSpec = ActionSpec {
    name: "text-reference",
    values: &[],
    outcomes: &["sent", "failed"],
    takes_input: false,
    prompts: &[],
};

pub async fn run(Act { store, settings, outbound, texts, now, session, .. }: Act<'_>) -> Outcome {
    let texting = Texting {
        store,
        texts,
        from: settings.sms_from.as_deref(),
        policy: outbound,
        now: now.timestamp(),
    };
    let outcome = crate::domain::requests::text_reference(&texting, session).await?;
    Ok(Some(outcome.to_string()))
}
