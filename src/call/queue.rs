//! What a caller hears while waiting in the Customer Service queue: the provider
//! requests the `<Enqueue>` wait URL with `QueuePosition` and `AvgQueueTime`, plays
//! what we answer, and asks again when it ends. Each round (about a minute) says the
//! place in line and the expected wait, offers a callback instead (1 leaves the queue),
//! then holds with music or silence. Keys work throughout: the round is one `<Gather>`.

use crate::call::Line;
use crate::call::{CallError, Params};
use crate::flow::engine;
use crate::session::Session;
use crate::telephony::twiml::{Element, Response};
use crate::words::prompts::{Channel, Fill, Lang};

/// How long the wait looks for the caller's session before it plays the round
/// without it (both languages), well inside the provider's 15 seconds.
const SESSION_DEADLINE: std::time::Duration = std::time::Duration::from_secs(3);

/// Silence (or music) after the announcements, so a round lasts about a minute.
const HOLD_SECS: u32 = 45;

struct QueueValues<'a> {
    s: &'a Line,
    position: u32,
    wait_minutes: u32,
    /// The local agency whose queue this is, when the caller was routed to one.
    agency: Option<&'a crate::domain::agencies::Agency>,
}

impl Fill for QueueValues<'_> {
    fn fill(&self, name: &str, lang: Lang, channel: Channel) -> Option<String> {
        match name {
            "queue_position" => Some(self.position.to_string()).filter(|_| self.position > 0),
            "agency" => self.agency.map(|a| a.name(lang).to_string()),
            "queue_wait" if self.wait_minutes > 0 => {
                let id = if self.wait_minutes == 1 {
                    "queue.minutes.one"
                } else {
                    "queue.minutes"
                };
                let n = self.wait_minutes.to_string();
                Some(self.s.catalog.render(id, lang, channel, &Minutes(&n)))
            }
            _ => None,
        }
    }
}

struct Minutes<'a>(&'a str);

impl Fill for Minutes<'_> {
    fn fill(&self, name: &str, _lang: Lang, _channel: Channel) -> Option<String> {
        (name == "minutes").then(|| self.0.to_string())
    }
}

/// Whole minutes from the provider's average wait in seconds, rounded up.
fn minutes(avg_secs: u32) -> u32 {
    avg_secs.div_ceil(60)
}

fn number(p: &Params, name: &str) -> u32 {
    p.get(name)
        .and_then(|v| v.trim().parse::<u32>().ok())
        .unwrap_or(0)
        .min(100_000)
}

/// `POST /voice/queue/wait[?queue=NAME]`: one round of announcements and hold. `queue`
/// names a local agency's own queue (the statewide unit's names none).
pub async fn wait(s: &Line, p: &Params, queue: Option<&str>) -> Response {
    // Without the session (database trouble) the caller still hears the queue, in both
    // languages: the wait must never fail.
    let session = match tokio::time::timeout(SESSION_DEADLINE, crate::call::session_for(s, p)).await
    {
        Ok(Ok(session)) => Some(session),
        Ok(Err(e)) => {
            tracing::warn!(error = %format!("{:#}", e.source), "queue wait without the session");
            None
        }
        Err(_) => {
            tracing::warn!("queue wait without the session: the store did not answer in time");
            None
        }
    };
    let langs = match session.as_ref().and_then(|s| s.lang) {
        Some(l) => vec![l],
        None => Lang::ALL.to_vec(),
    };
    let channel = session.as_ref().map_or(Channel::Voice, |s| s.channel);
    // What the queue's size is, for the callback dialer (each queue's apart).
    if let Some(size) = p
        .get("CurrentQueueSize")
        .and_then(|v| v.trim().parse::<u32>().ok())
    {
        s.waiting.saw(queue, size, s.now());
    }
    // A TTY caller on the modem cannot read spoken rounds: they wait in quiet (they
    // were told in text that a person is coming).
    if channel == Channel::Tty && s.settings.tty_mode == crate::config::TtyMode::Baudot {
        let mut r = Response::new();
        r.push(Element::new("Pause").attr("length", HOLD_SECS.to_string()));
        return r;
    }
    let agency = session.as_ref().and_then(|session| s.agency(session));
    let values = QueueValues {
        s,
        position: number(p, "QueuePosition"),
        wait_minutes: minutes(number(p, "AvgQueueTime")),
        agency,
    };
    // A caller in their local agency's queue hears whose line they are waiting for.
    let mut ids = if agency.is_some() {
        vec!["queue.agency", "queue.position", "queue.wait"]
    } else {
        vec!["queue.position", "queue.wait"]
    };
    if values.position >= s.settings.queue_long_position.max(1) {
        ids.push("queue.long");
    }
    // No callback offered to a caller who could not have one: pressing 1 would cost
    // them their place for nothing.
    let offer = |session: &Session| crate::domain::callbacks::may_offer(session, &s.outbound);
    if session.as_ref().is_none_or(offer) {
        ids.push("queue.offer");
    }
    let mut gather = Element::new("Gather")
        .attr("input", "dtmf")
        .attr("numDigits", "1")
        .attr("timeout", "2")
        .attr(
            "action",
            s.settings.public_url.clone() + "/voice/queue/choice",
        )
        .attr("method", "POST");
    for lang in langs {
        for id in &ids {
            gather
                .children
                .extend(engine::say_element(s, id, lang, channel, &values));
        }
    }
    match (&s.settings.hold_music_url, channel) {
        (Some(url), Channel::Voice) => gather.children.push(Element::new("Play").text(url.clone())),
        _ => gather
            .children
            .push(Element::new("Pause").attr("length", HOLD_SECS.to_string())),
    }
    let mut r = Response::new();
    r.push(gather);
    r
}

/// `POST /voice/queue/choice`: a key pressed while waiting. 1 leaves the queue for a
/// callback (the `<Enqueue>` action then runs the flow's callback steps); anything else
/// keeps the caller's place.
pub async fn choice(s: &Line, p: &Params) -> Result<Response, CallError> {
    let mut session = crate::call::session_for(s, p).await?;
    let lang = session.lang.unwrap_or(Lang::En);
    let mut r = Response::new();
    let may = crate::domain::callbacks::may_offer(&session, &s.outbound);
    if crate::call::caller_input(p).digits == "1" && may {
        session.callback_requested = true;
        save(s, &session).await?;
        r.verbs.extend(engine::say_element(
            s,
            "queue.leaving",
            lang,
            session.channel,
            &(),
        ));
        r.push(Element::new("Leave"));
    } else {
        r.verbs.extend(engine::say_element(
            s,
            "queue.staying",
            lang,
            session.channel,
            &(),
        ));
    }
    Ok(r)
}

async fn save(s: &Line, session: &Session) -> Result<(), CallError> {
    s.store
        .sessions()
        .save(session, s.now())
        .await
        .map_err(CallError::during(session))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_wait_rounds_up_to_whole_minutes() {
        assert_eq!(minutes(0), 0);
        assert_eq!(minutes(1), 1);
        assert_eq!(minutes(60), 1);
        assert_eq!(minutes(61), 2);
    }
}
