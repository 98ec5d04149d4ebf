//! The engine alone, through a fake runtime: no server, no database, no HTTP.

use std::cell::RefCell;

use super::*;
use crate::flow::{ActionId, ActionSpec};
use crate::session::CallSid;

const PICK: ActionSpec = ActionSpec {
    name: "pick",
    values: &[],
    outcomes: &["again", "done"],
    takes_input: true,
    prompts: &[],
};
const NOTE: ActionSpec = ActionSpec {
    name: "note",
    values: &["x"],
    outcomes: &[],
    takes_input: false,
    prompts: &[],
};

const PROMPTS: &str = r#"
menu = "Press 1 to pick."
"menu.say.1" = "pick, pick one"
"keys.say.0" = "goodbye, pick one"
ask = "Pick one."
bye = "Goodbye."
miss = "Sorry."
[system]
more-time = "Take your time."
[announcement]
notice = "Notice. {announcement}"
[error]
apology = "Sorry."
goodbye = "Bye."
"#;

const FLOW: &str = r#"<Flow>
  <Entry name="voice" step="start"/>
  <Entry name="tty" step="start"/>
  <MenuDefaults>
<Key digit="0" step="bye"/>
<NoInput count="1" prompt="miss"/>
<NoInput count="2" step="bye"/>
<NoMatch count="1" prompt="miss"/>
<NoMatch count="2" step="bye"/>
  </MenuDefaults>
  <Step id="start">
<Action name="note" value="x"/>
<Goto step="menu"/>
  </Step>
  <Menu id="menu" prompt="menu">
<Key digit="1" step="ask"/>
  </Menu>
  <Input id="ask" prompt="ask" action="pick">
<On outcome="again" step="menu"/>
<On outcome="done" step="bye"/>
  </Input>
  <Step id="bye">
<Say prompt="bye"/>
<Hangup/>
  </Step>
</Flow>"#;

/// An action the engine ran: which, its value, the keys it was given.
type Ran = (u16, Option<String>, Option<String>);

/// Answers what the engine asks, and records the actions it runs.
struct Fake {
    flow: Flow,
    catalog: Catalog,
    ran: RefCell<Vec<Ran>>,
}

impl Fake {
    fn new() -> Fake {
        let prompts = crate::words::prompts::with_tty(PROMPTS);
        let catalog = Catalog::from_sources(&[
            (Lang::En, "en.toml", &prompts),
            (Lang::Es, "es.toml", &prompts),
        ])
        .expect("catalog");
        let flow = crate::flow::compile::compile(
            &[("f.xml", FLOW)],
            &catalog,
            &[&PICK, &NOTE],
            &["voice", "tty"],
        )
        .expect("flow");
        Fake {
            flow,
            catalog,
            ran: RefCell::new(Vec::new()),
        }
    }
}

impl Runtime for Fake {
    fn flow(&self) -> &Flow {
        &self.flow
    }
    fn catalog(&self) -> &Catalog {
        &self.catalog
    }
    fn url(&self, path: &str) -> String {
        format!("https://ivr.test{path}")
    }
    fn voice(&self, _: Lang) -> Option<&str> {
        None
    }
    fn value(&self, _: &Session, _: &str, _: Lang, _: Channel) -> Option<String> {
        None
    }
    async fn condition(&self, _: Condition, _: &Session) -> anyhow::Result<bool> {
        Ok(false)
    }
    async fn action(
        &self,
        action: ActionId,
        arg: Option<&str>,
        input: Option<&CallerInput>,
        _: &mut Session,
    ) -> anyhow::Result<Option<String>> {
        self.ran.borrow_mut().push((
            action.0,
            arg.map(String::from),
            input.map(|i| i.digits.clone()),
        ));
        Ok(match input.map(|i| i.digits.as_str()) {
            Some("7") => Some("done".into()),
            Some("8") => Some("nowhere".into()),
            Some(_) => Some("again".into()),
            None => None,
        })
    }
    async fn representative(&self, _: &mut Session, _: String) -> anyhow::Result<Element> {
        Ok(Element::new("Enqueue"))
    }
    async fn pay(&self, _: &mut Session, after: String) -> anyhow::Result<Element> {
        Ok(Element::new("Pay").attr("action", after))
    }
    async fn announcement(&self, _: Lang) -> anyhow::Result<Option<String>> {
        Ok(None)
    }
}

fn session() -> Session {
    let mut s = Session::new(CallSid::parse("CA1").expect("sid"), Channel::Voice, 0);
    s.lang = Some(Lang::En);
    s
}

