//! `agency-zip`: the ZIP code of a caller who has not verified (an `<Input>`, keys or
//! speech), looked up in the agencies file's ZIP table. `one`: a county, hence its
//! agency, set for the rest of the call; `several`: a ZIP code across a county line,
//! whose counties fill `{county_choices}` for the caller to choose; `outside`: not a
//! California ZIP code. Not five digits is a wrong entry.

use super::{Act, Outcome};
use crate::flow::ActionSpec;
use crate::telephony::input::NO_MATCH;
use crate::words::speech::Value;

pub const SPEC: ActionSpec = ActionSpec {
    name: "agency-zip",
    values: &[],
    outcomes: &["one", "several", "outside"],
    takes_input: true,
    prompts: &[],
};

/// The most counties offered in one menu (keys 1 to 9).
const MAX_COUNTIES: usize = 9;

pub async fn run(Act { agencies, input, session, .. }: Act<'_>) -> Outcome {
    let zip = super::keyed(input);
    if zip.len() != 5 || !zip.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(Some(NO_MATCH.into()));
    }
    // Asked only with a file loaded; without one, the statewide unit.
    let Some(agencies) = agencies else {
        return Ok(Some("outside".into()));
    };
    let counties = agencies.counties_for_zip(&zip);
    Ok(Some(
        match counties {
            [] => "outside",
            [county] => {
                session.agency = Some(agencies.for_county(*county).id.clone());
                "one"
            }
            several => {
                let offered = &several[..several.len().min(MAX_COUNTIES)];
                session.county_choices = offered.iter().map(|c| c.name().to_string()).collect();
                let items = offered
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        std::collections::BTreeMap::from([
                            ("county".to_string(), Value::Text(c.name().to_string())),
                            ("key".to_string(), Value::Text((i + 1).to_string())),
                        ])
                    })
                    .collect();
                session.values.insert(
                    "county_choices".into(),
                    Value::List {
                        prompt: "agency.county-choice".into(),
                        items,
                    },
                );
                "several"
            }
        }
        .into(),
    ))
}
