//! `request-mail`: a verified caller's request by mail for the chosen case (`value`:
//! `history-this-year`, `history-last-year` or `deposit-form`): `ok` (the reference
//! number is in `{reference}`) or `already-open` (`{requested_on}` says since when).

use super::{Act, Outcome};
use crate::flow::ActionSpec;
use crate::domain::requests;

pub const SPEC: ActionSpec = ActionSpec {
    name: "request-mail",
    values: requests::MAIL_KINDS,
    outcomes: &["ok", "already-open"],
    takes_input: false,
    prompts: &["requests.what.history-this-year", "requests.what.history-last-year", "requests.what.deposit-form"],
};

pub async fn run(Act { store, settings, now, arg, agencies, session, .. }: Act<'_>) -> Outcome {
    let kind = arg.unwrap_or_default();
    let tz = settings.hours.tz;
    let extra = requests::Extra {
        agency: crate::domain::agencies::of_call(agencies, session),
        ..requests::Extra::default()
    };
    let outcome = requests::request(store, now.timestamp(), tz, kind, extra, session).await?;
    Ok(Some(outcome.to_string()))
}
