//! `callback-answer`: what the person the dialer called back chose (`value`):
//! `connect` (to a representative, ahead of callers who have not waited), `later`
//! (called again after the gap) or `cancel`. Stored as an attempt and audited.

use super::{Act, Outcome};
use crate::flow::ActionSpec;

pub const SPEC: ActionSpec = ActionSpec {
    name: "callback-answer",
    values: &["connect", "later", "cancel"],
    outcomes: &[],
    takes_input: false,
    prompts: &[],
};

pub async fn run(Act { store, settings, now, arg, session, .. }: Act<'_>) -> Outcome {
    let id = session
        .callback_request
        .ok_or_else(|| anyhow::anyhow!("callback-answer in a call that is not a callback"))?;
    let choice = match arg {
        Some("connect") => "connected",
        Some("later") => "later",
        _ => "cancelled",
    };
    let (sid, now) = (session.call_sid.as_str(), now.timestamp());
    crate::domain::callbacks::dialer::chosen(store, &settings.dialer, now, id, sid, choice).await?;
    Ok(None)
}
