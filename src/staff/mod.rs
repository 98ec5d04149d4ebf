//! Customer service staff: accounts (argon2id passwords), login sessions (opaque tokens,
//! only their SHA-256 stored, 8 hours), lockout after wrong passwords, and roles. The
//! HTTP side is [`api`]; the console page is [`console`].

pub mod api;
pub mod calls;
pub mod console;
mod reports;
mod requests;
pub mod scope;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::domain::agencies::Agencies;
use crate::domain::verify::Hasher;
use crate::state::Services;
pub use crate::store::staff::{Account, Credentials, Role, Staff};
use crate::store::{AuditLine, Guard, Limit, Reservation, Slot, Store};
pub use scope::{Scope, check_agency};

/// How long a login lasts.
pub const SESSION_SECS: i64 = 8 * 3600;
/// Wrong passwords in a row that lock an account, and for how long.
pub const LOCK_AFTER: u32 = 5;
pub const LOCK_SECS: i64 = 15 * 60;
/// Wrong passwords from one address within [`ADDRESS_WINDOW_SECS`] before that address
/// is turned away for a while (someone trying many accounts).
pub const ADDRESS_LIMIT: u32 = 20;
pub const ADDRESS_WINDOW_SECS: i64 = 15 * 60;

/// Everything that can go wrong at the staff boundary, each with its HTTP status and a
/// message fit to show (never a secret or an internal detail).
#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    #[error("sign in first")]
    Unauthenticated,
    #[error("wrong name or password")]
    BadLogin,
    #[error("this account is locked after too many wrong passwords; try again in {0} minutes")]
    Locked(i64),
    #[error("too many wrong passwords from this address; try again later")]
    TooManyFromAddress,
    #[error("your role ({0}) cannot do this")]
    Forbidden(&'static str),
    #[error("your account sees its own agency's records only")]
    OtherAgency,
    #[error("only a statewide account can do this: it reaches every agency")]
    StatewideOnly,
    #[error("{0}")]
    BadRequest(String),
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{message}")]
    Provider {
        status: u16,
        code: &'static str,
        message: String,
    },
    #[error("the server could not answer in time; try again in a moment")]
    TimedOut,
    #[error("something went wrong on our side; it has been logged")]
    Internal(#[from] anyhow::Error),
}

fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new opaque token: 244 random bits from the operating system (two v4 UUIDs).
fn new_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Checks a password rule once, for `staff add` and any later password change.
pub fn check_password(password: &str) -> Result<(), String> {
    if password.chars().count() < 12 {
        return Err("a password needs at least 12 characters".into());
    }
    if password.len() > 256 {
        return Err("a password has at most 256 bytes".into());
    }
    Ok(())
}

/// A staff name: letters, digits, `.`, `-`, `_`; 2 to 64 characters.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = (2..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c));
    if ok {
        Ok(())
    } else {
        Err("a name has 2 to 64 letters, digits, '.', '-' or '_'".into())
    }
}

/// Creates an account (the hash is made on a blocking thread). Takes only what it
/// uses, so the `staff add` command needs no flows, prompts or webhook keys.
pub async fn add(
    store: &Store,
    hasher: &Hasher,
    now: i64,
    name: &str,
    role: Role,
    agency: Option<&str>,
    password: &str,
) -> anyhow::Result<i64> {
    check_name(name).map_err(anyhow::Error::msg)?;
    check_password(password).map_err(anyhow::Error::msg)?;
    let hasher = hasher.clone();
    let pw = password.as_bytes().to_vec();
    let hash = tokio::task::spawn_blocking(move || hasher.hash_bytes(&pw)).await??;
    let id = store.staff().add(name, role, agency, &hash, now).await?;
    store
        .audit_log()
        .write(AuditLine::by_staff(
            now,
            Some(name),
            "staff.add",
            &account_words(role, agency),
        ))
        .await?;
    Ok(id)
}

