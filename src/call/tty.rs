//! A TTY call without a relay: the IVR runs as text over the call's audio, through the
//! provider's bidirectional media stream, with the server as the TTY modem
//! ([`crate::telephony::tty::modem`]).
//!
//! The call is answered with `<Connect><Stream>` and a random per-call token. Once the
//! stream starts, the same compiled flows run as for any call: each answer the call
//! layer gives (TwiML, on the TTY channel) is played as TTY text, and each `<Gather>` is
//! filled from what the caller types (or keys) and handed back as its `Digits`. What
//! the stream cannot do (a queue, a dial, a hang-up) is left as TwiML in the session and
//! the socket closed; the provider then asks the `<Connect action>`, which answers it.
//!
//! Time on the stream is audio time: the echo guard and the silence timeouts count the
//! caller's audio as it arrives, never the clock, so a test may send faster than real
//! time and a call behaves the same.

use std::time::Duration;

use base64::Engine;

use super::{CallError, Params, finish, session_for, snapshot};
use crate::flow::engine;
use crate::session::{CallSid, STREAM_FAILURES, Session};
use std::sync::Arc;

use crate::call::Line;
use crate::telephony::stream::{Outbound, Start};
use crate::telephony::tty::modem::{Demodulator, Modulator, SAMPLE_RATE};
use crate::telephony::twiml::{Element, Response};
use crate::words::prompts::Channel;

/// Received audio not listened to after our own transmission has played: its echo
/// (300 ms).
const ECHO_GUARD: usize = SAMPLE_RATE * 3 / 10;
/// Audio bytes per media message we send (half a second).
const CHUNK: usize = SAMPLE_RATE / 2;
/// The most keys an entry holds (a PAR ID is ten).
const MAX_ENTRY: usize = 32;
/// The call layer's own deadline for one answer, as for a webhook.
const ANSWER_DEADLINE: Duration = Duration::from_secs(8);
/// Redirects followed in one turn before giving up (a loop would be a bug).
const MAX_REDIRECTS: usize = 8;

/// The public base URL with the WebSocket scheme (`wss://` for `https://`): the stream's
/// URL is written from it, and the provider signs the stream's upgrade over that URL.
pub fn stream_base(public_url: &str) -> String {
    match public_url.split_once("://") {
        Some(("https", rest)) => format!("wss://{rest}"),
        Some((_, rest)) => format!("ws://{rest}"),
        None => format!("ws://{public_url}"),
    }
}

/// The answer to a TTY call in `baudot` mode: the call's audio goes to our stream.
pub fn connect(public_url: &str, token: &str) -> Response {
    let stream_url = format!("{}/tty/stream", stream_base(public_url));
    let mut r = Response::new();
    r.push(
        Element::new("Connect")
            .attr("action", format!("{public_url}/voice/tty/after"))
            .attr("method", "POST")
            .child(
                Element::new("Stream").attr("url", stream_url).child(
                    Element::new("Parameter")
                        .attr("name", "token")
                        .attr("value", token),
                ),
            ),
    );
    r
}

/// A new stream token: 128 random bits.
pub fn new_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// `POST /voice/tty/after`: the stream closed. The TwiML it left (a queue, a dial, a
/// hang-up) is answered; a stream that closed without leaving any (refused, never
/// started, or dropped) is connected again, and the call carries on where it was.
/// After [`STREAM_FAILURES`] such closes the call leaves the stream for a person, so a
/// caller whose stream cannot be opened does not wait in silence for ever.
pub async fn after(s: &crate::call::Line, p: &Params) -> Result<Response, CallError> {
    let mut session = session_for(s, p).await?;
    let response = match session.tty_handoff.take() {
        Some(xml) => crate::telephony::twiml::parse(&xml)
            .map_err(|e| CallError::during(&session)(anyhow::anyhow!("a stored hand-off: {e}")))?,
        None => {
            session.stream_failures = session.stream_failures.saturating_add(1);
            if session.stream_failures >= STREAM_FAILURES {
                tracing::warn!(
                    failures = session.stream_failures,
                    "a TTY call's stream failed again; the call leaves the stream"
                );
                session.stream_token = None;
                leave_stream(s, &mut session).await?
            } else {
                let token = new_token();
                session.stream_token = Some(token.clone());
                connect(&s.settings.public_url, &token)
            }
        }
    };
    finish(s, session, None, response).await
}

