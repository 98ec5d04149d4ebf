//! The script a call plays: which keys a caller presses at which step, the steps read
//! from the compiled flows, and the move each answer of the server calls for.

use anyhow::{Context, bail};

use crate::flow::{Condition, Flow, StepIx, StepKind, Verb};
use crate::telephony::twiml::Response;

use super::Failure;

/// The steps of the flows a script passes, read from the compiled flows by following
/// the keys and outcomes a caller's path takes, so a changed flow changes the script's
/// expectations with it. Each is the set of `<Gather>` steps the caller may be at.
#[derive(Debug, Clone)]
pub struct Steps {
    language: Vec<String>,
    main_menu: Vec<String>,
    info_menu: Vec<String>,
    /// The information menu's keys and the step each one says.
    topics: Vec<(&'static str, Vec<String>)>,
    ask_ssn: Vec<String>,
    ask_par: Vec<String>,
    choose_case: Vec<String>,
    payments: Vec<String>,
    case_status: Vec<String>,
}

/// The information topics' keys a script picks from.
const TOPIC_KEYS: [&str; 5] = ["1", "2", "3", "4", "5"];

impl Steps {
    /// Follows the voice line from its entry: language 1, main menu 3 and the topics;
    /// main menu 1, the SSN and PAR ID accepted, a case chosen, the payments and case
    /// status readbacks. Fails if the flows have no such path.
    pub fn read(flow: &Flow) -> anyhow::Result<Steps> {
        let walk = Walk(flow);
        let entry = flow
            .entry("voice")
            .context("the flows have no 'voice' entry")?;
        let language = walk.gathers(entry, &[], "the welcome")?;
        let main_menu = walk.gathers(walk.key(&language, '1')?, &[], "language 1")?;
        let info_menu = walk.gathers(walk.key(&main_menu, '3')?, &[], "main menu 3")?;
        let topics = TOPIC_KEYS
            .iter()
            .map(|k| {
                let key = k.chars().next().unwrap_or('1');
                let at = walk.gathers(walk.key(&info_menu, key)?, &[], "a topic")?;
                Ok((*k, at))
            })
            .collect::<anyhow::Result<_>>()?;
        let ask_ssn = walk.gathers(walk.key(&main_menu, '1')?, &[], "main menu 1")?;
        let ask_par = walk.gathers(walk.outcome(&ask_ssn, "ok")?, &[], "an SSN")?;
        let verified = walk.outcome(&ask_par, "ok")?;
        let choose_case = walk.gathers(verified, &["several"], "several cases")?;
        let chosen = walk.outcome(&choose_case, "ok")?;
        let readback = ["payments", "paying", "receiving", "none"];
        let payments = walk.gathers(chosen, &readback, "the payments readback")?;
        let status = ["verified", "one", "case-status", "open", "closed"];
        let case_status = walk.gathers(walk.key(&payments, '1')?, &status, "payments 1")?;
        Ok(Steps {
            language,
            main_menu,
            info_menu,
            topics,
            ask_ssn,
            ask_par,
            choose_case,
            payments,
            case_status,
        })
    }
}

/// Walks a compiled flow the way the engine runs it for one path.
struct Walk<'f>(&'f Flow);

