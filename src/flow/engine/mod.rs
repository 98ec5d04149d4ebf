//! Walks the compiled flow for one webhook: from a step (or a caller's key) to the TwiML
//! answer, updating the call's session. Conditions, actions and values come from a
//! [`Runtime`], so the walk itself is plain logic, testable without HTTP.

use anyhow::{Context, anyhow, bail};

use super::{ActionId, Condition, Flow, Miss, Prompting, Say, StepIx, StepKind, Verb};
use crate::session::Session;
use crate::telephony::input::CallerInput;
use crate::telephony::twiml::{Element, Response};
use crate::words::prompts::{Catalog, Channel, Fill, Lang};

/// How many steps one answer may pass through; validation already forbids loops, this
/// only guards against a bug.
const MAX_HOPS: usize = 48;
/// Seconds a caller gets after pressing `#` for more time.
const MORE_TIME_SECS: u32 = 30;
/// Speech recognised with less confidence than this is a miss, never a guess.
pub const MIN_SPEECH_CONFIDENCE: f32 = 0.5;
/// Seconds of silence that end a spoken menu choice.
const MENU_SPEECH_TIMEOUT_SECS: u32 = 2;
/// TTY users type; Section 508 and common practice want long timeouts.
const TTY_MIN_TIMEOUT_SECS: u32 = 30;

/// The server side the engine needs.
#[allow(async_fn_in_trait)]
pub trait Runtime {
    fn flow(&self) -> &Flow;
    fn catalog(&self) -> &Catalog;
    /// Absolute URL under the public base for a path like `/voice/input/main-menu`.
    fn url(&self, path: &str) -> String;
    /// The `voice` attribute for `<Say>` in a language, if one is configured.
    fn voice(&self, lang: Lang) -> Option<&str>;
    /// A value for a prompt placeholder.
    fn value(&self, session: &Session, name: &str, lang: Lang, channel: Channel) -> Option<String>;
    async fn condition(&self, condition: Condition, session: &Session) -> anyhow::Result<bool>;
    /// Runs an action; answers its outcome (`None` for actions without outcomes).
    async fn action(
        &self,
        action: ActionId,
        arg: Option<&str>,
        input: Option<&CallerInput>,
        session: &mut Session,
    ) -> anyhow::Result<Option<String>>;
    /// The TwiML that hands the caller to a representative (queue or dial, with their
    /// context); `after` is the URL requested when that ends.
    async fn representative(&self, session: &mut Session, after: String)
    -> anyhow::Result<Element>;
    /// The emergency announcement in force, in the caller's language.
    async fn announcement(&self, lang: Lang) -> anyhow::Result<Option<String>>;
    /// The `<Pay>` verb for the payment the caller chose (without its prompts); `after`
    /// is the URL its result is posted to.
    async fn pay(&self, session: &mut Session, after: String) -> anyhow::Result<Element>;
}

struct Values<'a, R: Runtime> {
    rt: &'a R,
    session: &'a Session,
    extra: Option<(&'a str, &'a str)>,
}

impl<R: Runtime> Fill for Values<'_, R> {
    fn fill(&self, name: &str, lang: Lang, channel: Channel) -> Option<String> {
        if let Some((n, v)) = self.extra
            && n == name
        {
            return Some(v.to_string());
        }
        self.rt.value(self.session, name, lang, channel)
    }
}

/// Starts a call at an entry point (`voice`, `tty`, ...).
pub async fn start<R: Runtime>(
    rt: &R,
    session: &mut Session,
    entry: &str,
) -> anyhow::Result<Response> {
    let ix = rt.flow().entry(entry);
    answer_from(
        rt,
        session,
        ix.ok_or_else(|| anyhow!("no entry point '{entry}'"))?,
    )
    .await
}

/// Runs a step by name (a `<Redirect>` or a transfer coming back).
pub async fn step<R: Runtime>(
    rt: &R,
    session: &mut Session,
    name: &str,
) -> anyhow::Result<Response> {
    let ix = rt.flow().find(name);
    answer_from(
        rt,
        session,
        ix.ok_or_else(|| anyhow!("the provider asked for an unknown step"))?,
    )
    .await
}

async fn answer_from<R: Runtime>(
    rt: &R,
    session: &mut Session,
    ix: StepIx,
) -> anyhow::Result<Response> {
    let mut out = Response::new();
    run(rt, session, ix, &mut out).await?;
    Ok(out)
}

