//! `verify-par`: the PAR ID (an `<Input>`): `ok`, `failed` (try again), `too-many` (tries used up), `locked`.

use crate::verify;
use crate::flow::ActionSpec;
use crate::flow::engine::CallerInput;
use crate::session::Session;
use crate::state::Services;

pub const SPEC: ActionSpec = ActionSpec {
    name: "verify-par",
    values: &[],
    outcomes: &["ok", "failed", "too-many", "locked"],
    takes_input: true,
};

pub async fn run(
    s: &Services,
    _: Option<&str>,
    input: Option<&CallerInput>,
    session: &mut Session,
) -> anyhow::Result<Option<String>> {
    let o = verify::check_par(&s.checks(), session, &super::keyed(input)).await?;
    session.verify_outcome = Some(o.to_string());
    Ok(Some(o.to_string()))
}