fn keys(d: &str) -> CallerInput {
    CallerInput {
        digits: d.into(),
        speech: None,
        confidence: None,
    }
}

fn said(r: &Response) -> String {
    r.to_xml()
}

#[tokio::test]
async fn a_call_starts_runs_its_action_and_asks_the_menu() {
    let rt = Fake::new();
    let mut s = session();
    let r = start(&rt, &mut s, "voice").await.expect("answer");
    assert!(said(&r).contains("Press 1 to pick."), "{}", said(&r));
    assert_eq!(s.awaiting.as_deref(), Some("menu"));
    assert_eq!(*rt.ran.borrow(), [(1, Some("x".into()), None)]);
}

#[tokio::test]
async fn a_key_goes_to_its_step_and_an_input_feeds_its_action() {
    let rt = Fake::new();
    let mut s = session();
    start(&rt, &mut s, "voice").await.expect("start");
    let r = input(&rt, &mut s, "menu", keys("1")).await.expect("menu");
    assert!(said(&r).contains("Pick one."));
    assert_eq!(s.awaiting.as_deref(), Some("ask"));
    let r = input(&rt, &mut s, "ask", keys("7")).await.expect("ask");
    assert!(said(&r).contains("Goodbye.") && said(&r).contains("<Hangup"));
    assert_eq!(rt.ran.borrow().last(), Some(&(0, None, Some("7".into()))));
}

#[tokio::test]
async fn misses_escalate_from_a_reprompt_to_their_step() {
    let rt = Fake::new();
    let mut s = session();
    start(&rt, &mut s, "voice").await.expect("start");
    let first = input(&rt, &mut s, "menu", keys("5")).await.expect("miss 1");
    assert!(said(&first).contains("Sorry.") && said(&first).contains("Press 1"));
    assert_eq!(s.misses, 1);
    let second = input(&rt, &mut s, "menu", keys("5")).await.expect("miss 2");
    assert!(said(&second).contains("Goodbye."), "{}", said(&second));
}

#[tokio::test]
async fn star_repeats_and_an_unmapped_outcome_is_an_error() {
    let rt = Fake::new();
    let mut s = session();
    start(&rt, &mut s, "voice").await.expect("start");
    let again = input(&rt, &mut s, "menu", keys("*")).await.expect("repeat");
    assert!(said(&again).contains("Press 1 to pick."));
    assert_eq!(s.misses, 0);
    input(&rt, &mut s, "menu", keys("1")).await.expect("menu");
    let err = input(&rt, &mut s, "ask", keys("8")).await;
    assert!(
        err.is_err(),
        "an outcome with no step must not pass silently"
    );
}

fn spoken(text: &str, confidence: f32) -> CallerInput {
    CallerInput {
        digits: String::new(),
        speech: Some(text.into()),
        confidence: Some(confidence),
    }
}

#[tokio::test]
async fn a_spoken_choice_goes_where_its_key_goes_and_doubt_is_a_miss() {
    let rt = Fake::new();
    let mut s = session();
    let menu = start(&rt, &mut s, "voice").await.expect("start");
    let xml = said(&menu);
    assert!(
        xml.contains(r#"input="dtmf speech""#)
            && xml.contains(r#"hints="pick, pick one, goodbye""#),
        "{xml}"
    );
    // Said plainly, with confidence: key 1.
    let r = input(&rt, &mut s, "menu", spoken("Pick, please.", 0.8))
        .await
        .expect("spoken");
    assert!(said(&r).contains("Pick one."), "{}", said(&r));
    // Back at the menu: a doubtful result is a miss, never a guess.
    start(&rt, &mut s, "voice").await.expect("start");
    let r = input(&rt, &mut s, "menu", spoken("pick", 0.3))
        .await
        .expect("doubt");
    assert!(said(&r).contains("Sorry."), "{}", said(&r));
    // "pick one" is the longest phrase of two keys at once: a miss too.
    let r = input(&rt, &mut s, "menu", spoken("pick one", 0.9))
        .await
        .expect("tie");
    assert!(
        said(&r).contains("Goodbye.") || said(&r).contains("Sorry."),
        "{}",
        said(&r)
    );
    assert!(!said(&r).contains("Pick one."), "{}", said(&r));
}

#[tokio::test]
async fn an_unknown_step_or_entry_is_an_error_not_a_panic() {
    let rt = Fake::new();
    let mut s = session();
    assert!(start(&rt, &mut s, "nowhere").await.is_err());
    assert!(step(&rt, &mut s, "nowhere").await.is_err());
    assert!(input(&rt, &mut s, "nowhere", keys("1")).await.is_err());
}
