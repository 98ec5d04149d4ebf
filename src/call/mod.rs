//! What each webhook does, as plain functions over the [`Line`]: find or start the
//! call's session, let the flow engine answer, save the session. No HTTP here; errors
//! come back as [`CallError`], which the HTTP layer turns into a spoken apology.

pub mod callee;
mod carried;
pub use carried::{Carry, turn_of};
mod line;
pub mod queue;
mod runtime;
pub mod tty;

use tracing::Span;

use crate::flow::engine;
use crate::session::{CallSid, Session, StaffEntry, TransferResult};
use crate::telephony::input::CallerInput;
use crate::telephony::twiml::{Element, Response};
use crate::words::prompts::{Channel, Fill, Lang};
pub use line::Line;

/// The incoming webhook's field that marks a call placed by `caseline loadtest`. It is
/// read only from a request whose signature holds (every webhook's is checked before
/// it gets here), so only someone with the provider's token can mark a call.
pub const LOAD_TEST_FIELD: &str = "CaselineLoadTest";

/// What a webhook brings: its POST parameters, and the turn its URL names.
#[derive(Debug, Clone, Default)]
pub struct Params {
    /// The POST parameters, in order (names may repeat).
    pub fields: Vec<(String, String)>,
    /// `?t=N` from one of our step or input URLs: the answer that led here
    /// ([`Session::turn`]). Absent on the provider's own URLs and on the TTY stream.
    pub turn: Option<u64>,
    /// `?t=N.SEALED`: the session as it was at that turn, sealed (see [`carried`]).
    pub sealed: Option<String>,
}

impl From<Vec<(String, String)>> for Params {
    fn from(fields: Vec<(String, String)>) -> Params {
        Params {
            fields,
            turn: None,
            sealed: None,
        }
    }
}

impl Params {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A webhook that could not be answered as the flow says. Carries what the apology
/// needs (the caller's language, how many recoveries were tried), never caller input.
#[derive(Debug)]
pub struct CallError {
    pub lang: Option<Lang>,
    pub channel: Channel,
    /// Recovery attempts already made; the apology stops redirecting after one.
    pub attempt: u32,
    pub source: anyhow::Error,
}

impl CallError {
    pub fn new(source: anyhow::Error) -> CallError {
        CallError {
            lang: None,
            channel: Channel::Voice,
            attempt: 0,
            source,
        }
    }

    pub(crate) fn during(session: &Session) -> impl FnOnce(anyhow::Error) -> CallError + '_ {
        move |source| CallError {
            lang: session.lang,
            channel: session.channel,
            attempt: 0,
            source,
        }
    }
}

impl From<anyhow::Error> for CallError {
    fn from(e: anyhow::Error) -> Self {
        CallError::new(e)
    }
}

fn call_sid(p: &Params) -> Result<CallSid, CallError> {
    p.get("CallSid")
        .and_then(CallSid::parse)
        .ok_or_else(|| CallError::new(anyhow::anyhow!("missing or malformed CallSid")))
}

fn channel_for(s: &Line, p: &Params) -> Channel {
    let to = p.get("To").or_else(|| p.get("Called")).unwrap_or("");
    if s.settings.tty_numbers.iter().any(|n| n == to) {
        Channel::Tty
    } else {
        Channel::Voice
    }
}

/// Keys as the provider sends them; anything that is not 0-9, `*` or `#` (or far too
/// long) becomes one character that matches nothing, so it counts as a wrong key.
pub fn caller_input(p: &Params) -> CallerInput {
    let raw = p.get("Digits").unwrap_or("").trim();
    let digits = if raw.len() <= 64
        && raw
            .chars()
            .all(|c| c.is_ascii_digit() || c == '*' || c == '#')
    {
        raw.to_string()
    } else {
        "?".to_string()
    };
    let speech = p
        .get("SpeechResult")
        .map(|s| s.chars().take(256).collect::<String>())
        .filter(|s| !s.trim().is_empty());
    let confidence = p
        .get("Confidence")
        .and_then(|c| c.trim().parse::<f32>().ok())
        .filter(|c| c.is_finite());
    CallerInput {
        digits,
        speech,
        confidence,
    }
}

