//! Handing a caller to a person: where they go (the Customer Service queue, a number, a
//! SIP URI or a softphone client) and the context that goes with them, so the person
//! who answers already knows the language, whether the caller proved who they are, the
//! case and what they heard. Never the SSN or PAR ID: the session does not hold them.

pub mod screenpop;

use serde::Serialize;

use crate::config::Settings;
use crate::session::{Session, StaffEntry, VerifyOutcome};
use crate::telephony::twiml::Element;
use crate::words::prompts::Channel;

/// What a representative (and the screen pop) learns about the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Context {
    pub call_sid: String,
    /// `en`, `es`, or `none` when the caller never chose.
    pub language: String,
    /// `voice` or `tty`.
    pub channel: String,
    pub verified: bool,
    pub case_number: Option<String>,
    /// The caller's role on that case (`custodial`, `noncustodial`).
    pub role: Option<String>,
    /// Topics already read back in this call (`payments`, `case-status`...).
    pub topics_heard: Vec<String>,
    /// The flow step the caller came from.
    pub step: Option<String>,
    /// The last verification outcome: `verified`, `failed`, `too-many`, `locked`, or
    /// `not-attempted`.
    pub verification: String,
    /// For a caller a staff member sent into the IVR: the entry and who sent them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub staff_entry: Option<StaffEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent_by: Option<String>,
    /// For a caller the dialer called back: their request's number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_request: Option<i64>,
    /// The local agency of the caller's case (its id), when an agencies file is loaded:
    /// the agent sees whose caller this is even where the statewide unit answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agency: Option<String>,
}

impl Context {
    pub fn of(session: &Session) -> Context {
        let case = session.case.as_ref().filter(|_| session.verified);
        Context {
            call_sid: session.call_sid.to_string(),
            language: session.lang.map_or("none", |l| l.code()).to_string(),
            channel: match session.channel {
                Channel::Voice => "voice",
                Channel::Tty => "tty",
            }
            .to_string(),
            verified: session.verified,
            case_number: case.map(|c| c.case_number.clone()),
            role: case.map(|c| c.role.as_str().to_string()),
            topics_heard: session.heard.clone(),
            step: session.step.clone(),
            verification: verification(session).to_string(),
            staff_entry: session.staff_transfer.as_ref().map(|t| t.entry),
            sent_by: session.staff_transfer.as_ref().map(|t| t.by.clone()),
            callback_request: session.callback_request,
            agency: session.agency.clone(),
        }
    }

    /// The context as SIP `X-` headers (name, value), for a `<Sip>` URI.
    pub fn sip_headers(&self) -> Vec<(&'static str, String)> {
        let mut h = vec![
            ("X-Caseline-Call", self.call_sid.clone()),
            ("X-Caseline-Lang", self.language.clone()),
            ("X-Caseline-Channel", self.channel.clone()),
            (
                "X-Caseline-Verified",
                if self.verified { "yes" } else { "no" }.to_string(),
            ),
            ("X-Caseline-Verification", self.verification.clone()),
        ];
        if let Some(c) = &self.case_number {
            h.push(("X-Caseline-Case", c.clone()));
        }
        if let Some(r) = &self.role {
            h.push(("X-Caseline-Role", r.clone()));
        }
        if !self.topics_heard.is_empty() {
            h.push(("X-Caseline-Heard", self.topics_heard.join(",")));
        }
        if let Some(a) = &self.agency {
            h.push(("X-Caseline-Agency", a.clone()));
        }
        h
    }
}

impl Context {
    /// What goes back to a staff member of `agency` (none: statewide) who sent the
    /// caller into the IVR: all of it, unless the caller has since chosen a case of
    /// another agency (a participant may have cases in several counties), whose number
    /// and role that staff member may not see. They still learn the caller verified.
    pub fn for_staff_of(self, agency: Option<&str>, call_agency: Option<&str>) -> Context {
        match agency {
            Some(own) if call_agency != Some(own) => self.without_case(),
            _ => self,
        }
    }

    /// The context with nothing of the caller's case: its number, role, what was heard.
    pub fn without_case(mut self) -> Context {
        self.case_number = None;
        self.role = None;
        self.topics_heard.clear();
        self
    }
}

/// The verification outcome in words staff read.
pub fn verification(session: &Session) -> &'static str {
    if session.verified {
        return "verified";
    }
    match session.verify_outcome {
        Some(VerifyOutcome::Locked) => "locked",
        Some(VerifyOutcome::TooMany) => "too-many",
        Some(_) => "failed",
        None => "not-attempted",
    }
}

/// Where a call can be sent: a phone number, a SIP URI, a softphone client identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Number(String),
    Sip(String),
    Client(String),
}

/// Whether a SIP URI's headers name one of ours, in any case and however
/// percent-encoded: a configured address must not be able to forge the caller's context.
fn names_our_headers(uri: &str) -> bool {
    let Some((_, headers)) = uri.split_once('?') else {
        return false;
    };
    let decoded: String = form_urlencoded::parse(headers.as_bytes())
        .map(|(name, _)| name.into_owned())
        .collect::<Vec<_>>()
        .join("&");
    decoded.to_ascii_lowercase().contains("x-caseline-")
}

