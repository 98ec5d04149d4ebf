//! Live calls as staff see them, and moving a caller into the IVR. Only what a
//! representative needs: where the caller is, language, verified or not, case number and
//! role. Never an SSN, a PAR ID or the calling number.

use serde::Serialize;

use super::{Staff, StaffError};
use crate::domain::transfer::Destination;
use crate::session::{CallSid, Session, StaffTransfer};
use crate::state::Services;
use crate::store::AuditLine;
use crate::telephony::provider::ProviderError;

use crate::call::ENTRIES;

#[derive(Debug, Serialize)]
pub struct CallView {
    pub call_sid: String,
    /// The flow step the caller is in.
    pub step: Option<String>,
    pub language: Option<String>,
    pub channel: &'static str,
    pub verified: bool,
    pub case_number: Option<String>,
    pub role: Option<String>,
    pub seconds_in_call: i64,
    /// Set while a staff member waits to get this caller back.
    pub sent_by: Option<String>,
    pub staff_entry: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct CallDetail {
    #[serde(flatten)]
    pub call: CallView,
    /// `verified`, `failed`, `too-many`, `locked` or `not-attempted`.
    pub verification: &'static str,
    pub failed_attempts: u32,
    pub topics_heard: Vec<String>,
}

fn view(s: &Session, now: i64) -> CallView {
    let case = s.case.as_ref().filter(|_| s.verified);
    CallView {
        call_sid: s.call_sid.to_string(),
        step: s.step.clone(),
        language: s.lang.map(|l| l.code().to_string()),
        channel: match s.channel {
            crate::words::prompts::Channel::Voice => "voice",
            crate::words::prompts::Channel::Tty => "tty",
        },
        verified: s.verified,
        case_number: case.map(|c| c.case_number.clone()),
        role: case.map(|c| c.role.as_str().to_string()),
        seconds_in_call: (now - s.started_at).max(0),
        sent_by: s.staff_transfer.as_ref().map(|t| t.by.clone()),
        staff_entry: s.staff_transfer.as_ref().map(|t| t.entry.clone()),
    }
}

pub async fn live(s: &Services) -> Result<Vec<CallView>, StaffError> {
    let now = s.line.now();
    Ok(s.line
        .store
        .sessions()
        .live(now)
        .await?
        .iter()
        .map(|c| view(c, now))
        .collect())
}

async fn live_session(s: &Services, sid: &str) -> Result<Session, StaffError> {
    let not_found = || StaffError::NotFound("no live call with that id".into());
    let sid = CallSid::parse(sid).ok_or_else(not_found)?;
    if s.line.store.sessions().ended(&sid).await?.is_some() {
        return Err(StaffError::NotFound("that call has ended".into()));
    }
    s.line
        .store
        .sessions()
        .load(&sid, s.line.now(), None)
        .await?
        .ok_or_else(not_found)
}

pub async fn detail(s: &Services, sid: &str) -> Result<CallDetail, StaffError> {
    let session = live_session(s, sid).await?;
    Ok(CallDetail {
        call: view(&session, s.line.now()),
        verification: crate::domain::transfer::verification(&session),
        failed_attempts: session.verify_failures,
        topics_heard: session.heard.clone(),
    })
}

#[derive(Debug, Serialize)]
pub struct Moved {
    pub call_sid: String,
    pub entry: String,
    pub return_to: String,
}

/// Sends a live caller into the IVR at `entry`, to come back to `return_to`: records
/// the hand-off in a row of its own (no webhook of the call can overwrite it), then asks
/// the provider to move the call to the entry URL naming that row. If the provider
/// refuses, the row is forgotten and nothing has changed.
pub async fn transfer(
    s: &Services,
    staff: &Staff,
    sid: &str,
    entry: &str,
    return_to: &str,
) -> Result<Moved, StaffError> {
    if !ENTRIES.contains(&entry) {
        return Err(StaffError::BadRequest(format!(
            "entry must be one of: {}",
            ENTRIES.join(", ")
        )));
    }
    let dest = Destination::parse_return_to(return_to).map_err(StaffError::BadRequest)?;
    let return_to = match dest {
        Destination::Number(n) => n,
        Destination::Sip(uri) => uri,
        Destination::Client(id) => format!("client:{id}"),
    };
    let session = live_session(s, sid).await?;
    let handoff = StaffTransfer {
        entry: entry.to_string(),
        return_to: return_to.clone(),
        by: staff.name.clone(),
        at: s.line.now(),
    };
    let id = s
        .line
        .store
        .staff()
        .add_handoff(session.call_sid.as_str(), &handoff)
        .await?;
    let url = format!(
        "{}/voice/staff/{entry}?handoff={id}",
        s.line.settings.public_url
    );
    let moved = s
        .provider
        .redirect_call(session.call_sid.as_str(), &url)
        .await;
    let outcome = match &moved {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("{e:?}"),
    };
    s.line
        .store
        .audit_log()
        .write(
            AuditLine::by_staff(
                s.line.now(),
                Some(&staff.name),
                &format!("staff.transfer.{entry}"),
                &outcome,
            )
            .call(Some(session.call_sid.as_str())),
        )
        .await?;
    if let Err(e) = moved {
        // Forget the hand-off only when the provider clearly did not move the call; after
        // a timeout or a server error it may have, and the entry webhook will want the
        // row (an unused one is swept after a day).
        let refused = matches!(
            e,
            ProviderError::NotConfigured
                | ProviderError::Unauthorized
                | ProviderError::CallNotFound
                | ProviderError::RateLimited
                | ProviderError::Refused(_)
                | ProviderError::NumberRefused(_)
        );
        if refused {
            s.line.store.staff().delete_handoff(id).await?;
        }
        return Err(provider_error(e));
    }
    Ok(Moved {
        call_sid: session.call_sid.to_string(),
        entry: entry.to_string(),
        return_to,
    })
}

pub(crate) fn provider_error(e: ProviderError) -> StaffError {
    let (status, code) = match e {
        ProviderError::NotConfigured => (503, "provider-not-configured"),
        ProviderError::Unauthorized => (502, "provider-auth"),
        ProviderError::CallNotFound => (404, "call-not-found"),
        ProviderError::RateLimited => (429, "provider-rate-limited"),
        ProviderError::Unavailable(_)
        | ProviderError::Refused(_)
        | ProviderError::NumberRefused(_) => (502, "provider-error"),
        ProviderError::Timeout => (504, "provider-timeout"),
        ProviderError::Unreachable => (502, "provider-unreachable"),
    };
    StaffError::Provider {
        status,
        code,
        message: e.to_string(),
    }
}