/// Loads the call's session, or starts one when it is unknown or has expired (a call
/// that outlived its session continues from the step it asked for).
pub(crate) async fn session_for(s: &Line, p: &Params) -> Result<Session, CallError> {
    session_with(s, p, p.sealed.as_deref()).await
}

/// [`session_for`], taking the session from `sealed` (the URL's copy) when it opens.
async fn session_with(s: &Line, p: &Params, sealed: Option<&str>) -> Result<Session, CallError> {
    let sid = call_sid(p)?;
    let now = s.now();
    Span::current().record("call_sid", sid.as_str());
    if let (Some(carry), Some(turn)) = (&s.carry, p.turn) {
        carry.arrived(turn, s.store.sessions().server(), now);
    }
    // A request this server has answered already (a repeat) is read, as before: the
    // session it finds then holds the answer to give again.
    let carried = match (&s.carry, p.turn, sealed) {
        (Some(carry), Some(turn), Some(sealed))
            if !s.store.sessions().answered_past(&sid, turn) =>
        {
            carry.open(
                sealed,
                sid.as_str(),
                turn,
                now - crate::store::SESSION_TTL_SECS,
            )
        }
        _ => None,
    };
    let found = match carried {
        Some(session) => {
            carried_counter().increment(1);
            Some(session)
        }
        None => s.store.sessions().load(&sid, now, p.turn).await?,
    };
    let mut session = match found {
        Some(session) => session,
        // A call first seen here (a callback answered, a session expired): counted as
        // active like one that came in once it is saved ([`finish`]), since its status
        // callback will count it out.
        None => {
            let mut session = Session::new(sid, channel_for(s, p), now);
            session.fresh = true;
            session
        }
    };
    s.store.sessions().number(&mut session, p.turn);
    Ok(session)
}

/// `caseline_session_reads_total{from="url"}`, made once.
fn carried_counter() -> &'static metrics::Counter {
    static COUNTER: std::sync::OnceLock<metrics::Counter> = std::sync::OnceLock::new();
    COUNTER.get_or_init(|| metrics::counter!("caseline_session_reads_total", "from" => "url"))
}

/// The session as a webhook found it, kept only where the store can save a change of
/// position without waiting for its commit ([`crate::store::Store::save_position`]).
fn snapshot(s: &Line, session: &Session) -> Option<Session> {
    s.store.sessions().writes_behind().then(|| session.clone())
}

/// Saves the session, then hands back the answer. When `before` shows that only the
/// caller's position changed, the save may answer before its commit. A call's first
/// save counts it as active: a call is counted when it is answered, and once.
async fn finish(
    s: &Line,
    mut session: Session,
    before: Option<Session>,
    mut response: Response,
) -> Result<Response, CallError> {
    let fresh = std::mem::take(&mut session.fresh);
    if let Some(agencies) = &s.agencies {
        let id = agencies.of_call(&session).map(|a| a.id.as_str());
        if session.belongs_to.as_deref() != id {
            session.belongs_to = id.map(str::to_string);
        }
    }
    // The turn's URLs carry the session as saved, for whichever server they reach.
    if let Some(carry) = &s.carry
        && carry.wanted(s.now())
        && let Some(sealed) = carry.seal(&session, s.now())
    {
        carried::attach(&mut response, session.turn, &sealed);
    }
    if let Some(step) = &session.step {
        Span::current().record("step", step.as_str());
    }
    let (lang, channel, now) = (session.lang, session.channel, s.now());
    // An answer that hangs up waits for its save: the status callback follows at once,
    // maybe on another server, and the call's last step must be there for the report.
    let hangs_up = response.verbs.iter().any(|v| v.name == "Hangup");
    let saved = match before {
        Some(before) if session.only_position_changed(&before) && !hangs_up => {
            s.store.sessions().save_position(session, now).await
        }
        _ => s.store.sessions().save(&session, now).await,
    };
    saved.map_err(|source| CallError {
        lang,
        channel,
        attempt: 0,
        source,
    })?;
    if fresh {
        crate::ops::metrics::calls_active(1.0);
    }
    Ok(response)
}

