//! The callee's side of a callback the dialer placed: the provider asks the answer URL
//! when the call is answered (with `AnsweredBy` from machine detection) and the status
//! URL when it ends. A person hears who is calling and why, and chooses (the
//! `callback-callee` flow entry, in the language and on the channel of the original
//! request); a machine gets a short message with no personal data.

use super::{CallError, Params, call_sid, finish};
use crate::call::Line;
use crate::flow::engine;
use crate::session::Session;
use crate::telephony::twiml::{Element, Response};
use crate::words::prompts::{Channel, Lang};

/// `POST /voice/callback/answer?request=N`.
pub async fn answer(s: &Line, p: &Params, request: Option<i64>) -> Result<Response, CallError> {
    let sid = call_sid(p)?;
    let id = request
        .ok_or_else(|| CallError::new(anyhow::anyhow!("a callback answer without its request")))?;
    let Some(callback) = s.store.callback_queue().get(id).await? else {
        return Err(CallError::new(anyhow::anyhow!(
            "a callback answer for no request"
        )));
    };
    let lang = Lang::parse(&callback.lang).unwrap_or(Lang::En);
    let channel = if callback.channel == "tty" {
        Channel::Tty
    } else {
        Channel::Voice
    };
    let answered_by = p.get("AnsweredBy").unwrap_or("unknown");
    if answered_by.starts_with("machine") || answered_by == "fax" {
        crate::domain::callbacks::dialer::not_reached(
            &s.store,
            &s.settings.dialer,
            s.now(),
            id,
            Some(sid.as_str()),
            "machine",
        )
        .await?;
        let mut r = Response::new();
        r.verbs
            .extend(super::say(s, "callee.machine", lang, channel));
        r.push(Element::new("Hangup"));
        return Ok(r);
    }
    let mut session = Session::new(sid, channel, s.now());
    session.lang = Some(lang);
    session.callback_request = Some(id);
    // Their request's agency: a person they ask for is that agency's, in its hours.
    session.agency = callback.agency;
    // A TTY caller on the modem reads the choices on the stream.
    if super::tty::reads(s, &session)
        && let Some(ix) = s.flow.entry("callback-callee")
    {
        let first = s.flow.step(ix).name.clone();
        let response = super::tty::back_on_stream(s, &mut session, &first);
        return finish(s, session, None, response).await;
    }
    let response = engine::start(s, &mut session, "callback-callee")
        .await
        .map_err(CallError::during(&session))?;
    finish(s, session, None, response).await
}

/// `POST /voice/callback/status?request=N`: the callback call ended. Not answered,
/// busy or failed is an attempt that reached no one; answered by a person who chose
/// nothing, too.
pub async fn status(s: &Line, p: &Params, request: Option<i64>) -> Result<Response, CallError> {
    let sid = call_sid(p)?;
    let result = match p.get("CallStatus").unwrap_or("") {
        r @ ("no-answer" | "busy" | "failed" | "canceled") => r,
        "completed" => "no-choice",
        _ => return Ok(Response::new()),
    };
    if let Some(id) = request {
        let connected = s
            .store
            .callback_queue()
            .state(id)
            .await?
            .is_some_and(|(status, _)| status == "connected");
        if connected {
            // Put through to the queue, and the call is over: the request is done.
            s.store.callback_queue().close(id, "done", s.now()).await?;
        } else {
            crate::domain::callbacks::dialer::not_reached(
                &s.store,
                &s.settings.dialer,
                s.now(),
                id,
                Some(sid.as_str()),
                result,
            )
            .await?;
        }
    }
    s.store.sessions().end(&sid, "completed", s.now()).await?;
    Ok(Response::new())
}