impl Destination {
    /// `+18665551234` (or 10 US digits), `sip:agent@pbx.example`, `client:alice`.
    /// Refuses anything else, so nothing odd reaches the TwiML.
    pub fn parse(s: &str) -> Result<Destination, String> {
        let s = s.trim();
        let safe = |t: &str, extra: &str| {
            !t.is_empty()
                && t.len() <= 256
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.@+".contains(c) || extra.contains(c))
        };
        if let Some(rest) = s.strip_prefix("sip:") {
            if names_our_headers(rest) {
                return Err(
                    "a SIP address may not carry X-Caseline- headers: they are ours".into(),
                );
            }
            if safe(rest, ":;=?&%") {
                return Ok(Destination::Sip(s.to_string()));
            }
        } else if let Some(id) = s.strip_prefix("client:") {
            if safe(id, "") {
                return Ok(Destination::Client(id.to_string()));
            }
        } else {
            let digits: String = s.chars().filter(char::is_ascii_digit).collect();
            let only_phone_chars = s
                .chars()
                .all(|c| c.is_ascii_digit() || "+-(). ".contains(c));
            if only_phone_chars {
                match digits.len() {
                    10 => return Ok(Destination::Number(format!("+1{digits}"))),
                    8..=15 if s.starts_with('+') => {
                        return Ok(Destination::Number(format!("+{digits}")));
                    }
                    _ => {}
                }
            }
        }
        Err("a destination must be a phone number (+18665551234), a SIP URI (sip:agent@pbx.example) or a client (client:name)".into())
    }

    /// A destination a staff member typed: as [`Destination::parse`], and a SIP URI may
    /// carry no headers (`?...`) at all, since ours (`X-Caseline-Verified`, ...) follow
    /// them and a forged one would be read first.
    pub fn parse_return_to(s: &str) -> Result<Destination, String> {
        let d = Destination::parse(s)?;
        if let Destination::Sip(uri) = &d
            && uri.contains('?')
        {
            return Err("a SIP address to return the caller to may not carry headers ('?')".into());
        }
        Ok(d)
    }

    /// `<Dial>` to this destination, carrying the context the way each kind can: SIP
    /// headers on a SIP URI, `<Parameter>`s for a client, nothing for a plain number.
    pub fn dial(&self, ctx: &Context, action: String) -> Element {
        let target = match self {
            Destination::Number(n) => Element::new("Number").text(n.clone()),
            Destination::Sip(uri) => {
                let query: String = form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(ctx.sip_headers())
                    .finish();
                let sep = if uri.contains('?') { '&' } else { '?' };
                Element::new("Sip").text(format!("{uri}{sep}{query}"))
            }
            Destination::Client(id) => {
                let mut el =
                    Element::new("Client").child(Element::new("Identity").text(id.clone()));
                for (name, value) in ctx.sip_headers() {
                    el = el.child(
                        Element::new("Parameter")
                            .attr(
                                "name",
                                name.trim_start_matches("X-Caseline-").to_ascii_lowercase(),
                            )
                            .attr("value", value),
                    );
                }
                el
            }
        };
        Element::new("Dial")
            .attr("action", action)
            .attr("method", "POST")
            .attr("timeout", "30")
            .child(target)
    }
}

/// The TwiML that hands the caller to the Customer Service Unit: `<Dial>` when
/// `CASELINE_CSU_NUMBER` is set, else `<Enqueue>` into `CASELINE_CSU_QUEUE` (with a
/// `<Task>` holding the context when a TaskRouter workflow is configured). `after` is
/// requested when the caller leaves the queue or the dial ends; `wait` plays in the queue.
/// Also answers where the caller went, for the screen pop (`queue:NAME` or the number).
/// A local agency's own line is [`crate::domain::agencies::Agency::hand_over`].
pub fn to_representative(
    settings: &Settings,
    ctx: &Context,
    after: String,
    wait: String,
) -> anyhow::Result<(Element, String)> {
    if let Some(number) = &settings.csu_number {
        let dest =
            Destination::parse(number).map_err(|e| anyhow::anyhow!("CASELINE_CSU_NUMBER: {e}"))?;
        return Ok((dest.dial(ctx, after), number.clone()));
    }
    // A caller the dialer called back goes ahead of those who have not waited: a
    // higher TaskRouter priority, or the callback queue.
    let called_back = ctx.callback_request.is_some();
    let queue = match (&settings.dialer.queue, called_back) {
        (Some(q), true) => q,
        _ => &settings.csu_queue,
    };
    let el = enqueue(
        queue,
        settings.csu_workflow_sid.as_deref(),
        ctx,
        after,
        wait,
    )?;
    Ok((el, format!("queue:{queue}")))
}

/// A destination as the screen pop names it.
pub fn dial_target(dest: &Destination) -> String {
    match dest {
        Destination::Number(n) => n.clone(),
        Destination::Sip(uri) => uri.clone(),
        Destination::Client(id) => format!("client:{id}"),
    }
}