/// An account's role and agency as the audit line and `staff list` say them:
/// `agent, agency fresno` or `supervisor, statewide`.
pub fn account_words(role: Role, agency: Option<&str>) -> String {
    match agency {
        Some(id) => format!("{}, agency {id}", role.as_str()),
        None => format!("{}, statewide", role.as_str()),
    }
}

/// The answer to a good login.
#[derive(Debug, Serialize)]
pub struct Login {
    pub token: String,
    /// RFC 3339.
    pub expires_at: String,
    pub name: String,
    pub role: Role,
    /// The agency the account works for (its id), none for a statewide account, and its
    /// name as the agencies file gives it.
    pub agency: Option<String>,
    pub agency_name: Option<String>,
}

/// The English name of agency `id` in the agencies file (the id itself when the file no
/// longer has it).
pub fn agency_name(agencies: Option<&Agencies>, id: Option<&str>) -> Option<String> {
    let id = id?;
    Some(
        agencies
            .and_then(|a| a.by_id(id))
            .map_or_else(|| id.to_string(), |a| a.name_en.clone()),
    )
}

/// The per-name limit: [`LOCK_AFTER`] wrong passwords within [`LOCK_SECS`] lock the
/// name for [`LOCK_SECS`].
const NAME_LIMIT: Limit = Limit {
    max: LOCK_AFTER,
    window_secs: LOCK_SECS,
    lock_secs: LOCK_SECS,
};

/// The per-address limit: [`ADDRESS_LIMIT`] wrong passwords within
/// [`ADDRESS_WINDOW_SECS`] turn the address away for as long.
const ADDRESS_LIMIT_RULE: Limit = Limit {
    max: ADDRESS_LIMIT,
    window_secs: ADDRESS_WINDOW_SECS,
    lock_secs: ADDRESS_WINDOW_SECS,
};

fn minutes_until(until: Option<i64>, now: i64) -> i64 {
    until.map_or(LOCK_SECS / 60, |u| (u - now + 59) / 60)
}

/// Checks a name and password.
///
/// Each guess is counted against the address and against the name *before* the
/// argon2 check ([`Store::reserve_attempt`](crate::store::Attempts::reserve)), so
/// a burst of simultaneous guesses gets at most the limit of checks, and a right
/// password is refused if concurrent wrong ones locked the name meanwhile. Names are
/// counted whether or not an account has them, and unknown names cost the same argon2
/// check, so a locked account and an unknown name answer alike.
pub async fn login(
    s: &Services,
    name: &str,
    password: &str,
    address: &str,
) -> Result<Login, StaffError> {
    let now = s.line.now();
    let by_address = Guard::StaffAddress;
    let by_name = Guard::StaffName;
    if let Reservation::Refused(_) = s
        .line
        .store
        .attempts()
        .reserve(by_address, address, now, ADDRESS_LIMIT_RULE)
        .await?
    {
        return Err(StaffError::TooManyFromAddress);
    }
    if let Reservation::Refused(until) = s
        .line
        .store
        .attempts()
        .reserve(by_name, name, now, NAME_LIMIT)
        .await?
    {
        // Not checked, so it does not count against the address.
        s.line.store.attempts().release(by_address, address).await?;
        return Err(StaffError::Locked(minutes_until(until, now)));
    }
    // Given back if this request is cancelled before its check is counted.
    let address_slot = Slot::new(&s.line.store, by_address, address);
    let name_slot = Slot::new(&s.line.store, by_name, name);
    let account = s.line.store.staff().credentials(name).await?;
    let hash = account.as_ref().map(|a| a.password_hash.clone());
    let secret = (password.len() <= 256).then(|| password.as_bytes().to_vec());
    let ok = s.line.hasher.verify_bytes(secret, hash).await?;
    let account = match account {
        Some(a) if ok && !a.disabled => {
            // A right password does not count against the office's shared address,
            // even when the name turns out locked.
            s.line.store.attempts().release(by_address, address).await?;
            address_slot.settle();
            let unlocked = s
                .line
                .store
                .attempts()
                .succeeded(by_name, name, now)
                .await?;
            name_slot.settle();
            if !unlocked {
                let until = s.line.store.attempts().lock_of(by_name, name, now).await?;
                return Err(StaffError::Locked(minutes_until(until, now)));
            }
            a
        }
        other => {
            let locked = s
                .line
                .store
                .attempts()
                .failed(by_name, name, now, NAME_LIMIT)
                .await?;
            name_slot.settle();
            s.line
                .store
                .attempts()
                .failed(by_address, address, now, ADDRESS_LIMIT_RULE)
                .await?;
            address_slot.settle();
            // Written for unknown names too, so both take the same time.
            s.line
                .store
                .audit_log()
                .write(AuditLine::by_staff(
                    now,
                    other.as_ref().map(|a| a.name.as_str()),
                    "staff.login",
                    "failed",
                ))
                .await?;
            return Err(if locked {
                StaffError::Locked(LOCK_SECS / 60)
            } else {
                StaffError::BadLogin
            });
        }
    };
    let token = new_token();
    let expires = now + SESSION_SECS;
    s.line
        .store
        .staff()
        .start_session(&token_hash(&token), account.id, now, expires)
        .await?;
    s.line
        .store
        .audit_log()
        .write(AuditLine::by_staff(
            now,
            Some(&account.name),
            "staff.login",
            "ok",
        ))
        .await?;
    Ok(Login {
        token,
        expires_at: chrono::DateTime::from_timestamp(expires, 0)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        agency_name: agency_name(s.line.agencies.as_ref(), account.agency.as_deref()),
        agency: account.agency,
        name: account.name,
        role: account.role,
    })
}