impl Walk<'_> {
    /// The `<Gather>` steps (menus and inputs) a caller reaches from `from` without
    /// pressing a key, taking the action outcomes and conditions named in `taken` (any
    /// other condition is false). `what` names the path in the error.
    fn gathers(&self, from: StepIx, taken: &[&str], what: &str) -> anyhow::Result<Vec<String>> {
        let mut found = Vec::new();
        let mut seen = vec![false; self.0.steps.len()];
        let mut todo = vec![from];
        while let Some(ix) = todo.pop() {
            if std::mem::replace(&mut seen[ix], true) {
                continue;
            }
            let step = self.0.step(ix);
            let verbs = match &step.kind {
                StepKind::Menu(_) | StepKind::Input(_) => {
                    found.push(step.name.clone());
                    continue;
                }
                StepKind::Sequence(verbs) => verbs,
            };
            for verb in verbs {
                match verb {
                    Verb::Goto(t) | Verb::Redirect(t) => {
                        todo.push(*t);
                        break;
                    }
                    Verb::If {
                        condition,
                        negate,
                        target,
                    } => {
                        if holds(*condition, taken) != *negate {
                            todo.push(*target);
                            break;
                        }
                    }
                    Verb::Action { outcomes, .. } if !outcomes.is_empty() => {
                        todo.extend(
                            outcomes
                                .iter()
                                .filter(|(o, _)| taken.contains(&o.as_str()))
                                .map(|(_, t)| *t),
                        );
                        break;
                    }
                    Verb::Representative { .. }
                    | Verb::Pay { .. }
                    | Verb::Transfer { .. }
                    | Verb::Hangup => break,
                    Verb::Say(_) | Verb::Raw(_) | Verb::Announcement | Verb::Action { .. } => {}
                }
            }
        }
        if found.is_empty() {
            bail!("the flows ask for no keys after {what}");
        }
        found.sort();
        Ok(found)
    }

    /// Where `key` leads from the menu `at` (the first, when several may be heard).
    fn key(&self, at: &[String], key: char) -> anyhow::Result<StepIx> {
        let name = at.first().map_or("", String::as_str);
        match self.0.find(name).map(|ix| &self.0.step(ix).kind) {
            Some(StepKind::Menu(menu)) => menu
                .keys
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, t)| *t)
                .with_context(|| format!("the menu '{name}' has no key {key}")),
            _ => bail!("'{name}' is not a menu"),
        }
    }

    /// Where `outcome` leads from the input `at`.
    fn outcome(&self, at: &[String], outcome: &str) -> anyhow::Result<StepIx> {
        let name = at.first().map_or("", String::as_str);
        match self.0.find(name).map(|ix| &self.0.step(ix).kind) {
            Some(StepKind::Input(input)) => input
                .outcomes
                .iter()
                .find(|(o, _)| o == outcome)
                .map(|(_, t)| *t)
                .with_context(|| format!("the input '{name}' has no outcome {outcome}")),
            _ => bail!("'{name}' is not an input"),
        }
    }
}

/// Whether the walk takes `condition` as true: only when named in `taken`.
fn holds(condition: Condition, taken: &[&str]) -> bool {
    Condition::NAMES
        .iter()
        .any(|(name, c)| *c == condition && taken.contains(name))
}

/// What the keys of a turn are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Keys {
    Fixed(&'static str),
    Ssn,
    ParId,
}

/// One turn of a call: the step whose `<Gather>` the caller must be at (the last
/// segment of its `action` path), and what they press there; `None` hangs up.
#[derive(Debug, Clone, Copy)]
pub(super) struct Turn<'a> {
    at: &'a [String],
    keys: Option<Keys>,
    /// Played only if the call is at its step (a choice only some callers are asked).
    optional: bool,
}

const fn turn<'a>(at: &'a [String], keys: &'static str) -> Turn<'a> {
    Turn {
        at,
        keys: Some(Keys::Fixed(keys)),
        optional: false,
    }
}

/// The script of call `n`. Every fourth call chooses Spanish. Without a caller: main
/// menu 3, an information topic, 8 for the topics again, a second topic, hang up.
/// With one: main menu 1 (payments), the SSN, the PAR ID (the first case if asked
/// which), the payments readback, 1 for the case status readback, hang up.
pub(super) fn script(steps: &Steps, n: u64, verifies: bool) -> Vec<Turn<'_>> {
    let language = if n % 4 == 3 { "2" } else { "1" };
    let choose_first_case = Turn {
        at: &steps.choose_case,
        keys: Some(Keys::Fixed("1")),
        optional: true,
    };
    if verifies {
        vec![
            turn(&steps.language, language),
            turn(&steps.main_menu, "1"),
            Turn {
                at: &steps.ask_ssn,
                keys: Some(Keys::Ssn),
                optional: false,
            },
            Turn {
                at: &steps.ask_par,
                keys: Some(Keys::ParId),
                optional: false,
            },
            choose_first_case,
            turn(&steps.payments, "1"),
            choose_first_case,
            Turn {
                at: &steps.case_status,
                keys: None,
                optional: false,
            },
        ]
    } else {
        let count = steps.topics.len() as u64;
        let (first_key, first_step) = &steps.topics[(n % count) as usize];
        let (second_key, second_step) = &steps.topics[((n + 2) % count) as usize];
        vec![
            turn(&steps.language, language),
            turn(&steps.main_menu, "3"),
            turn(&steps.info_menu, first_key),
            turn(first_step, "8"),
            turn(&steps.info_menu, second_key),
            Turn {
                at: second_step,
                keys: None,
                optional: false,
            },
        ]
    }
}