/// `POST /voice/incoming`: a new call.
pub async fn incoming(s: &Line, p: &Params) -> Result<Response, CallError> {
    let sid = call_sid(p)?;
    Span::current().record("call_sid", sid.as_str());
    let mut session = Session::new(sid, channel_for(s, p), s.now());
    s.store.sessions().number(&mut session, None);
    session.caller = p.get("From").and_then(e164);
    session.dialled = p
        .get("To")
        .and_then(e164)
        .filter(|to| !s.outbound.is_own(to));
    session.fresh = true;
    session.load_test = p.get(LOAD_TEST_FIELD) == Some("true");
    // A TTY call in baudot mode: the server is the modem, on the call's media stream.
    if session.channel == Channel::Tty && s.settings.tty_mode == crate::config::TtyMode::Baudot {
        let token = tty::new_token();
        session.stream_token = Some(token.clone());
        let response = tty::connect(&s.settings.public_url, &token);
        return finish(s, session, None, response).await;
    }
    let entry = match session.channel {
        Channel::Tty => "tty",
        Channel::Voice => "voice",
    };
    let response = engine::start(s, &mut session, entry)
        .await
        .map_err(CallError::during(&session))?;
    finish(s, session, None, response).await
}

/// A number as the provider sends it (`+` and digits), or nothing: a withheld or odd
/// caller ID is not kept, nor the keypad spellings the provider sends for one
/// (ANONYMOUS, RESTRICTED, UNAVAILABLE, BLOCKED), which look like real numbers.
fn e164(raw: &str) -> Option<String> {
    const WITHHELD: &[&str] = &["+266696687", "+7378742833", "+86282452253", "+2562533"];
    (crate::config::is_e164(raw) && !WITHHELD.contains(&raw)).then(|| raw.to_string())
}

/// How a `<Dial>` or `<Enqueue>` ended, when this request is its action.
fn transfer_result(p: &Params) -> Option<TransferResult> {
    TransferResult::parse(p.get("QueueResult").or_else(|| p.get("DialCallStatus"))?)
}

/// `POST /voice/step/{name}`: a redirect to a step, or the end of a transfer.
pub async fn step(s: &Line, p: &Params, name: &str) -> Result<Response, CallError> {
    step_from(s, p, name, false).await
}

/// A step the TTY stream runs for its call (never sent back onto a stream).
pub(crate) async fn step_on_stream(
    s: &Line,
    p: &Params,
    name: &str,
) -> Result<Response, CallError> {
    step_from(s, p, name, true).await
}

async fn step_from(
    s: &Line,
    p: &Params,
    name: &str,
    on_stream: bool,
) -> Result<Response, CallError> {
    let mut session = session_for(s, p).await?;
    let before = snapshot(s, &session);
    if let Some(result) = transfer_result(p) {
        session.transfer_result = Some(result);
    }
    // A TTY caller on the modem, back from a queue or a dial: the step runs on a stream.
    if !on_stream && tty::reads(s, &session) {
        let response = tty::back_on_stream(s, &mut session, name);
        return finish(s, session, None, response).await;
    }
    // A `<Record>` ended: its SID only; the recording's URL is never kept. Only at the
    // step this call's own `<Record>` reports to: a recording named anywhere else is
    // not this call's to keep or delete.
    if p.get("RecordingSid").is_some() {
        if session.recording_step.as_deref() == Some(name) {
            session.recording_sid = recording_sid(s, p).await;
        } else {
            tracing::warn!("a recording reported at a step that recorded nothing; ignored");
        }
    }
    let response = engine::step(s, &mut session, name)
        .await
        .map_err(CallError::during(&session))?;
    finish(s, session, before, response).await
}