/// The staff member a token belongs to, if it is current.
pub async fn authenticate(s: &Services, token: &str) -> Result<Staff, StaffError> {
    if token.is_empty() || token.len() > 128 {
        return Err(StaffError::Unauthenticated);
    }
    s.line
        .store
        .staff()
        .for_token(&token_hash(token), s.line.now())
        .await?
        .ok_or(StaffError::Unauthenticated)
}

pub async fn logout(s: &Services, staff: &Staff, token: &str) -> Result<(), StaffError> {
    s.line
        .store
        .staff()
        .revoke_session(&token_hash(token), s.line.now())
        .await?;
    s.line
        .store
        .audit_log()
        .write(AuditLine::by_staff(
            s.line.now(),
            Some(&staff.name),
            "staff.logout",
            "ok",
        ))
        .await?;
    Ok(())
}

impl Staff {
    /// Refuses unless the staff member's role is `at_least`.
    pub fn require(&self, at_least: Role) -> Result<(), StaffError> {
        if self.role >= at_least {
            Ok(())
        } else {
            Err(StaffError::Forbidden(self.role.as_str()))
        }
    }

    /// Refuses unless the account is statewide: what reaches every agency at once (the
    /// announcement callers hear, the dialer's pause, the audit table of every agency's
    /// work, the accounts, where an admin of one agency could make a statewide account)
    /// is not one agency's to change or read.
    pub fn require_statewide(&self) -> Result<(), StaffError> {
        match self.agency {
            None => Ok(()),
            Some(_) => Err(StaffError::StatewideOnly),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_names_and_passwords_checked() {
        assert!(Role::Admin > Role::Supervisor && Role::Supervisor > Role::Agent);
        assert_eq!(Role::parse("supervisor"), Some(Role::Supervisor));
        assert_eq!(Role::parse("root"), None);
        assert!(check_name("dana.w").is_ok());
        assert!(check_name("a").is_err() && check_name("dana w").is_err());
        assert!(check_password("short").is_err());
        assert!(check_password("a long enough passphrase").is_ok());
        let t = new_token();
        assert_eq!(t.len(), 64);
        assert_ne!(token_hash(&t), t);
    }
}
