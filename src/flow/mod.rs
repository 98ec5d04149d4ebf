//! Call flows: TwiML-style XML in `call-flows/`, parsed, validated and compiled once at
//! start into [`Flow`]; a webhook only walks the compiled form ([`engine`]).
//!
//! The language is documented for analysts in `call-flows/README.md`.

mod compile;
pub mod diagram;
pub mod engine;
mod words;
pub mod xml;

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, anyhow};

use crate::telephony::twiml::Element;
use crate::words::prompts::{Catalog, Lang};

pub use compile::compile;

/// Index of a step in [`Flow::steps`].
pub type StepIx = usize;

/// A validated, compiled set of call flows.
#[derive(Debug, Clone)]
pub struct Flow {
    pub steps: Vec<Step>,
    by_name: HashMap<String, StepIx>,
    entries: HashMap<String, StepIx>,
}

impl Flow {
    /// Reads every `*.xml` in `dir` and compiles them against the prompt catalog, the
    /// actions' specs, and the entries the server jumps to (`required_entries`). The
    /// error lists every problem, one per line, each starting with `file:line:column`.
    pub fn load(
        dir: &Path,
        catalog: &Catalog,
        actions: &[&ActionSpec],
        required_entries: &[&str],
    ) -> anyhow::Result<Flow> {
        let mut files = Vec::new();
        let listing = std::fs::read_dir(dir)
            .with_context(|| format!("{}: cannot read the call-flow folder", dir.display()))?;
        for entry in listing {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "xml") {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("{}: cannot read", path.display()))?;
                files.push((path.display().to_string(), text));
            }
        }
        if files.is_empty() {
            return Err(anyhow!("{}: no call-flow files (*.xml)", dir.display()));
        }
        files.sort();
        let borrowed: Vec<(&str, &str)> = files
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect();
        Self::from_files(&borrowed, catalog, actions, required_entries)
    }

    /// As [`Flow::load`], from (file name, text) pairs already read: the flows built
    /// into the binary.
    pub fn from_files(
        files: &[(&str, &str)],
        catalog: &Catalog,
        actions: &[&ActionSpec],
        required_entries: &[&str],
    ) -> anyhow::Result<Flow> {
        compile(files, catalog, actions, required_entries)
            .map_err(|errors| anyhow!(errors.join("\n")))
    }

    pub fn step(&self, ix: StepIx) -> &Step {
        &self.steps[ix]
    }

    pub fn find(&self, name: &str) -> Option<StepIx> {
        self.by_name.get(name).copied()
    }

    /// Every entry point and its first step, by name.
    pub fn entry_points(&self) -> Vec<(String, StepIx)> {
        let mut all: Vec<(String, StepIx)> = self
            .entries
            .iter()
            .map(|(n, ix)| (n.clone(), *ix))
            .collect();
        all.sort();
        all
    }

    /// The flow files the steps are written in, without `.xml`, sorted.
    pub fn files(&self) -> Vec<&str> {
        let mut all: Vec<&str> = self.steps.iter().map(|s| s.file.as_str()).collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    /// The first step for an entry point (`voice`, `tty`, ...).
    pub fn entry(&self, name: &str) -> Option<StepIx> {
        self.entries.get(name).copied()
    }
}

#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    pub kind: StepKind,
    /// The flow file it is written in, without `.xml` (`main`), so a diagram can draw
    /// one file's part of the flows.
    pub file: String,
}

#[derive(Debug, Clone)]
pub enum StepKind {
    /// `<Step>`: verbs run in order until one hands control on.
    Sequence(Vec<Verb>),
    /// `<Menu>`: a one-key choice.
    Menu(Menu),
    /// `<Input>`: collects digits (or speech) and hands them to a server action.
    Input(Input),
}

#[derive(Debug, Clone)]
pub enum Verb {
    Say(Say),
    /// TwiML `<Play>`, `<Pause>`: passed through (attributes checked at load).
    Raw(Element),
    /// The emergency announcement, silent when none is in force.
    Announcement,
    /// Continue with another step in the same answer.
    Goto(StepIx),
    /// A new webhook round trip to a step (TwiML `<Redirect>`).
    Redirect(StepIx),
    If {
        condition: Condition,
        negate: bool,
        target: StepIx,
    },
    Action {
        action: ActionId,
        arg: Option<String>,
        outcomes: Vec<(String, StepIx)>,
    },
    /// `<Representative>`: the Customer Service Unit (queue or number, as configured),
    /// with the caller's context; `after` runs when the caller leaves the queue or the
    /// call with the representative ends.
    Representative {
        after: StepIx,
    },
    /// `<Pay>`: the card payment the caller chose, taken by the provider (the card never
    /// reaches us); `after` runs with the result.
    Pay {
        after: StepIx,
    },
    /// `<Dial>`, `<Enqueue>`, `<Record>`: the element, and the step that runs when it ends.
    Transfer {
        element: Element,
        after: Option<StepIx>,
        wait: Option<StepIx>,
    },
    Hangup,
}