/// `POST /voice/paid/{name}?pay={id}`: the `<Pay>` verb ended; its result (never the
/// card) goes into the session if `id` names the call's last `<Pay>`, and the flow's
/// result step says what happened.
pub async fn paid(
    s: &Line,
    p: &Params,
    name: &str,
    pay_id: Option<&str>,
) -> Result<Response, CallError> {
    let mut session = session_for(s, p).await?;
    let before = snapshot(s, &session);
    let result = crate::session::PayResult::from_params(|n| p.get(n));
    crate::domain::pay::take_result(&s.store, s.now(), &mut session, pay_id, result)
        .await
        .map_err(CallError::during(&session))?;
    let response = engine::step(s, &mut session, name)
        .await
        .map_err(CallError::during(&session))?;
    finish(s, session, before, response).await
}

/// The SID of a recording this request reports (`RE` and 32 hex digits), if any and
/// if the caller said something. A recording of no length is none, and is deleted at
/// the provider (in the background: the caller does not wait for it), unless a request
/// holds it (a repeated or stray callback must not take a kept recording away).
async fn recording_sid(s: &Line, p: &Params) -> Option<String> {
    let sid = p.get("RecordingSid")?;
    let ok =
        sid.len() == 34 && sid.starts_with("RE") && sid[2..].bytes().all(|b| b.is_ascii_hexdigit());
    if !ok {
        return None;
    }
    let empty = p
        .get("RecordingDuration")
        .is_some_and(|d| d.trim().parse::<u32>().is_ok_and(|n| n == 0));
    if empty {
        match s.store.requests().holds_recording(sid).await {
            Ok(false) => {}
            Ok(true) => {
                tracing::warn!("an empty recording callback names a kept recording; not deleted");
                return None;
            }
            Err(e) => {
                tracing::warn!(error = %e, "an empty recording was not deleted: unknown if kept");
                return None;
            }
        }
        let (recordings, sid) = (s.recordings.clone(), sid.to_string());
        tokio::spawn(async move {
            if let Err(e) = recordings.delete(&sid).await {
                tracing::warn!(error = %e, "an empty recording could not be deleted");
            }
        });
        return None;
    }
    Some(sid.to_string())
}

/// `POST /voice/staff/{entry}?handoff={id}`: a staff member moved the live call into
/// the IVR (the flow entry `staff-{entry}`). The hand-off (who, and where the caller
/// goes back to) is read from its own row, named by the URL, and kept in the session
/// from here on, in the call's own order.
pub async fn staff_entry(
    s: &Line,
    p: &Params,
    entry: &str,
    handoff: Option<i64>,
) -> Result<Response, CallError> {
    let Some(entry) = StaffEntry::parse(entry) else {
        return Err(CallError::new(anyhow::anyhow!("unknown staff entry")));
    };
    let mut session = session_for(s, p).await?;
    let before = snapshot(s, &session);
    if let Some(id) = handoff {
        match s
            .store
            .staff()
            .take_handoff(id, session.call_sid.as_str(), entry)
            .await?
        {
            Some(t) => session.staff_transfer = Some(t),
            None => tracing::warn!(handoff = id, "a staff entry for a hand-off not on record"),
        }
    }
    let response = engine::start(s, &mut session, &format!("staff-{entry}"))
        .await
        .map_err(CallError::during(&session))?;
    finish(s, session, before, response).await
}

