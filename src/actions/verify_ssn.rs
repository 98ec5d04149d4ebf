//! `verify-ssn`: the SSN (an `<Input>`): `ok` (ask for the PAR ID next) or `locked`.

use crate::domain::verify;
use super::{Act, Outcome};
use crate::flow::ActionSpec;
use crate::session::VerifyOutcome;

pub const SPEC: ActionSpec = ActionSpec {
    name: "verify-ssn",
    values: &[],
    outcomes: &["ok", "locked"],
    takes_input: true,
    prompts: &[],
};

pub async fn run(Act { checks, input, session, .. }: Act<'_>) -> Outcome {
    let o = verify::check_ssn(&checks, session, &super::keyed(input)).await?;
    if o == "locked" {
        crate::ops::metrics::count("caseline_lockouts_total");
        crate::ops::metrics::count_by("caseline_verifications_total", "outcome", "locked");
        session.verify_outcome = Some(VerifyOutcome::Locked);
    }
    Ok(Some(o.to_string()))
}