#[derive(Debug, Clone)]
pub struct Say {
    pub prompt: String,
    pub lang: Option<Lang>,
    pub loop_: Option<String>,
}

/// What a miss (silence or a wrong key) does: say something and ask again, or move on.
#[derive(Debug, Clone)]
pub enum Miss {
    Reprompt(Option<String>),
    Goto(StepIx),
}

#[derive(Debug, Clone)]
pub struct Prompting {
    /// Played on entry and on `*`, before the choices (inside the gather, so keys barge in).
    pub intro: Vec<Verb>,
    pub prompt: String,
    /// The longer version said from the second miss on.
    pub help: Option<String>,
    pub timeout: u32,
    pub noinput: Vec<Miss>,
    pub nomatch: Vec<Miss>,
}

#[derive(Debug, Clone)]
pub struct Menu {
    pub prompting: Prompting,
    pub keys: Vec<(char, StepIx)>,
    /// What a caller may say for each key, from the catalog's `{prompt}.say.{key}` (or
    /// `keys.say.{key}` for a key every menu has).
    pub words: Vec<KeyWords>,
    /// The provider's `hints` for the words, made once: English, Spanish, both (before
    /// a language is chosen).
    pub hints: [String; 3],
}

impl Menu {
    /// The hints to send for a caller in `lang` (both languages when not chosen yet).
    pub fn hints(&self, lang: Option<Lang>) -> &str {
        match lang {
            Some(Lang::En) => &self.hints[0],
            Some(Lang::Es) => &self.hints[1],
            None => &self.hints[2],
        }
    }
}

/// The phrases for one menu key, per language, lower case.
pub type KeyWords = (char, Vec<(Lang, Vec<String>)>);

#[derive(Debug, Clone)]
pub struct Input {
    pub prompting: Prompting,
    pub action: ActionId,
    pub outcomes: Vec<(String, StepIx)>,
    pub num_digits: Option<u32>,
    pub finish_on_key: String,
    pub speech: bool,
}

/// Conditions a flow can test; the Rust side decides them per call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// The Customer Service Unit is answering now.
    OfficeOpen,
    /// The caller has proved who they are in this call.
    Verified,
    /// The call came in on a TTY number.
    Tty,
    /// The caller has chosen a language.
    LanguageChosen,
    /// An emergency announcement is in force.
    Announcement,
    /// Today is a holiday in the holidays file.
    Holiday,
    /// The caller asked, while waiting in the queue, to be called back instead.
    CallbackRequested,
    /// A staff member sent the caller into the IVR and waits to get them back.
    StaffTransfer,
    /// The last transfer reached a person (the queue bridged, or the dialled party
    /// answered).
    RepresentativeReached,
    /// A reference number can be texted to the caller: `CASELINE_SMS_FROM` is set and
    /// the calling number is known.
    CanText,
    /// This call, placed by the dialer, is its request's last attempt: "later" is not
    /// offered, since nobody would call again.
    CallbackLastAttempt,
    /// The caller's case belongs to a local agency with its own line (after
    /// `route-agency`): its hours and name are what the caller hears.
    Agency,
}

impl Condition {
    pub const NAMES: &[(&str, Condition)] = &[
        ("office-open", Condition::OfficeOpen),
        ("verified", Condition::Verified),
        ("tty", Condition::Tty),
        ("language-chosen", Condition::LanguageChosen),
        ("announcement", Condition::Announcement),
        ("holiday", Condition::Holiday),
        ("callback-requested", Condition::CallbackRequested),
        ("representative-reached", Condition::RepresentativeReached),
        ("staff-transfer", Condition::StaffTransfer),
        ("can-text", Condition::CanText),
        ("callback-last-attempt", Condition::CallbackLastAttempt),
        ("agency", Condition::Agency),
    ];

    pub fn parse(name: &str) -> Option<Condition> {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, c)| *c)
    }
}

/// An action as a compiled flow names it: its place in the list of specs the flow was
/// compiled against ([`crate::actions::SPECS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionId(pub u16);