/// `POST /voice/input/{name}`: the caller's answer to a menu or input step.
///
/// An entry at an input step (an SSN, a PAR ID, a number) that moved the call on is
/// remembered with its answer until the next entry. Input for that step again, while
/// the call has not come back to it, can only be the same request delivered twice (a
/// provider retry, or a crash between the commit and the answer): it gets the same
/// answer, rather than a second run of its action against a session that has moved on
/// (a verified caller would otherwise hear "we couldn't confirm that").
pub async fn input(s: &Line, p: &Params, name: &str) -> Result<Response, CallError> {
    let at_input = s
        .flow
        .find(name)
        .is_some_and(|ix| matches!(s.flow.step(ix).kind, crate::flow::StepKind::Input(_)));
    // An entry is read from the database, never from its URL: the URL's copy is the
    // session before the entry, without the answer kept for a repeated delivery, so a
    // repeat reaching another server would run the entry's action (a verification, a
    // request) again.
    let sealed = p.sealed.as_deref().filter(|_| !at_input);
    let mut session = session_with(s, p, sealed).await?;
    if let Some(replay) = &session.replay
        && replay.step == name
        && session.awaiting.as_deref() != Some(name)
        && let Ok(answer) = crate::telephony::twiml::parse(&replay.answer)
    {
        tracing::info!("a repeated delivery of an answered entry; answering it again");
        return Ok(answer);
    }
    let before = snapshot(s, &session);
    let response = engine::input(s, &mut session, name, caller_input(p))
        .await
        .map_err(CallError::during(&session))?;
    let moved_on = session.awaiting.as_deref() != Some(name);
    session.replay = (at_input && moved_on).then(|| crate::session::Replay {
        step: name.to_string(),
        answer: response.to_xml(),
    });
    finish(s, session, before, response).await
}

/// `POST /voice/recover?attempt=N`: after an apology, try the call's recovery entry
/// (the main menu) once; a second failure ends the call politely.
pub async fn recover(s: &Line, p: &Params, attempt: u32) -> Result<Response, CallError> {
    recover_from(s, p, attempt, false).await
}

/// The recovery the TTY stream runs for its call.
pub(crate) async fn recover_on_stream(
    s: &Line,
    p: &Params,
    attempt: u32,
) -> Result<Response, CallError> {
    recover_from(s, p, attempt, true).await
}

async fn recover_from(
    s: &Line,
    p: &Params,
    attempt: u32,
    on_stream: bool,
) -> Result<Response, CallError> {
    let mut session = session_for(s, p).await.map_err(|mut e| {
        e.attempt = attempt;
        e
    })?;
    let before = snapshot(s, &session);
    let entry = if s.flow.entry("recover").is_some() {
        "recover"
    } else {
        "voice"
    };
    // A TTY caller on the modem recovers on a stream, from the recovery entry's step.
    if !on_stream
        && attempt <= 1
        && tty::reads(s, &session)
        && let Some(ix) = s.flow.entry(entry)
    {
        let step = s.flow.step(ix).name.clone();
        let response = tty::back_on_stream(s, &mut session, &step);
        return finish(s, session, None, response).await;
    }
    let response = engine::start(s, &mut session, entry)
        .await
        .map_err(|source| CallError {
            lang: session.lang,
            channel: session.channel,
            attempt,
            source,
        })?;
    finish(s, session, before, response).await.map_err(|mut e| {
        e.attempt = attempt;
        e
    })
}

/// `POST /voice/status`: the provider reports the call's end.
pub async fn status(s: &Line, p: &Params) -> Result<Response, CallError> {
    let sid = call_sid(p)?;
    Span::current().record("call_sid", sid.as_str());
    let status = p.get("CallStatus").unwrap_or("");
    let over = ["completed", "busy", "failed", "no-answer", "canceled"];
    if let Some(status) = over.iter().find(|s| **s == status) {
        let caller = p.get("From").and_then(e164);
        end_call(s, &sid, status, caller.as_deref()).await?;
    }
    Ok(Response::new())
}

/// Ends a call: its session, then its path for the analytics, and counts it out. The
/// status callback and a TTY stream's `stop` both end a call, whichever comes first;
/// only the end that finds the session live counts it out and keeps its path (a
/// repeated callback, or one for a call this line never answered, ends nothing).
pub(crate) async fn end_call(
    s: &Line,
    sid: &CallSid,
    status: &str,
    caller: Option<&str>,
) -> anyhow::Result<()> {
    let Some(ended) = s.store.sessions().finish(sid, status, s.now()).await? else {
        return Ok(());
    };
    crate::ops::metrics::calls_active(-1.0);
    if let Some(session) = ended {
        let caller = caller.or(session.caller.as_deref());
        let agency = crate::domain::agencies::of_call(s.agencies.as_ref(), &session);
        crate::ops::analytics::record(&s.store, &s.blind, s.now(), &session, caller, agency)
            .await?;
    }
    Ok(())
}

