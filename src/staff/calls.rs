//! Live calls as staff see them, and moving a caller into the IVR. Only what a
//! representative needs to find the caller on their line and help them: the calling
//! number's last four digits, where the caller is in plain words, language, verified or
//! not, case number and role. Never an SSN, a PAR ID or the whole calling number.

use serde::Serialize;

use super::{Scope, Staff, StaffError};
use crate::domain::agencies;
use crate::domain::transfer::Destination;
use crate::session::{CallSid, Session, StaffEntry, StaffTransfer};
use crate::state::Services;
use crate::store::AuditLine;
use crate::telephony::provider::ProviderError;
use crate::words::prompts::{Catalog, Channel, Lang};

#[derive(Debug, Serialize)]
pub struct CallView {
    pub call_sid: String,
    /// The calling number's last four digits (none when withheld), so an agent can tell
    /// which row is the caller on their line.
    pub caller_ending: Option<String>,
    /// The flow step the caller is in.
    pub step: Option<String>,
    /// Where the caller is, in plain words in the agent's language ("entering their
    /// SSN", from the prompt catalog's `where` table).
    pub doing: String,
    pub language: Option<String>,
    pub channel: &'static str,
    pub verified: bool,
    pub case_number: Option<String>,
    pub role: Option<String>,
    pub seconds_in_call: i64,
    /// Set while a staff member waits to get this caller back.
    pub sent_by: Option<String>,
    pub staff_entry: Option<StaffEntry>,
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

fn view(s: &Session, now: i64, catalog: &Catalog, lang: Lang) -> CallView {
    let case = s.case.as_ref().filter(|_| s.verified);
    CallView {
        call_sid: s.call_sid.to_string(),
        caller_ending: s.caller.as_deref().map(last_four),
        step: s.step.clone(),
        doing: doing(catalog, s.step.as_deref(), lang),
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
        staff_entry: s.staff_transfer.as_ref().map(|t| t.entry),
    }
}

/// The last four characters of a number (it is E.164: `+` and digits).
fn last_four(number: &str) -> String {
    let cut = number.len().saturating_sub(4);
    number.get(cut..).unwrap_or_default().to_string()
}

/// Where a caller at `step` is, in plain words: the catalog's `where.<step>`, or the
/// longest start of the step id it has (`payments-receiving` is `where.payments`), or
/// `where.other`.
pub fn doing(catalog: &Catalog, step: Option<&str>, lang: Lang) -> String {
    let words = |id: &str| {
        catalog
            .texts(&format!("where.{id}"))
            .into_iter()
            .find(|(l, c, _)| *l == lang && *c == Channel::Voice)
            .map(|(_, _, text)| text)
    };
    let mut id = step.unwrap_or("");
    loop {
        if !id.is_empty()
            && let Some(text) = words(id)
        {
            return text;
        }
        match id.rsplit_once('-') {
            Some((head, _)) => id = head,
            None => return words("other").unwrap_or_default(),
        }
    }
}

/// The live calls in `scope`, described in `lang`. A call's agency is the one its
/// records would belong to ([`agencies::of_call`]: routed, else the verified case's
/// county's), so a caller who verifies into another county's case moves to that
/// agency's list. A local account's list is looked for by its agency in the database
/// (the 500 newest of its own, not of the state's), then checked here.
pub async fn live(s: &Services, lang: Lang, scope: &Scope) -> Result<Vec<CallView>, StaffError> {
    let now = s.line.now();
    let agencies = s.line.agencies.as_ref();
    Ok(s.line
        .store
        .sessions()
        .live(now, scope.agency())
        .await?
        .iter()
        .filter(|c| scope.sees(agencies::of_call(agencies, c).as_deref()))
        .map(|c| view(c, now, &s.line.catalog, lang))
        .collect())
}

/// The live call `sid` in `scope`. Another agency's call answers as one that is not
/// there; so does an ended call to a local account (whose it was is not read).
async fn live_session(s: &Services, scope: &Scope, sid: &str) -> Result<Session, StaffError> {
    let not_found = || StaffError::NotFound("no live call with that id".into());
    let sid = CallSid::parse(sid).ok_or_else(not_found)?;
    if s.line.store.sessions().ended(&sid).await?.is_some() {
        return Err(match scope {
            Scope::All => StaffError::NotFound("that call has ended".into()),
            Scope::Agency(_) => not_found(),
        });
    }
    s.line
        .store
        .sessions()
        .load(&sid, s.line.now(), None)
        .await?
        .filter(|c| scope.sees(agencies::of_call(s.line.agencies.as_ref(), c).as_deref()))
        .ok_or_else(not_found)
}

pub async fn detail(s: &Services, scope: &Scope, sid: &str) -> Result<CallDetail, StaffError> {
    let session = live_session(s, scope, sid).await?;
    Ok(CallDetail {
        call: view(&session, s.line.now(), &s.line.catalog, Lang::En),
        verification: crate::domain::transfer::verification(&session),
        failed_attempts: session.verify_failures,
        topics_heard: session.heard.clone(),
    })
}

#[derive(Debug, Serialize)]
pub struct Moved {
    pub call_sid: String,
    pub entry: StaffEntry,
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
    let Some(entry) = StaffEntry::parse(entry) else {
        return Err(StaffError::BadRequest(format!(
            "entry must be one of: {}",
            StaffEntry::words()
        )));
    };
    let dest = Destination::parse_return_to(return_to).map_err(StaffError::BadRequest)?;
    let return_to = crate::domain::transfer::dial_target(&dest);
    let session = live_session(s, &Scope::of(staff), sid).await?;
    let handoff = StaffTransfer {
        entry,
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
        entry,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> Catalog {
        Catalog::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts"))
            .expect("the shipped prompts")
    }

    #[test]
    fn a_step_is_described_by_its_id_or_the_longest_start_of_it() {
        let c = shipped();
        assert_eq!(doing(&c, Some("ask-ssn"), Lang::En), "entering their SSN");
        assert_eq!(
            doing(&c, Some("payments-receiving"), Lang::En),
            "hearing payments"
        );
        assert_eq!(
            doing(&c, Some("payments-receiving"), Lang::Es),
            "escuchando sus pagos"
        );
        assert_eq!(
            doing(&c, Some("nowhere-known"), Lang::En),
            "in the phone menus"
        );
        assert_eq!(doing(&c, None, Lang::En), "in the phone menus");
        assert_eq!(last_four("+15592310123"), "0123");
    }

    /// Every step of the shipped flows has words of its own (not the fallback), in
    /// both languages, so an agent never reads a bare step id.
    #[test]
    fn every_shipped_step_is_described_in_both_languages() {
        let c = shipped();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("call-flows");
        let mut steps = 0;
        for file in std::fs::read_dir(dir).unwrap() {
            let path = file.unwrap().path();
            if path.extension().is_none_or(|e| e != "xml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for id in text
                .split(" id=\"")
                .skip(1)
                .filter_map(|s| s.split('"').next())
            {
                steps += 1;
                for lang in Lang::ALL {
                    let other = doing(&c, None, lang);
                    assert_ne!(doing(&c, Some(id), lang), other, "{id} in {lang}");
                }
            }
        }
        assert!(steps > 100, "{steps} steps read");
    }
}