/// What an action needs from the flow and what it may answer; each action declares
/// its own (see [`crate::actions`]).
#[derive(Debug)]
pub struct ActionSpec {
    pub name: &'static str,
    /// Allowed `value` attributes; empty means the action takes none.
    pub values: &'static [&'static str],
    /// Outcomes the flow must map to steps; empty means the action just continues.
    pub outcomes: &'static [&'static str],
    /// Whether it is fed by an `<Input>` (digits or speech).
    pub takes_input: bool,
    /// Prompts the action puts in the caller's values (as [`crate::words::speech::Value::Prompt`]),
    /// checked at start wherever a flow uses the action.
    pub prompts: &'static [&'static str],
}

/// Prompts the engine itself says; checked at start like any other prompt.
pub const ENGINE_PROMPTS: &[&str] = &["system.more-time", "announcement.notice"];

/// Prompts the server says outside the flows' steps or inside other prompts' values
/// (the queue's rounds and choice, [`crate::call::queue`]; the readbacks,
/// [`crate::domain::readback`], [`crate::domain::requests`]): a TTY caller reads them too, so they need
/// TTY text. A name ending in `.` stands for every prompt under it (one per case stage,
/// say).
pub const VALUE_PROMPTS: &[&str] = &[
    "queue.",
    "cases.choice",
    "agency.county-choice",
    "requests.check.item",
    "history.received",
    "history.sent",
    "stage.",
    "source.",
    "method.",
];

/// The `<Prompt>`s the engine puts inside `<Pay>`: (`for`, `errorType`, `attempt`,
/// prompt id). Each is said in the caller's language; the ids are in the prompt
/// catalogs, checked at start when a flow uses `<Pay>`.
pub const PAY_PROMPTS: &[(&str, Option<&str>, Option<&str>, &str)] = &[
    ("payment-card-number", None, Some("1"), "pay.card.number"),
    (
        "payment-card-number",
        None,
        Some("2 3"),
        "pay.card.number.again",
    ),
    (
        "payment-card-number",
        Some("timeout"),
        None,
        "pay.card.number.timeout",
    ),
    (
        "payment-card-number",
        Some("invalid-card-number"),
        None,
        "pay.card.number.invalid",
    ),
    (
        "payment-card-number",
        Some("invalid-card-type"),
        None,
        "pay.card.type.invalid",
    ),
    ("expiration-date", None, None, "pay.card.expiry"),
    (
        "expiration-date",
        Some("timeout invalid-date"),
        None,
        "pay.card.expiry.invalid",
    ),
    ("security-code", None, None, "pay.card.security"),
    (
        "security-code",
        Some("timeout invalid-security-code"),
        None,
        "pay.card.security.invalid",
    ),
    ("postal-code", None, None, "pay.card.postal"),
    (
        "postal-code",
        Some("timeout invalid-postal-code"),
        None,
        "pay.card.postal.invalid",
    ),
    ("payment-processing", None, None, "pay.card.processing"),
];

/// The prompts inside `<Pay>` ([`PAY_PROMPTS`]).
pub fn pay_prompts() -> impl Iterator<Item = &'static str> {
    PAY_PROMPTS.iter().map(|(_, _, _, id)| *id)
}

/// Placeholders prompts may use, filled by the call layer (`call::runtime`) in the words of
/// [`crate::words::speech`].
pub const VARIABLES: &[&str] = &[
    "csu_phone",
    "tty_phone",
    "epc_phone",
    "announcement",
    // Office hours: the configured rules (CASELINE_HOURS), the next opening.
    "office_hours",
    "next_open",
    "holiday",
    // The caller's local agency, by name (its hours are `office_hours`), and the
    // counties a ZIP code lies in, to choose from.
    "agency",
    "county_choices",
    // Requests by mail.
    "reference",
    "requested_on",
    "request_what",
    "checks",
    // Paying by card.
    "pay_amount",
    "pay_fee",
    "pay_fee_percent",
    "pay_max",
    "confirmation",
    // Callbacks.
    "callback_number",
    "callback_ending",
    // The queue's wait announcements.
    "queue_position",
    "queue_wait",
    "minutes",
    // Case status.
    "case_ending",
    "county",
    "stage",
    "caseworker",
    "next_hearing",
    "next_appointment",
    // Payments, for a paying parent.
    "monthly_support",
    "last_payment_amount",
    "last_payment_date",
    "last_payment_source",
    "arrears",
    "next_due",
    // Payments, for a receiving parent.
    "last_sent_amount",
    "last_sent_date",
    "last_sent_method",
    // Lists and their items.
    "history",
    "case_choices",
    "amount",
    "date",
    "source",
    "method",
    "ending",
    "key",
];