struct Phones<'a>(&'a Line);

impl Fill for Phones<'_> {
    fn fill(&self, name: &str, lang: Lang, channel: Channel) -> Option<String> {
        runtime::setting_value(&self.0.settings, name, lang, channel)
    }
}

fn say(s: &Line, id: &str, lang: Lang, channel: Channel) -> Option<Element> {
    engine::say_element(s, id, lang, channel, &Phones(s))
}

/// The answer to a failed webhook: an apology in the caller's language (both when
/// unknown) and a way forward: one more try at the main menu, or after that the
/// office's number and a goodbye. Never redirects twice, so it cannot loop.
pub fn apology(s: &Line, err: &CallError) -> Response {
    let langs: Vec<Lang> = err.lang.map_or(Lang::ALL.to_vec(), |l| vec![l]);
    let mut r = Response::new();
    if err.attempt == 0 {
        for &lang in &langs {
            r.verbs.extend(say(s, "error.apology", lang, err.channel));
        }
        let url = format!("{}/voice/recover?attempt=1", s.settings.public_url);
        r.push(Element::new("Redirect").attr("method", "POST").text(url));
    } else {
        goodbye(s, &langs, err.channel, &mut r);
    }
    r
}

/// How long the fallback tries to resume a call before it says goodbye instead.
const FALLBACK_RESUME_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// `POST /voice/fallback`: the provider could not reach us or got no answer (a server
/// died mid-request, behind a balancer that could not retry it). The call goes on at
/// the step its caller was answering, from its last committed save, on whichever server
/// this is; a call with no live session, or a database that does not answer within
/// [`FALLBACK_RESUME_WAIT`], gets the goodbye (apologise, give the number, hang up).
pub async fn fallback(s: &Line, p: &Params) -> Response {
    let resumed = tokio::time::timeout(FALLBACK_RESUME_WAIT, resume(s, p)).await;
    match resumed {
        Ok(Some(r)) => r,
        _ => {
            let mut r = Response::new();
            goodbye(s, &Lang::ALL, channel_for(s, p), &mut r);
            r
        }
    }
}

/// The call's step again, where its session says the caller was, if it has one.
async fn resume(s: &Line, p: &Params) -> Option<Response> {
    let sid = call_sid(p).ok()?;
    let session = s.store.sessions().load(&sid, s.now(), None).await.ok()??;
    let at = session.awaiting.or(session.step)?;
    s.flow.find(&at)?;
    tracing::info!(step = %at, "the fallback resumes the call where it was");
    step(s, p, &at).await.ok()
}

fn goodbye(s: &Line, langs: &[Lang], channel: Channel, r: &mut Response) {
    for &lang in langs {
        r.verbs.extend(say(s, "error.goodbye", lang, channel));
    }
    if channel == Channel::Tty {
        r.push(Element::new("Say").text("SK"));
    }
    r.push(Element::new("Hangup"));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn hostile_digits_become_a_wrong_key() {
        for (raw, want) in [
            ("1", "1"),
            ("*", "*"),
            (" 12# ", "12#"),
            ("<x>", "?"),
            ("1 2", "?"),
            ("١", "?"),
            ("", ""),
        ] {
            assert_eq!(
                caller_input(&params(&[("Digits", raw)])).digits,
                want,
                "{raw:?}"
            );
        }
        let long = "1".repeat(65);
        assert_eq!(caller_input(&params(&[("Digits", &long)])).digits, "?");
        let speech = "x".repeat(10_000);
        let got = caller_input(&params(&[("SpeechResult", &speech)]))
            .speech
            .unwrap();
        assert_eq!(got.len(), 256);
    }
}
