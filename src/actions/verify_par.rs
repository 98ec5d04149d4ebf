//! `verify-par`: the PAR ID (an `<Input>`): `ok`, `failed` (try again), `too-many` (tries used up), `locked`.

use crate::domain::verify;
use super::{Act, Outcome};
use crate::flow::ActionSpec;
use crate::session::VerifyOutcome;

pub const SPEC: ActionSpec = ActionSpec {
    name: "verify-par",
    values: &[],
    outcomes: VerifyOutcome::WORDS,
    takes_input: true,
    prompts: &[],
};

pub async fn run(Act { checks, input, session, .. }: Act<'_>) -> Outcome {
    let o = verify::check_par(&checks, session, &super::keyed(input)).await?;
    session.verify_outcome = Some(o);
    crate::ops::metrics::count_by("caseline_verifications_total", "outcome", o.as_str());
    if o == VerifyOutcome::Locked {
        crate::ops::metrics::count("caseline_lockouts_total");
    }
    Ok(Some(o.to_string()))
}