/// What an answer leaves the caller to do, read from its verbs in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Next {
    /// A `<Gather>`: press keys, posted to its `action`.
    Gather(String),
    /// A `<Redirect>` the provider follows at once.
    Redirect(String),
}

/// The first verb that hands the call on; anything else in the way is a [`Failure`].
fn next_of(response: &Response) -> Result<Next, Failure> {
    for verb in &response.verbs {
        match verb.name {
            "Gather" => {
                return verb
                    .get("action")
                    .map(|a| Next::Gather(a.to_string()))
                    .ok_or_else(|| Failure::NotTwiml("a <Gather> without an action".into()));
            }
            "Redirect" => {
                let url = verb.text.as_deref().unwrap_or("").trim();
                if path_of(url) == "/voice/recover" {
                    return Err(Failure::Apology(url.to_string()));
                }
                return Ok(Next::Redirect(url.to_string()));
            }
            "Hangup" | "Reject" => {
                return Err(Failure::OffScript("the server hung up".into()));
            }
            "Dial" | "Enqueue" => {
                return Err(Failure::OffScript(
                    "the call was sent to a representative".into(),
                ));
            }
            "Say" | "Play" | "Pause" => {}
            other => {
                return Err(Failure::OffScript(format!(
                    "<{other}>, which the load tester does not play"
                )));
            }
        }
    }
    Err(Failure::OffScript(
        "the TwiML ended with no way on (the provider hangs up)".into(),
    ))
}

/// The path of a URL (absolute or not), without its query.
pub(super) fn path_of(url: &str) -> &str {
    let rest = match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]),
        None => url,
    };
    rest.split(['?', '#']).next().unwrap_or("")
}

/// The step a `<Gather action>` answers: the last segment of its path.
fn step_of(action: &str) -> &str {
    let path = path_of(action);
    path.rsplit('/').next().unwrap_or(path)
}

/// What the caller does after an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Move {
    /// Follow a redirect, at once.
    Follow(String),
    /// After a pause, press these keys, posted to this action.
    Press(String, Keys),
    /// After a pause, hang up: the script is done.
    HangUp,
}