/// `<Enqueue>` into `queue`, or through `workflow` with a `<Task>` carrying the queue's
/// name and the context.
pub fn enqueue(
    queue: &str,
    workflow: Option<&str>,
    ctx: &Context,
    after: String,
    wait: String,
) -> anyhow::Result<Element> {
    let el = Element::new("Enqueue")
        .attr("action", after)
        .attr("method", "POST")
        .attr("waitUrl", wait)
        .attr("waitUrlMethod", "POST");
    Ok(match workflow {
        Some(workflow) => {
            let mut task = Element::new("Task").text(serde_json::to_string(&TaskAttributes {
                queue,
                context: ctx,
            })?);
            if ctx.callback_request.is_some() {
                task = task.attr("priority", CALLBACK_PRIORITY);
            }
            el.attr("workflowSid", workflow.to_string()).child(task)
        }
        None => el.text(queue.to_string()),
    })
}

/// The TaskRouter priority of a caller the dialer called back (others have 0).
const CALLBACK_PRIORITY: &str = "10";

#[derive(Serialize)]
struct TaskAttributes<'a> {
    queue: &'a str,
    #[serde(flatten)]
    context: &'a Context,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::CallSid;

    fn ctx() -> Context {
        Context {
            call_sid: "CA1".into(),
            language: "es".into(),
            channel: "voice".into(),
            verified: true,
            case_number: Some("BC-1042".into()),
            role: Some("noncustodial".into()),
            topics_heard: vec!["payments".into(), "case-status".into()],
            step: Some("main-menu".into()),
            verification: "verified".into(),
            staff_entry: None,
            sent_by: None,
            callback_request: None,
            agency: None,
        }
    }

    #[test]
    fn destinations_accept_numbers_sip_and_clients_and_refuse_the_rest() {
        assert_eq!(
            Destination::parse("(866) 901-3212"),
            Ok(Destination::Number("+18669013212".into()))
        );
        assert_eq!(
            Destination::parse("+442071234567"),
            Ok(Destination::Number("+442071234567".into()))
        );
        assert_eq!(
            Destination::parse("sip:csu@pbx.example.org"),
            Ok(Destination::Sip("sip:csu@pbx.example.org".into()))
        );
        assert_eq!(
            Destination::parse("client:agent_7"),
            Ok(Destination::Client("agent_7".into()))
        );
        for bad in [
            "",
            "911",
            "sip:<x>",
            "client:",
            "http://evil",
            "tel:123",
            "client:a b",
        ] {
            assert!(Destination::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sip_dial_carries_the_context_as_x_headers() {
        let d = Destination::Sip("sip:csu@pbx.example.org".into());
        let mut r = crate::telephony::twiml::Response::new();
        r.push(d.dial(&ctx(), "https://x/after".into()));
        let xml = r.to_xml();
        assert!(xml.contains("X-Caseline-Case=BC-1042"), "{xml}");
        assert!(
            xml.contains("X-Caseline-Heard=payments%2Ccase-status"),
            "{xml}"
        );
        assert!(xml.contains("X-Caseline-Verified=yes"), "{xml}");
        assert!(
            !xml.contains("X-Caseline-Agency"),
            "no agency, no header: {xml}"
        );
        let ctx = Context {
            agency: Some("fresno".into()),
            ..ctx()
        };
        let mut r = crate::telephony::twiml::Response::new();
        r.push(d.dial(&ctx, "https://x/after".into()));
        let xml = r.to_xml();
        assert!(xml.contains("X-Caseline-Agency=fresno"), "{xml}");
    }

    #[test]
    fn staff_of_one_agency_get_back_no_case_of_another() {
        let mut s = Session::new(CallSid::parse("CA9").unwrap(), Channel::Voice, 0);
        s.verified = true;
        s.heard = vec!["payments".into()];
        s.case = Some(crate::domain::cases::CaseRef {
            case_id: 1,
            case_number: "BC-1".into(),
            role: crate::domain::cases::Role::Noncustodial,
            county: Some("Kern".into()),
        });
        let kern = Context::of(&s).for_staff_of(Some("kern"), Some("kern"));
        assert_eq!(kern.case_number.as_deref(), Some("BC-1"));
        assert_eq!(kern.topics_heard, ["payments"]);
        let statewide = Context::of(&s).for_staff_of(None, Some("kern"));
        assert_eq!(statewide.case_number.as_deref(), Some("BC-1"));
        let fresno = Context::of(&s).for_staff_of(Some("fresno"), Some("kern"));
        assert!(fresno.verified, "they still learn the caller verified");
        assert_eq!((fresno.case_number, fresno.role), (None, None));
        assert!(fresno.topics_heard.is_empty());
    }

    #[test]
    fn context_leaves_out_an_unverified_callers_case() {
        let mut s = Session::new(CallSid::parse("CA9").unwrap(), Channel::Voice, 0);
        s.case = Some(crate::domain::cases::CaseRef {
            case_id: 1,
            case_number: "BC-1".into(),
            role: crate::domain::cases::Role::Noncustodial,
            county: None,
        });
        let c = Context::of(&s);
        assert!(!c.verified);
        assert_eq!(c.case_number, None);
        assert_eq!(c.language, "none");
    }
}