/// Handles what the caller keyed (or said, or nothing) at a menu or input step.
pub async fn input<R: Runtime>(
    rt: &R,
    session: &mut Session,
    name: &str,
    input: CallerInput,
) -> anyhow::Result<Response> {
    let flow = rt.flow();
    let ix = flow
        .find(name)
        .ok_or_else(|| anyhow!("input for an unknown step"))?;
    if session.awaiting.as_deref() != Some(name) {
        // Input for a step the session did not expect (a retried request, or a second
        // server that has not seen the last answer): trust the step the caller heard.
        session.awaiting = Some(name.to_string());
        session.misses = 0;
    }
    let mut out = Response::new();
    match &flow.step(ix).kind {
        StepKind::Menu(menu) => {
            let p = &menu.prompting;
            if input.is_empty() {
                return miss(rt, session, ix, p, MissKind::NoInput, out).await;
            }
            let spoken = (input.digits.is_empty())
                .then(|| spoken_key(menu, session.lang, &input))
                .flatten();
            let digits = match spoken {
                Some(key) => key.to_string(),
                None => input.digits.clone(),
            };
            match digits.as_str() {
                "*" => present(rt, session, ix, p, &mut out, Present::Repeat).await?,
                "#" => present(rt, session, ix, p, &mut out, Present::MoreTime).await?,
                d => {
                    let key = d.chars().next().filter(|_| d.chars().count() == 1);
                    match key.and_then(|k| menu.keys.iter().find(|(c, _)| *c == k)) {
                        Some((_, target)) => {
                            session.misses = 0;
                            run(rt, session, *target, &mut out).await?;
                        }
                        None => return miss(rt, session, ix, p, MissKind::NoMatch, out).await,
                    }
                }
            }
        }
        StepKind::Input(inp) => {
            let p = &inp.prompting;
            if input.is_empty() {
                return miss(rt, session, ix, p, MissKind::NoInput, out).await;
            }
            match input.digits.as_str() {
                "*" => present(rt, session, ix, p, &mut out, Present::Repeat).await?,
                "#" if inp.finish_on_key != "#" => {
                    present(rt, session, ix, p, &mut out, Present::MoreTime).await?
                }
                _ => {
                    let outcome = rt
                        .action(inp.action, None, Some(&input), session)
                        .await
                        .context("action failed")?;
                    let target = outcome
                        .as_deref()
                        .and_then(|o| inp.outcomes.iter().find(|(m, _)| m == o));
                    match (outcome.as_deref(), target) {
                        (_, Some((_, t))) => {
                            session.misses = 0;
                            run(rt, session, *t, &mut out).await?;
                        }
                        (Some(crate::telephony::input::NO_MATCH) | None, None) => {
                            return miss(rt, session, ix, p, MissKind::NoMatch, out).await;
                        }
                        (Some(o), None) => bail!("outcome '{o}' has no step"),
                    }
                }
            }
        }
        StepKind::Sequence(_) => {
            // Not an input step: just run it.
            run(rt, session, ix, &mut out).await?;
        }
    }
    Ok(out)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum MissKind {
    NoInput,
    NoMatch,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Present {
    /// Entering the step: intro, then the prompt.
    Enter,
    /// `*`: the same as entering.
    Repeat,
    /// `#`: a short reassurance and a long wait.
    MoreTime,
    /// After a miss: the miss message, then the prompt (or the help from the second miss).
    Again,
}

async fn miss<R: Runtime>(
    rt: &R,
    session: &mut Session,
    ix: StepIx,
    p: &Prompting,
    kind: MissKind,
    mut out: Response,
) -> anyhow::Result<Response> {
    session.misses += 1;
    let list = match kind {
        MissKind::NoInput => &p.noinput,
        MissKind::NoMatch => &p.nomatch,
    };
    let n = session.misses as usize;
    let handler = list.get(n - 1).or(list.last()).cloned();
    match handler {
        Some(Miss::Goto(target)) => {
            session.misses = 0;
            run(rt, session, target, &mut out).await?;
        }
        Some(Miss::Reprompt(prompt)) => {
            if let Some(id) = prompt {
                let lead = say(
                    rt,
                    session,
                    &Say {
                        prompt: id,
                        lang: None,
                        loop_: None,
                    },
                );
                present_with(rt, session, ix, p, &mut out, Present::Again, lead).await?;
            } else {
                present(rt, session, ix, p, &mut out, Present::Again).await?;
            }
        }
        None => bail!("no miss handler"),
    }
    Ok(out)
}

/// Walks from `start` until a step waits for the caller or hands the call on.
async fn run<R: Runtime>(
    rt: &R,
    session: &mut Session,
    start: StepIx,
    out: &mut Response,
) -> anyhow::Result<()> {
    let flow = rt.flow();
    let mut current = start;
    let mut hops = 0;
    'steps: loop {
        hops += 1;
        if hops > MAX_HOPS {
            bail!("too many steps in one answer");
        }
        let step = flow.step(current);
        session.step = Some(step.name.clone());
        crate::ops::metrics::step(&step.name);
        if session.path.len() + step.name.len() < crate::session::PATH_CHARS {
            if !session.path.is_empty() {
                session.path.push(',');
            }
            session.path.push_str(&step.name);
        }
        match &step.kind {
            StepKind::Menu(m) => {
                session.misses = 0;
                return present(rt, session, current, &m.prompting, out, Present::Enter).await;
            }
            StepKind::Input(i) => {
                session.misses = 0;
                return present(rt, session, current, &i.prompting, out, Present::Enter).await;
            }
            StepKind::Sequence(verbs) => {
                for verb in verbs {
                    match verb {
                        Verb::Say(s) => out.verbs.extend(say(rt, session, s)),
                        Verb::Raw(el) => {
                            if session.channel == Channel::Voice {
                                out.push(el.clone());
                            }
                        }
                        Verb::Announcement => {
                            out.verbs.extend(announcement(rt, session).await?);
                        }
                        Verb::Goto(t) => {
                            current = *t;
                            continue 'steps;
                        }
                        Verb::Redirect(t) => {
                            let url = turn_url(rt, session, "step", &flow.step(*t).name);
                            out.push(Element::new("Redirect").attr("method", "POST").text(url));
                            return Ok(());
                        }
                        Verb::If {
                            condition,
                            negate,
                            target,
                        } => {
                            if rt.condition(*condition, session).await? != *negate {
                                current = *target;
                                continue 'steps;
                            }
                        }
                        Verb::Action {
                            action,
                            arg,
                            outcomes,
                        } => {
                            let outcome = rt.action(*action, arg.as_deref(), None, session).await?;
                            if let Some(o) = outcome {
                                match outcomes.iter().find(|(m, _)| *m == o) {
                                    Some((_, t)) => {
                                        current = *t;
                                        continue 'steps;
                                    }
                                    None => bail!("outcome '{o}' has no step"),
                                }
                            }
                        }
                        Verb::Transfer {
                            element,
                            after,
                            wait,
                        } => {
                            let mut el = element.clone();
                            if let Some(t) = after {
                                let url = rt.url(&format!("/voice/step/{}", flow.step(*t).name));
                                el = el.attr("action", url).attr("method", "POST");
                            }
                            if let Some(t) = wait {
                                let url = rt.url(&format!("/voice/step/{}", flow.step(*t).name));
                                el = el.attr("waitUrl", url).attr("waitUrlMethod", "POST");
                            }
                            let recording = el.name == "Record";
                            out.push(el);
                            if let Some(t) = after {
                                // Where this call's own recording will be reported.
                                if recording {
                                    session.recording_step = Some(flow.step(*t).name.clone());
                                }
                                // A silent caller: the provider skips a <Record>'s action
                                // and goes on, so the next verb leads to the same step.
                                if recording {
                                    let url = turn_url(rt, session, "step", &flow.step(*t).name);
                                    out.push(
                                        Element::new("Redirect").attr("method", "POST").text(url),
                                    );
                                }
                                return Ok(());
                            }
                        }
                        Verb::Representative { after } => {
                            let url = rt.url(&format!("/voice/step/{}", flow.step(*after).name));
                            let el = rt.representative(session, url).await?;
                            out.push(el);
                            return Ok(());
                        }
                        Verb::Pay { after } => {
                            let url = rt.url(&format!("/voice/paid/{}", flow.step(*after).name));
                            let mut el = rt.pay(session, url).await?;
                            for (for_, error, attempt, id) in super::PAY_PROMPTS {
                                let mut prompt = Element::new("Prompt").attr("for", *for_);
                                if let Some(e) = error {
                                    prompt = prompt.attr("errorType", *e);
                                }
                                if let Some(a) = attempt {
                                    prompt = prompt.attr("attempt", *a);
                                }
                                prompt.children = say_id(rt, session, id);
                                el.children.push(prompt);
                            }
                            out.push(el);
                            return Ok(());
                        }
                        Verb::Hangup => {
                            if session.channel == Channel::Tty {
                                end_turn_with(out, session, "SK");
                            }
                            out.push(Element::new("Hangup"));
                            return Ok(());
                        }
                    }
                }
                bail!("step '{}' ended without handing control on", step.name);
            }
        }
    }
}

async fn present<R: Runtime>(
    rt: &R,
    session: &mut Session,
    ix: StepIx,
    p: &Prompting,
    out: &mut Response,
    how: Present,
) -> anyhow::Result<()> {
    present_with(rt, session, ix, p, out, how, Vec::new()).await
}

/// Writes the `<Gather>` for a menu or input step.
async fn present_with<R: Runtime>(
    rt: &R,
    session: &mut Session,
    ix: StepIx,
    p: &Prompting,
    out: &mut Response,
    how: Present,
    lead: Vec<Element>,
) -> anyhow::Result<()> {
    let flow = rt.flow();
    let step = flow.step(ix);
    session.awaiting = Some(step.name.clone());
    session.step = Some(step.name.clone());
    let tty = session.channel == Channel::Tty;
    let (num_digits, finish, speech) = match &step.kind {
        StepKind::Input(i) => (i.num_digits, i.finish_on_key.clone(), i.speech),
        StepKind::Menu(m) => (Some(1), String::new(), !m.words.is_empty()),
        _ => (Some(1), String::new(), false),
    };
    let menu_hints = match &step.kind {
        StepKind::Menu(m) if !tty => Some(m.hints(session.lang)),
        _ => None,
    };
    let mut timeout = p.timeout;
    let mut children: Vec<Element> = lead;
    match how {
        Present::Enter | Present::Repeat => {
            for verb in &p.intro {
                match verb {
                    Verb::Say(s) => children.extend(say(rt, session, s)),
                    Verb::Raw(el) if !tty => children.push(el.clone()),
                    Verb::Announcement => children.extend(announcement(rt, session).await?),
                    _ => {}
                }
            }
            children.extend(say_id(rt, session, &p.prompt));
        }
        Present::MoreTime => {
            children.extend(say_id(rt, session, "system.more-time"));
            timeout = MORE_TIME_SECS;
        }
        Present::Again => {
            let id = match (&p.help, session.misses >= 2) {
                (Some(help), true) => help,
                _ => &p.prompt,
            };
            children.extend(say_id(rt, session, id));
        }
    }
    if tty {
        timeout = timeout.max(TTY_MIN_TIMEOUT_SECS);
        mark_last_say(&mut children, "GA");
    }
    let action = turn_url(rt, session, "input", &step.name);
    let lang = session.lang.unwrap_or(Lang::En);
    let mut gather = Element::new("Gather")
        .attr(
            "input",
            if speech && !tty {
                "dtmf speech"
            } else {
                "dtmf"
            },
        )
        .attr("action", action.clone())
        .attr("method", "POST")
        .attr("timeout", timeout.to_string())
        .attr("finishOnKey", finish)
        .attr("actionOnEmptyResult", "true");
    if let Some(n) = num_digits {
        gather = gather.attr("numDigits", n.to_string());
    }
    if speech && !tty {
        gather = gather.attr("language", lang.twiml_language());
        gather = match &menu_hints {
            // A menu: the choices as hints, and a short fixed pause ends the choice.
            Some(h) => gather
                .attr("hints", h.to_string())
                .attr("speechTimeout", MENU_SPEECH_TIMEOUT_SECS.to_string()),
            None => gather.attr("speechTimeout", "auto"),
        };
    }
    gather.children = children;
    out.push(gather);
    // For providers that ignore actionOnEmptyResult: silence falls through to here.
    out.push(Element::new("Redirect").attr("method", "POST").text(action));
    Ok(())
}

/// The phrases a caller may say at `menu` in `lang` (both languages before one is
/// chosen), with their keys.
fn phrases(menu: &super::Menu, lang: Option<Lang>) -> impl Iterator<Item = (char, &str)> {
    menu.words.iter().flat_map(move |(key, per_lang)| {
        per_lang
            .iter()
            .filter(move |(l, _)| lang.is_none_or(|want| *l == want))
            .flat_map(move |(_, list)| list.iter().map(move |w| (*key, w.as_str())))
    })
}

/// The key a spoken choice stands for: the key whose longest phrase the caller said,
/// as whole words. Nothing when the provider was not confident enough, when nothing
/// matches, or when two keys match equally (a miss, never a guess).
fn spoken_key(menu: &super::Menu, lang: Option<Lang>, input: &CallerInput) -> Option<char> {
    let said = input.speech.as_deref()?;
    if input.confidence.is_some_and(|c| c < MIN_SPEECH_CONFIDENCE) {
        return None;
    }
    let said = normalise(said);
    let mut best: Option<(usize, char)> = None;
    let mut tied = false;
    for (key, phrase) in phrases(menu, lang) {
        let phrase = normalise(phrase);
        if phrase.is_empty() || !format!(" {said} ").contains(&format!(" {phrase} ")) {
            continue;
        }
        let len = phrase.chars().count();
        match best {
            Some((l, k)) if l == len && k != key => tied = true,
            Some((l, _)) if l >= len => {}
            _ => {
                best = Some((len, key));
                tied = false;
            }
        }
    }
    best.filter(|_| !tied).map(|(_, k)| k)
}

/// Lower case, letters and digits only, accents folded, single spaces: "Payments.",
/// "payments", "Información" and "informacion" match.
fn normalise(text: &str) -> String {
    text.chars()
        .map(|c| {
            let c = c.to_lowercase().next().unwrap_or(c);
            match c {
                'á' | 'à' => 'a',
                'é' | 'è' => 'e',
                'í' => 'i',
                'ó' => 'o',
                'ú' | 'ü' => 'u',
                'ñ' => 'n',
                c if c.is_alphanumeric() || c == '\'' => c,
                _ => ' ',
            }
        })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Appends a TTY turn marker ("GA", go ahead; "SK", stop keying) to the last text.
fn mark_last_say(children: &mut Vec<Element>, marker: &str) {
    match children.iter_mut().rev().find(|e| e.name == "Say") {
        Some(el) => {
            let text = el.text.take().unwrap_or_default();
            el.text = Some(format!("{} {marker}", text.trim_end()));
        }
        None => children.push(Element::new("Say").text(marker)),
    }
}

fn end_turn_with(out: &mut Response, session: &Session, marker: &str) {
    let _ = session;
    mark_last_say(&mut out.verbs, marker);
}

/// One of our step or input URLs, carrying the session's turn: the provider requests it
/// only in answer to this turn, so the server holding this turn's session knows it has
/// the newest copy (see `crate::store::Sessions::load`).
fn turn_url<R: Runtime>(rt: &R, session: &Session, kind: &str, step: &str) -> String {
    rt.url(&format!("/voice/{kind}/{step}?t={}", session.turn))
}

fn say_id<R: Runtime>(rt: &R, session: &Session, id: &str) -> Vec<Element> {
    say(
        rt,
        session,
        &Say {
            prompt: id.to_string(),
            lang: None,
            loop_: None,
        },
    )
}

/// A prompt in the caller's language; before they have chosen one, in each language in
/// turn, as a bilingual line greets its callers.
fn say<R: Runtime>(rt: &R, session: &Session, s: &Say) -> Vec<Element> {
    let langs = match s.lang.or(session.lang) {
        Some(l) => vec![l],
        None => Lang::ALL.to_vec(),
    };
    langs
        .into_iter()
        .filter_map(|lang| say_in(rt, session, s, lang, None))
        .collect()
}

fn say_in<R: Runtime>(
    rt: &R,
    session: &Session,
    s: &Say,
    lang: Lang,
    extra: Option<(&str, &str)>,
) -> Option<Element> {
    let values = Values { rt, session, extra };
    let mut el = say_element(rt, &s.prompt, lang, session.channel, &values)?;
    if let Some(l) = &s.loop_ {
        el = el.attr("loop", l.clone());
    }
    Some(el)
}

/// `<Say>` for prompt `id`: the configured voice (not on a TTY) and language; `None`
/// when the prompt renders empty.
pub fn say_element<R: Runtime>(
    rt: &R,
    id: &str,
    lang: Lang,
    channel: Channel,
    values: &dyn Fill,
) -> Option<Element> {
    let text = rt.catalog().render(id, lang, channel, values);
    if text.trim().is_empty() {
        return None;
    }
    let mut el = Element::new("Say");
    if channel == Channel::Voice
        && let Some(voice) = rt.voice(lang)
    {
        el = el.attr("voice", voice);
    }
    Some(el.attr("language", lang.twiml_language()).text(text))
}

/// The announcement in force, in the caller's language, or in both before they chose.
async fn announcement<R: Runtime>(rt: &R, session: &Session) -> anyhow::Result<Vec<Element>> {
    let langs = session.lang.map_or(Lang::ALL.to_vec(), |l| vec![l]);
    let mut out = Vec::new();
    for lang in langs {
        let Some(text) = rt.announcement(lang).await? else {
            continue;
        };
        let s = Say {
            prompt: "announcement.notice".into(),
            lang: Some(lang),
            loop_: None,
        };
        out.extend(say_in(rt, session, &s, lang, Some(("announcement", &text))));
    }
    Ok(out)
}

/// The engine alone, through a fake runtime: no server, no database, no HTTP.
#[cfg(test)]
mod tests;