/// Where a call whose stream keeps failing goes: a person (the flow's `representative`
/// step), or, in flows without one, on from its step as `text` mode answers it.
async fn leave_stream(s: &crate::call::Line, session: &mut Session) -> Result<Response, CallError> {
    let resume = session.tty_resume.take().or(session.awaiting.clone());
    let step = if s.flow.find(PERSON).is_some() {
        Some(PERSON.to_string())
    } else {
        resume
    };
    match step {
        Some(step) => engine::step(s, session, &step).await,
        None => engine::start(s, session, "tty").await,
    }
    .map_err(CallError::during(session))
}

/// The flow step that puts a caller through to a person.
const PERSON: &str = "representative";

/// Whether the provider's request for a step of this call belongs on the TTY stream: a
/// TTY call in `baudot` mode, after a queue or a dial ended (the caller reads), unless
/// its stream has failed too often.
pub fn reads(s: &crate::call::Line, session: &Session) -> bool {
    s.settings.tty_mode == crate::config::TtyMode::Baudot
        && session.channel == Channel::Tty
        && session.stream_failures < STREAM_FAILURES
}

/// Sends such a call back onto a new stream, which goes on from `step`.
pub fn back_on_stream(s: &crate::call::Line, session: &mut Session, step: &str) -> Response {
    let token = new_token();
    session.stream_token = Some(token.clone());
    session.tty_resume = Some(step.to_string());
    connect(&s.settings.public_url, &token)
}

/// A `<Gather>` being filled.
#[derive(Debug, Clone)]
struct Entry {
    step: String,
    num_digits: Option<usize>,
    finish_on_key: String,
    /// Samples of quiet before the entry is taken as it is.
    timeout: usize,
    keys: String,
    typed: String,
    quiet: usize,
}

impl Entry {
    /// Takes one character typed or keyed; `true` once the entry is complete.
    fn take(&mut self, c: char) -> bool {
        match c {
            '0'..='9' | '*' | '#' => {
                self.quiet = 0;
                if self.finish_on_key.contains(c) {
                    return true;
                }
                if self.keys.len() < MAX_ENTRY {
                    self.keys.push(c);
                }
                self.num_digits.is_some_and(|n| self.keys.len() >= n)
            }
            // Enter ends a line.
            '\r' | '\n' => true,
            c => {
                // Only the last few letters matter (for "GA"); letters alone (or line
                // noise printed as letters) do not hold the turn open.
                self.typed.push(c);
                if self.typed.len() > 8 {
                    self.typed.remove(0);
                }
                // "GA", go ahead, as a word of its own: the caller's turn is over.
                let t = self.typed.trim_end();
                t.ends_with("GA") && (t.len() == 2 || t[..t.len() - 2].ends_with(' '))
            }
        }
    }
}

/// Where the turn is.
#[derive(Debug)]
enum Turn {
    /// Our text is playing; nothing is heard until its mark comes back, or, should the
    /// mark be lost, until `left` more samples of the caller's audio have come (its
    /// length and two seconds).
    Sending {
        mark: String,
        left: usize,
        then: Then,
    },
    /// Our text has played; its echo may still arrive for `left` samples.
    Guard {
        left: usize,
        then: Then,
    },
    /// The caller's turn.
    Listening(Entry),
    Done,
}

#[derive(Debug)]
enum Then {
    Listen(Entry),
    Close,
}

/// One TTY call on one stream.
pub struct TtyCall {
    s: Arc<Line>,
    call_sid: String,
    stream_sid: String,
    modulator: Modulator,
    demodulator: Demodulator,
    turn: Turn,
    marks: u64,
}

