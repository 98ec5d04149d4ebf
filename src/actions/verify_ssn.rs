//! `verify-ssn`: the SSN (an `<Input>`): `ok` (ask for the PAR ID next) or `locked`.

use crate::verify;
use crate::flow::ActionSpec;
use crate::flow::engine::CallerInput;
use crate::session::Session;
use crate::state::Services;

pub const SPEC: ActionSpec = ActionSpec {
    name: "verify-ssn",
    values: &[],
    outcomes: &["ok", "locked"],
    takes_input: true,
};

pub async fn run(
    s: &Services,
    _: Option<&str>,
    input: Option<&CallerInput>,
    session: &mut Session,
) -> anyhow::Result<Option<String>> {
    let o = verify::check_ssn(&s.checks(), session, &super::keyed(input)).await?;
    if o == "locked" {
        session.verify_outcome = Some(o.to_string());
    }
    Ok(Some(o.to_string()))
}
