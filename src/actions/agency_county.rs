//! `agency-county`: the key for one of the counties a ZIP code lies in (an `<Input>`,
//! after `agency-zip` answered `several`): `ok`, that county's agency set for the rest of
//! the call. A key not offered is a wrong key.

use super::{Act, Outcome};
use crate::domain::agencies::County;
use crate::flow::ActionSpec;
use crate::telephony::input::NO_MATCH;

pub const SPEC: ActionSpec = ActionSpec {
    name: "agency-county",
    values: &[],
    outcomes: &["ok"],
    takes_input: true,
    prompts: &[],
};

pub async fn run(Act { agencies, input, session, .. }: Act<'_>) -> Outcome {
    let keyed = super::keyed(input);
    let chosen = keyed
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| session.county_choices.get(i))
        .and_then(|name| County::parse(name));
    let (Some(agencies), Some(county)) = (agencies, chosen) else {
        return Ok(Some(NO_MATCH.into()));
    };
    session.agency = Some(agencies.for_county(county).id.clone());
    session.county_choices.clear();
    session.values.remove("county_choices");
    Ok(Some("ok".into()))
}