/// The caller's next move, given the script and the turn it has reached (advanced past
/// the turn played). A `<Gather>` at another step than the turn's is the call going off
/// its script.
pub(super) fn decide(
    turns: &[Turn<'_>],
    at: &mut usize,
    response: &Response,
) -> Result<Move, Failure> {
    let expected = || {
        turns
            .iter()
            .skip(*at)
            .find(|t| !t.optional)
            .map_or("the end".to_string(), |t| t.at.join(" or "))
    };
    let next = next_of(response).map_err(|f| match f {
        Failure::OffScript(d) => Failure::OffScript(format!("{d}, expected {}", expected())),
        other => other,
    })?;
    let action = match next {
        Next::Redirect(url) => return Ok(Move::Follow(url)),
        Next::Gather(action) => action,
    };
    let step = step_of(&action);
    while turns
        .get(*at)
        .is_some_and(|t| t.optional && !t.at.iter().any(|s| s == step))
    {
        *at += 1;
    }
    let Some(turn) = turns.get(*at) else {
        return Err(Failure::OffScript(format!(
            "asked at {step} after the script ended"
        )));
    };
    if !turn.at.iter().any(|s| s == step) {
        return Err(Failure::OffScript(format!(
            "expected {}, heard {step}",
            turn.at.join(" or ")
        )));
    }
    *at += 1;
    Ok(match turn.keys {
        Some(keys) => Move::Press(action, keys),
        None => Move::HangUp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telephony::twiml::Element;

    /// The steps read from the shipped flows, as `caseline loadtest` reads them.
    fn shipped() -> Steps {
        let catalog = crate::words::prompts::Catalog::load(std::path::Path::new("prompts"))
            .expect("the shipped prompts");
        let flow = Flow::load(
            std::path::Path::new("call-flows"),
            &catalog,
            crate::actions::SPECS,
            &[],
        )
        .expect("the shipped flows");
        Steps::read(&flow).expect("the scripts' paths")
    }

    #[test]
    fn the_scripts_steps_are_read_from_the_shipped_flows() {
        let s = shipped();
        let names = |v: &[String]| v.join(" ");
        assert_eq!(names(&s.language), "language");
        assert_eq!(names(&s.main_menu), "main-menu");
        assert_eq!(names(&s.info_menu), "info-menu");
        let topics: Vec<String> = s
            .topics
            .iter()
            .map(|(k, at)| format!("{k}:{}", names(at)))
            .collect();
        assert_eq!(
            topics,
            [
                "1:info-hours",
                "2:info-open-case",
                "3:info-payments",
                "4:info-services",
                "5:info-online"
            ]
        );
        assert_eq!(names(&s.ask_ssn), "ask-ssn");
        assert_eq!(names(&s.ask_par), "ask-par");
        assert_eq!(names(&s.choose_case), "choose-case");
        assert_eq!(
            names(&s.payments),
            "payments-none payments-paying payments-receiving"
        );
        assert_eq!(names(&s.case_status), "case-closed case-open");
    }

    fn gather(step: &str) -> Response {
        Response {
            verbs: vec![
                Element::new("Say").text("You said it."),
                Element::new("Gather")
                    .attr("action", format!("https://ivr.test/voice/input/{step}?t=3"))
                    .child(Element::new("Say").text("Press 1.")),
                Element::new("Redirect").text("https://ivr.test/voice/step/after-silence"),
            ],
        }
    }

    fn verbs(verbs: Vec<Element>) -> Response {
        Response { verbs }
    }

    #[test]
    fn the_next_move_is_the_first_verb_that_hands_the_call_on() {
        assert_eq!(
            next_of(&gather("main-menu")),
            Ok(Next::Gather(
                "https://ivr.test/voice/input/main-menu?t=3".into()
            ))
        );
        let redirect = verbs(vec![
            Element::new("Say").text("Welcome."),
            Element::new("Redirect").text("https://ivr.test/voice/step/language"),
        ]);
        assert_eq!(
            next_of(&redirect),
            Ok(Next::Redirect(
                "https://ivr.test/voice/step/language".into()
            ))
        );
        let apology = verbs(vec![
            Element::new("Say").text("Sorry."),
            Element::new("Redirect").text("https://ivr.test/voice/recover?attempt=1"),
        ]);
        assert!(matches!(next_of(&apology), Err(Failure::Apology(_))));
        for (verb, kind) in [
            ("Hangup", "off script"),
            ("Enqueue", "off script"),
            ("Dial", "off script"),
            ("Pay", "off script"),
        ] {
            let r = verbs(vec![Element::new("Say").text("Bye."), Element::new(verb)]);
            assert_eq!(next_of(&r).map_err(|f| f.kind()), Err(kind), "{verb}");
        }
        let ends = verbs(vec![Element::new("Say").text("Nothing more.")]);
        assert!(matches!(next_of(&ends), Err(Failure::OffScript(_))));
        let no_action = verbs(vec![Element::new("Gather")]);
        assert!(matches!(next_of(&no_action), Err(Failure::NotTwiml(_))));
    }

    #[test]
    fn steps_are_read_from_the_action_path() {
        assert_eq!(
            step_of("https://ivr.test/voice/input/ask-ssn?t=3"),
            "ask-ssn"
        );
        assert_eq!(
            step_of("https://ivr.test/voice/input/main-menu"),
            "main-menu"
        );
        assert_eq!(step_of("/voice/input/language#x"), "language");
        assert_eq!(path_of("https://ivr.test"), "");
        assert_eq!(
            path_of("https://ivr.test/voice/recover?attempt=1"),
            "/voice/recover"
        );
    }

    /// Plays a script against answers given in order; the moves made.
    fn walk(turns: &[Turn<'_>], answers: &[Response]) -> Result<Vec<Move>, Failure> {
        let mut at = 0;
        answers.iter().map(|a| decide(turns, &mut at, a)).collect()
    }

    #[test]
    fn an_information_call_presses_its_keys_where_the_answers_say() {
        // Call 0: English, topic 1 (hours), then 8, then topic 3 (payments).
        let steps = shipped();
        let turns = script(&steps, 0, false);
        let welcome = verbs(vec![
            Element::new("Say").text("Welcome."),
            Element::new("Redirect").text("https://ivr.test/voice/step/language?t=1"),
        ]);
        let moves = walk(
            &turns,
            &[
                welcome,
                gather("language"),
                gather("main-menu"),
                gather("info-menu"),
                gather("info-hours"),
                gather("info-menu"),
                gather("info-payments"),
            ],
        )
        .expect("on script");
        let action = |step: &str| format!("https://ivr.test/voice/input/{step}?t=3");
        assert_eq!(
            moves,
            vec![
                Move::Follow("https://ivr.test/voice/step/language?t=1".into()),
                Move::Press(action("language"), Keys::Fixed("1")),
                Move::Press(action("main-menu"), Keys::Fixed("3")),
                Move::Press(action("info-menu"), Keys::Fixed("1")),
                Move::Press(action("info-hours"), Keys::Fixed("8")),
                Move::Press(action("info-menu"), Keys::Fixed("3")),
                Move::HangUp,
            ]
        );
        // Every fourth call speaks Spanish.
        assert_eq!(script(&steps, 3, false)[0].keys, Some(Keys::Fixed("2")));
    }

    #[test]
    fn a_verified_call_answers_a_case_choice_only_when_asked() {
        let steps = shipped();
        let turns = script(&steps, 0, true);
        let one_case = [
            gather("language"),
            gather("main-menu"),
            gather("ask-ssn"),
            gather("ask-par"),
            gather("payments-paying"),
            gather("case-open"),
        ];
        let moves = walk(&turns, &one_case).expect("on script");
        let keys: Vec<Option<Keys>> = moves
            .iter()
            .map(|m| match m {
                Move::Press(_, k) => Some(*k),
                _ => None,
            })
            .collect();
        assert_eq!(
            keys,
            vec![
                Some(Keys::Fixed("1")),
                Some(Keys::Fixed("1")),
                Some(Keys::Ssn),
                Some(Keys::ParId),
                Some(Keys::Fixed("1")),
                None,
            ]
        );
        let several = [
            gather("language"),
            gather("main-menu"),
            gather("ask-ssn"),
            gather("ask-par"),
            gather("choose-case"),
            gather("payments-receiving"),
            gather("choose-case"),
            gather("case-closed"),
        ];
        let moves = walk(&turns, &several).expect("on script");
        assert_eq!(moves.len(), 8);
        assert_eq!(moves.last(), Some(&Move::HangUp));
    }

    #[test]
    fn a_refused_verification_is_off_script() {
        let steps = shipped();
        let turns = script(&steps, 0, true);
        // A wrong PAR ID: the server asks for the SSN again.
        let refused = [
            gather("language"),
            gather("main-menu"),
            gather("ask-ssn"),
            gather("ask-par"),
            gather("ask-ssn"),
        ];
        let err = walk(&turns, &refused).expect_err("refused");
        assert_eq!(
            err,
            Failure::OffScript(
                "expected payments-none or payments-paying or payments-receiving, heard ask-ssn"
                    .into()
            )
        );
        // Locked: a representative.
        let mut locked: Vec<Response> = refused[..4].to_vec();
        locked.push(verbs(vec![
            Element::new("Say").text("Locked."),
            Element::new("Enqueue").text("customer-service"),
        ]));
        assert!(matches!(walk(&turns, &locked), Err(Failure::OffScript(_))));
    }
}