impl TtyCall {
    /// A stream's `start`: its token must be the one its call was given. Answers the
    /// call and its first turn, or `None` (no audio; the socket is closed; the caller
    /// logs the refusal).
    pub async fn start(s: Arc<Line>, start: Start) -> Option<(TtyCall, Vec<Outbound>)> {
        let sid = CallSid::parse(&start.call_sid)?;
        let token = start.custom_parameters.get("token")?;
        let (resume, awaiting) = {
            let session = s.store.sessions().load(&sid, s.now(), None).await.ok()??;
            let known = session.channel == Channel::Tty
                && session
                    .stream_token
                    .as_deref()
                    .is_some_and(|t| same(t.as_bytes(), token.as_bytes()));
            if !known {
                return None;
            }
            // One stream per token: the store takes it in one insert, so of two
            // `start`s with it at once (on this server or another) only one goes on.
            match s
                .store
                .sessions()
                .take_stream_token(&sid, token, s.now())
                .await
            {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "a TTY stream's token could not be taken");
                    return None;
                }
            }
            let mut session = session;
            session.stream_token = None;
            let resume = session.tty_resume.take();
            let awaiting = session.awaiting.clone();
            if let Err(e) = finish(&s, session, None, Response::new()).await {
                tracing::error!(error = %format!("{:#}", e.source), "a TTY stream could not start");
                return None;
            }
            (resume, awaiting)
        };
        tracing::info!(call_sid = sid.as_str(), "TTY stream started");
        let mut call = TtyCall {
            s,
            call_sid: sid.as_str().to_string(),
            stream_sid: start.stream_sid,
            modulator: Modulator::default(),
            demodulator: Demodulator::new(),
            turn: Turn::Done,
            marks: 0,
        };
        // A new call starts at the TTY entry; a stream connected again goes on from
        // the step the provider asked for, or re-presents the one it was waiting at.
        let first = match resume.or(awaiting) {
            None => call.run(Path::Entry).await,
            Some(step) => call.run(Path::Step(step)).await,
        };
        let out = call.answer(first).await;
        Some((call, out))
    }

    /// The stream ended (the caller hung up): the call ends as the status callback
    /// ends it (its path kept for the reports, counted out of the active calls), once,
    /// whichever of the two comes first.
    pub async fn stop(&mut self) {
        self.turn = Turn::Done;
        if let Some(sid) = CallSid::parse(&self.call_sid)
            && let Err(e) = super::end_call(&self.s, &sid, "completed", None).await
        {
            tracing::warn!(error = %format!("{e:#}"), "a TTY call's end was not saved");
        }
    }

    /// Logs the stream's end.
    pub fn ended(&self) {
        tracing::info!(call_sid = self.call_sid.as_str(), "TTY stream ended");
    }

    /// The provider played our audio up to `name`.
    pub async fn mark(&mut self, name: &str) -> Vec<Outbound> {
        if let Turn::Sending { mark, .. } = &self.turn
            && mark == name
        {
            return self.played();
        }
        Vec::new()
    }

    /// Our text has played: the echo guard, or the close.
    fn played(&mut self) -> Vec<Outbound> {
        let Turn::Sending { then, .. } = std::mem::replace(&mut self.turn, Turn::Done) else {
            return Vec::new();
        };
        // The last words have played: nothing to listen for, so no echo to wait out.
        if let Then::Close = then {
            return vec![Outbound::Close];
        }
        self.turn = Turn::Guard {
            left: ECHO_GUARD,
            then,
        };
        Vec::new()
    }

    /// A keypad tone: the same as the character typed.
    pub async fn dtmf(&mut self, digit: &str) -> Vec<Outbound> {
        let Some(c) = digit
            .chars()
            .next()
            .filter(|c| c.is_ascii_digit() || *c == '*' || *c == '#')
        else {
            return Vec::new();
        };
        match &mut self.turn {
            Turn::Listening(entry) => {
                if entry.take(c) {
                    return self.submit().await;
                }
                Vec::new()
            }
            // Half duplex: keys while we send, or before our echo has passed, are not
            // an answer to a prompt the caller has not read yet.
            Turn::Sending { .. } | Turn::Guard { .. } | Turn::Done => Vec::new(),
        }
    }

    /// The caller's audio (base64 μ-law, as the provider sends it).
    pub async fn media(&mut self, payload: &str) -> Vec<Outbound> {
        let Ok(audio) = base64::engine::general_purpose::STANDARD.decode(payload) else {
            return Vec::new();
        };
        match &mut self.turn {
            // Our own echo: not listened to.
            Turn::Done => Vec::new(),
            Turn::Sending { left, .. } => {
                *left = left.saturating_sub(audio.len());
                if *left == 0 {
                    tracing::warn!("a TTY turn's mark did not come back; listening anyway");
                    return self.played();
                }
                Vec::new()
            }
            Turn::Guard { left, .. } => {
                *left = left.saturating_sub(audio.len());
                if *left > 0 {
                    return Vec::new();
                }
                let Turn::Guard { then, .. } = std::mem::replace(&mut self.turn, Turn::Done) else {
                    return Vec::new();
                };
                match then {
                    Then::Close => vec![Outbound::Close],
                    Then::Listen(entry) => self.listen(entry).await,
                }
            }
            Turn::Listening(entry) => {
                self.demodulator.push(&audio);
                let text = self.demodulator.take_text();
                if text.is_empty() {
                    entry.quiet += audio.len();
                    if entry.quiet >= entry.timeout {
                        return self.submit().await;
                    }
                    return Vec::new();
                }
                for c in text.chars() {
                    if entry.take(c) {
                        return self.submit().await;
                    }
                }
                Vec::new()
            }
        }
    }

    /// The caller's turn begins.
    async fn listen(&mut self, entry: Entry) -> Vec<Outbound> {
        self.demodulator.reset();
        self.turn = Turn::Listening(entry);
        Vec::new()
    }

    /// Hands the entry to its step, as the provider would post a `<Gather>`.
    async fn submit(&mut self) -> Vec<Outbound> {
        let Turn::Listening(entry) = std::mem::replace(&mut self.turn, Turn::Done) else {
            return Vec::new();
        };
        let response = self.run(Path::Input(entry.step, entry.keys)).await;
        self.answer(response).await
    }

    /// Asks the call layer, as a webhook would, within the webhook's deadline; an error
    /// is answered with the call layer's own apology.
    async fn run(&self, path: Path) -> Response {
        let s = &*self.s;
        let mut params = vec![
            ("CallSid".to_string(), self.call_sid.clone()),
            ("Direction".to_string(), "inbound".to_string()),
        ];
        let attempt = match &path {
            Path::Recover(a) => *a,
            _ => 0,
        };
        let work = async {
            match path {
                Path::Entry => entry(s, &Params::from(params)).await,
                Path::Step(name) => super::step_on_stream(s, &Params::from(params), &name).await,
                Path::Input(name, keys) => {
                    if !keys.is_empty() {
                        params.push(("Digits".to_string(), keys));
                    }
                    super::input(s, &Params::from(params), &name).await
                }
                Path::Recover(attempt) => {
                    super::recover_on_stream(s, &Params::from(params), attempt).await
                }
            }
        };
        match tokio::time::timeout(ANSWER_DEADLINE, work).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                tracing::error!(error = %format!("{:#}", e.source), "a TTY turn failed");
                super::apology(s, &e)
            }
            Err(_) => {
                let e = CallError {
                    lang: None,
                    channel: Channel::Tty,
                    attempt,
                    source: anyhow::anyhow!("a TTY turn passed its deadline"),
                };
                tracing::error!("a TTY turn passed its deadline");
                super::apology(s, &e)
            }
        }
    }

    /// Plays an answer: its text now, then the caller's turn, or the hand-off.
    async fn answer(&mut self, mut response: Response) -> Vec<Outbound> {
        let mut text: Vec<String> = Vec::new();
        for _ in 0..MAX_REDIRECTS {
            let mut next: Option<String> = None;
            let mut then: Option<Then> = None;
            for (i, verb) in response.verbs.iter().enumerate() {
                match verb.name {
                    "Say" => text.extend(verb.text.clone()),
                    "Pause" | "Play" => {}
                    "Gather" => {
                        text.extend(
                            verb.children
                                .iter()
                                .filter(|c| c.name == "Say")
                                .filter_map(|c| c.text.clone()),
                        );
                        then = Some(match self.entry_for(verb) {
                            Some(e) => Then::Listen(e),
                            None => {
                                tracing::error!("a TTY gather for a URL not ours; ending the call");
                                self.leave(hang_up()).await;
                                text.push("SK".to_string());
                                Then::Close
                            }
                        });
                        break;
                    }
                    "Redirect" => {
                        next = verb.text.clone();
                        break;
                    }
                    other => {
                        // A queue, a dial, a hang-up: the provider runs it once the
                        // stream closes. The turn still ends as TTY turns do: GA
                        // before a person comes on, SK before the line goes.
                        let rest = Response {
                            verbs: response.verbs[i..].to_vec(),
                        };
                        self.leave(rest).await;
                        let last = text
                            .last()
                            .map(|t| t.trim_end().to_string())
                            .unwrap_or_default();
                        let marker = if other == "Hangup" { "SK" } else { "GA" };
                        if !last.ends_with(marker) {
                            text.push(marker.to_string());
                        }
                        then = Some(Then::Close);
                        break;
                    }
                }
            }
            if let Some(then) = then {
                return self.send(&text, then);
            }
            match next.as_deref().and_then(|url| self.path_of(url)) {
                Some(path) => response = self.run(path).await,
                None => {
                    // Nothing more to do on the stream: end the call politely.
                    self.leave(hang_up()).await;
                    text.push("SK".to_string());
                    return self.send(&text, Then::Close);
                }
            }
        }
        tracing::error!("a TTY turn redirected too many times");
        self.leave(hang_up()).await;
        text.push("SK".to_string());
        self.send(&text, Then::Close)
    }

    /// Keeps `twiml` in the session for the `<Connect action>`.
    async fn leave(&self, twiml: Response) {
        let s = &*self.s;
        let params = Params::from(vec![("CallSid".to_string(), self.call_sid.clone())]);
        let saved = async {
            let mut session = session_for(s, &params).await?;
            // Without the sessions its URLs carry: it is played later, at another turn.
            let mut twiml = twiml;
            super::carried::detach(&mut twiml);
            session.tty_handoff = Some(twiml.to_xml());
            finish(s, session, None, Response::new()).await
        };
        match tokio::time::timeout(ANSWER_DEADLINE, saved).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::error!(error = %format!("{:#}", e.source), "a TTY hand-off was not saved")
            }
            Err(_) => tracing::error!("a TTY hand-off was not saved in time"),
        }
    }

    /// The entry a `<Gather>` asks for; `None` if its action is not one of ours.
    fn entry_for(&self, gather: &Element) -> Option<Entry> {
        let action = gather.get("action")?;
        let Path::Input(step, _) = self.path_of(action)? else {
            return None;
        };
        let seconds: usize = gather
            .get("timeout")
            .and_then(|t| t.parse().ok())
            .unwrap_or(30);
        Some(Entry {
            step,
            num_digits: gather.get("numDigits").and_then(|n| n.parse().ok()),
            finish_on_key: gather.get("finishOnKey").unwrap_or("").to_string(),
            timeout: seconds * SAMPLE_RATE,
            keys: String::new(),
            typed: String::new(),
            quiet: 0,
        })
    }

    /// The call-layer path for one of our URLs.
    fn path_of(&self, url: &str) -> Option<Path> {
        let path = url.strip_prefix(&self.s.settings.public_url)?;
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        if let Some(name) = path.strip_prefix("/voice/input/") {
            return Some(Path::Input(name.to_string(), String::new()));
        }
        if let Some(name) = path.strip_prefix("/voice/step/") {
            return Some(Path::Step(name.to_string()));
        }
        if path == "/voice/recover" {
            let attempt = query
                .strip_prefix("attempt=")
                .and_then(|n| n.parse().ok())
                .unwrap_or(1);
            return Some(Path::Recover(attempt));
        }
        None
    }

    /// Sends `text` as TTY audio and a mark after it; `then` once it has played.
    fn send(&mut self, text: &[String], then: Then) -> Vec<Outbound> {
        let joined = text
            .iter()
            .map(|t| t.trim())
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join("\r\n");
        if joined.is_empty() {
            return match then {
                Then::Close => {
                    self.turn = Turn::Done;
                    vec![Outbound::Close]
                }
                Then::Listen(entry) => {
                    self.turn = Turn::Listening(entry);
                    Vec::new()
                }
            };
        }
        // Each turn on a new line.
        let audio = self.modulator.transmit(&format!("\r\n{joined}\r\n"));
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut out: Vec<Outbound> = audio
            .chunks(CHUNK)
            .map(|chunk| {
                Outbound::Frame(
                    serde_json::json!({
                        "event": "media",
                        "streamSid": self.stream_sid,
                        "media": {"payload": b64.encode(chunk)},
                    })
                    .to_string(),
                )
            })
            .collect();
        self.marks += 1;
        let mark = format!("tx-{}", self.marks);
        out.push(Outbound::Frame(
            serde_json::json!({
                "event": "mark",
                "streamSid": self.stream_sid,
                "mark": {"name": mark},
            })
            .to_string(),
        ));
        self.turn = Turn::Sending {
            mark,
            left: audio.len() + 2 * SAMPLE_RATE,
            then,
        };
        out
    }
}

/// A call-layer request the stream makes.
#[derive(Debug)]
enum Path {
    /// The TTY entry, at the stream's start.
    Entry,
    Step(String),
    /// A `<Gather>`'s entry (its step, and the keys).
    Input(String, String),
    Recover(u32),
}

/// Equal, in a time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn hang_up() -> Response {
    let mut r = Response::new();
    r.push(Element::new("Hangup"));
    r
}

/// The TTY entry for a call answered with the stream: its greeting and first menu.
async fn entry(s: &crate::call::Line, p: &Params) -> Result<Response, CallError> {
    let mut session = session_for(s, p).await?;
    let before = snapshot(s, &session);
    let response = engine::start(s, &mut session, "tty")
        .await
        .map_err(CallError::during(&session))?;
    finish(s, session, before, response).await
}

#[cfg(test)]
mod tests;
