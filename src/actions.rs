//! Server actions named by the flows: the Rust behind `<Action name="...">` and
//! `<Input action="...">`. Each answers the outcome the flow maps to a step.

use crate::flow::ActionKind;
use crate::flow::engine::CallerInput;
use crate::prompts::Lang;
use crate::session::Session;
use crate::state::Services;
use crate::{callbacks, readback, speech, verify};

pub async fn run(
    s: &Services,
    action: ActionKind,
    arg: Option<&str>,
    input: Option<&CallerInput>,
    session: &mut Session,
) -> anyhow::Result<Option<String>> {
    let keyed = || input.map(entered_digits).unwrap_or_default();
    let outcome = match action {
        ActionKind::SetLanguage => {
            session.lang = arg.and_then(Lang::parse).or(session.lang);
            return Ok(None);
        }
        ActionKind::ClearLanguage => {
            session.lang = None;
            return Ok(None);
        }
        ActionKind::SetTopic => {
            session.topic = arg.map(String::from);
            return Ok(None);
        }
        ActionKind::VerifySsn => {
            let o = verify::check_ssn(&s.checks(), session, &keyed()).await?;
            if o == "locked" {
                session.verify_outcome = Some(o.to_string());
            }
            o
        }
        ActionKind::VerifyPar => {
            let o = verify::check_par(&s.checks(), session, &keyed()).await?;
            session.verify_outcome = Some(o.to_string());
            o
        }
        ActionKind::SelectCase => readback::select_case(session),
        ActionKind::ChooseCase => readback::choose_case(session, &keyed()),
        ActionKind::RouteTopic => match session.topic.as_deref() {
            Some("case-status") => "case-status",
            Some("return") => "return",
            _ => "payments",
        },
        ActionKind::ReadPayments => readback::payments(s, session).await?,
        ActionKind::ReadHistory => readback::history(s, session).await?,
        ActionKind::ReadCaseStatus => readback::case_status(s, session).await?,
        ActionKind::CallbackUseCaller => callbacks::use_caller(session),
        ActionKind::CallbackEnter => match input {
            Some(i) => callbacks::enter(session, i),
            None => "nomatch",
        },
        ActionKind::RequestCallback => callbacks::request(s, session).await?,
    };
    Ok(Some(outcome.to_string()))
}

/// What the caller entered: keys, or digits they said ("one two three", "1 2 3").
/// Keys win when both came. Anything that is not digits comes back as it was, so the
/// action sees a malformed entry.
fn entered_digits(input: &CallerInput) -> String {
    if !input.digits.is_empty() {
        return input.digits.clone();
    }
    input
        .speech
        .as_deref()
        .and_then(speech::spoken_digits)
        .unwrap_or_else(|| "?".to_string())
}
