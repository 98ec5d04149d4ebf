//! Proving who the caller is: SSN, then PAR ID.
//!
//! - The SSN is never stored or logged: it becomes a keyed blind index (HMAC-SHA256
//!   under `CASELINE_BLIND_INDEX_KEY`) at once, and only that index is kept, even in
//!   the call's session between the two questions.
//! - The PAR ID is checked against its argon2id hash on the blocking pool, behind a
//!   semaphore the size of the core count, so verifications never stall the webhooks.
//! - An unknown SSN is checked against a dummy hash made at start with the same
//!   parameters: it sounds the same and takes the same time as a wrong PAR ID.
//! - Failures count per SSN index across calls and servers (in the database); enough of
//!   them lock that SSN, whether or not it exists.

use std::sync::Arc;

use anyhow::{Context, anyhow};
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tokio::sync::Semaphore;

use crate::config::{HashCost, Lockout};
use crate::session::VerifyOutcome;
use crate::store::{AuditLine, Guard, Reservation, Slot, Store};

/// Nine SSN digits. No `Debug` or `Display`: the digits cannot reach a log by accident.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Ssn([u8; 9]);

impl Ssn {
    /// Nine digits, with or without dashes or spaces.
    pub fn parse(s: &str) -> Option<Ssn> {
        let mut out = [0u8; 9];
        let mut n = 0;
        for c in s.chars() {
            match c {
                '0'..='9' if n < 9 => {
                    out[n] = c as u8;
                    n += 1;
                }
                '-' | ' ' => {}
                _ => return None,
            }
        }
        (n == 9).then_some(Ssn(out))
    }

    fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Ssn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ssn(<redacted>)")
    }
}

/// A participant ID: digits only. No `Debug` or `Display` of the digits.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ParId(String);

impl ParId {
    /// 4 to 16 digits (the agency's are 10).
    pub fn parse(s: &str) -> Option<ParId> {
        let s = s.trim().trim_end_matches('#');
        let ok = (4..=16).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
        ok.then(|| ParId(s.to_string()))
    }

    fn bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl std::fmt::Debug for ParId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ParId(<redacted>)")
    }
}

/// The keyed blind index: equal inputs give equal indexes, and without the key the
/// index says nothing about the number.
#[derive(Clone)]
pub struct BlindIndex {
    key: Arc<Vec<u8>>,
}

impl std::fmt::Debug for BlindIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlindIndex { .. }")
    }
}

impl BlindIndex {
    /// The key must be at least 32 bytes (e.g. 64 hex characters).
    pub fn new(key: &str) -> anyhow::Result<BlindIndex> {
        if key.len() < 32 {
            return Err(anyhow!(
                "CASELINE_BLIND_INDEX_KEY must be at least 32 characters (use 64 random hex digits)"
            ));
        }
        Ok(BlindIndex {
            key: Arc::new(key.as_bytes().to_vec()),
        })
    }

    fn mac(&self, domain: &[u8], value: &[u8]) -> String {
        // Domain-separated so an SSN and a PAR ID with the same digits index differently.
        match <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key) {
            Ok(mut mac) => {
                mac.update(domain);
                mac.update(value);
                mac.finalize()
                    .into_bytes()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect()
            }
            Err(_) => String::new(),
        }
    }

    /// A fingerprint of the key, stored with the data: an HMAC of a fixed label, which
    /// tells two keys apart and says nothing of either.
    pub fn fingerprint(&self) -> String {
        let mut mac = self.mac(b"fingerprint:", b"caseline blind index key");
        mac.truncate(32);
        mac
    }

    /// A calling number, for counting repeat callers without keeping the number.
    pub fn caller(&self, number: &str) -> String {
        self.mac(b"caller:", number.as_bytes())
    }

    pub fn ssn(&self, ssn: &Ssn) -> String {
        self.mac(b"ssn:", ssn.bytes())
    }

    pub fn par(&self, par: &ParId) -> String {
        self.mac(b"par:", par.bytes())
    }
}

/// Hashes and checks PAR IDs with argon2id, off the async runtime.
#[derive(Clone)]
pub struct Hasher {
    argon: Argon2<'static>,
    dummy: Arc<String>,
    permits: Arc<Semaphore>,
    checks: Arc<std::sync::atomic::AtomicU64>,
}

impl Hasher {
    pub fn new(cost: HashCost) -> anyhow::Result<Hasher> {
        let params = Params::new(cost.memory_kib, cost.iterations, 1, None)
            .map_err(|e| anyhow!("bad argon2 parameters: {e}"))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let dummy = argon
            .hash_password(b"not-a-participant")
            .map_err(|e| anyhow!("argon2: {e}"))?
            .to_string();
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Ok(Hasher {
            argon,
            dummy: Arc::new(dummy),
            permits: Arc::new(Semaphore::new(cores)),
            checks: Arc::default(),
        })
    }

    /// How many argon2 checks have run (each costs the same, known participant or not).
    pub fn checks(&self) -> u64 {
        self.checks.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A PHC string for a PAR ID (blocking: call from a blocking thread or at import).
    pub fn hash(&self, par: &ParId) -> anyhow::Result<String> {
        self.hash_bytes(par.bytes())
    }

    /// A PHC string for any secret (a staff password). Blocking.
    pub fn hash_bytes(&self, secret: &[u8]) -> anyhow::Result<String> {
        self.argon
            .hash_password(secret)
            .map(|h| h.to_string())
            .map_err(|e| anyhow!("argon2: {e}"))
    }

    /// Checks `par` against `hash`, or against the dummy when there is none, so both
    /// cases cost the same. Runs on the blocking pool, at most one per core at a time.
    pub async fn verify(&self, par: Option<ParId>, hash: Option<String>) -> anyhow::Result<bool> {
        self.verify_bytes(par.map(|p| p.bytes().to_vec()), hash)
            .await
    }

    /// [`Hasher::verify`] for any secret (a staff password); the same cost either way.
    pub async fn verify_bytes(
        &self,
        secret: Option<Vec<u8>>,
        hash: Option<String>,
    ) -> anyhow::Result<bool> {
        let _permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .context("verification pool closed")?;
        self.checks
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let argon = self.argon.clone();
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy.as_str().to_string());
        let input = secret.unwrap_or_else(|| b"-".to_vec());
        let ok = tokio::task::spawn_blocking(move || {
            argon.verify_password(&input, hash.as_str()).is_ok()
        })
        .await
        .context("verification task failed")?;
        Ok(ok && known)
    }
}

/// What the two verification steps use, and nothing else: the steps can be run (and
/// tested) without a server.
pub struct Checks<'a> {
    pub store: &'a Store,
    pub blind: &'a BlindIndex,
    pub hasher: &'a Hasher,
    pub lockout: Lockout,
    /// Unix seconds.
    pub now: i64,
}

/// The SSN question. Answers `nomatch` for something that is not nine digits (the flow
/// asks again), `locked` for a locked SSN (existing or not: it says nothing about which),
/// and otherwise `ok`, keeping only the SSN's blind index for the next question.
pub async fn check_ssn(
    c: &Checks<'_>,
    session: &mut crate::session::Session,
    entered: &str,
) -> anyhow::Result<&'static str> {
    let Some(ssn) = Ssn::parse(entered) else {
        return Ok(crate::telephony::input::NO_MATCH);
    };
    let index = c.blind.ssn(&ssn);
    let now = c.now;
    if c.store
        .attempts()
        .lock_of(Guard::Ssn, &index, now)
        .await?
        .is_some()
    {
        c.store
            .audit_log()
            .write(AuditLine::in_call(
                now,
                Some(session.call_sid.as_str()),
                "verify",
                "locked",
            ))
            .await?;
        session.pending_ssn = None;
        return Ok("locked");
    }
    session.pending_ssn = Some(index);
    Ok("ok")
}

/// The PAR ID question. Whether the SSN is unknown or the PAR ID wrong, the same work is
/// done (one lookup, one argon2 check, one failure count, one audit line) and the same
/// outcome comes back.
pub async fn check_par(
    c: &Checks<'_>,
    session: &mut crate::session::Session,
    entered: &str,
) -> anyhow::Result<VerifyOutcome> {
    let now = c.now;
    let call = Some(session.call_sid.as_str().to_string());
    let Some(index) = session.pending_ssn.clone() else {
        // No SSN on file for this call (a stale request): ask again from the start.
        return Ok(VerifyOutcome::Failed);
    };
    let l = c.lockout;
    let limit = crate::store::Limit {
        max: l.max_failures,
        window_secs: l.window_secs,
        lock_secs: l.lock_secs,
    };
    // Counted before the check, so simultaneous calls guessing at one SSN get at most
    // `max_failures` checks between them.
    let reserved = c
        .store
        .attempts()
        .reserve(Guard::Ssn, &index, now, limit)
        .await?;
    if reserved != Reservation::Granted {
        c.store
            .audit_log()
            .write(AuditLine::in_call(now, call.as_deref(), "verify", "locked"))
            .await?;
        session.pending_ssn = None;
        return Ok(VerifyOutcome::Locked);
    }
    // Given back if this request is cancelled before its check is counted.
    let slot = Slot::new(c.store, Guard::Ssn, &index);
    let par = ParId::parse(entered);
    let found = c.store.cases().participant_by_ssn(&index).await?;
    let participant = found.as_ref().map(|(id, _)| *id);
    let matched = c.hasher.verify(par, found.map(|(_, hash)| hash)).await?;
    // A right PAR ID still fails if concurrent wrong ones locked the SSN meanwhile.
    if matched
        && c.store
            .attempts()
            .succeeded(Guard::Ssn, &index, now)
            .await?
    {
        slot.settle();
        let id = participant.ok_or_else(|| anyhow!("verified without a participant"))?;
        session.verified = true;
        session.participant = Some(id);
        session.pending_ssn = None;
        session.verify_failures = 0;
        session.cases = c.store.cases().cases_of(id).await?;
        session.case = None;
        c.store
            .audit_log()
            .write(AuditLine::in_call(now, call.as_deref(), "verify", "ok").participant(Some(id)))
            .await?;
        return Ok(VerifyOutcome::Ok);
    }
    let locked = matched
        || c.store
            .attempts()
            .failed(Guard::Ssn, &index, now, limit)
            .await?;
    slot.settle();
    session.verify_failures += 1;
    // Either way the caller starts again from the SSN, so an unknown SSN and a wrong PAR
    // ID cannot be told apart.
    session.pending_ssn = None;
    let outcome = if locked {
        VerifyOutcome::Locked
    } else if session.verify_failures >= l.tries_per_call {
        VerifyOutcome::TooMany
    } else {
        VerifyOutcome::Failed
    };
    c.store
        .audit_log()
        .write(
            AuditLine::in_call(now, call.as_deref(), "verify", outcome.as_str())
                .participant(participant),
        )
        .await?;
    Ok(outcome)
}

/// The name the blind index key's fingerprint is stored under.
const BLIND_INDEX_KEY: &str = "blind_index";

/// Refuses a blind index key other than the one the stored data was indexed with: with
/// another key no caller could verify, and an import would add every participant a
/// second time. The first server or import on an empty database records the key's
/// fingerprint; a database with participants but no fingerprint (imported before
/// fingerprints were kept) waits for `caseline adopt-key`, so a wrong key is never
/// recorded by accident.
pub async fn check_key(store: &Store, blind: &BlindIndex) -> anyhow::Result<()> {
    let mine = blind.fingerprint();
    let fingerprints = store.key_fingerprints();
    let stored = match fingerprints.get(BLIND_INDEX_KEY).await? {
        Some(stored) => stored,
        None if store.cases().has_participants().await? => anyhow::bail!(
            "this database holds participants imported before key fingerprints were kept, \
             so it cannot tell whether CASELINE_BLIND_INDEX_KEY is their key. If it is the \
             key they were imported with, record it once with `caseline adopt-key`; a \
             wrong key recorded there would leave every caller unable to verify."
        ),
        // Two first starts at once: whichever was stored first is the database's key.
        None => fingerprints.adopt(BLIND_INDEX_KEY, &mine).await?,
    };
    if stored != mine {
        anyhow::bail!(
            "CASELINE_BLIND_INDEX_KEY is not the key this database's participants were \
             imported with (its fingerprint is {mine}; the database's is {stored}). With it \
             no caller could verify, and an import would add every participant again. Set \
             CASELINE_BLIND_INDEX_KEY to the key the data was imported with (kept in your \
             secret store: see the README). If that key is lost, the indexes cannot be \
             rebuilt: import the extract into a new, empty database with the new key."
        );
    }
    Ok(())
}

/// `caseline adopt-key`: records `blind`'s fingerprint as the database's, replacing any.
pub async fn adopt_key(store: &Store, blind: &BlindIndex) -> anyhow::Result<()> {
    store
        .key_fingerprints()
        .replace(BLIND_INDEX_KEY, &blind.fingerprint())
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssns_parse_with_or_without_dashes_and_never_print() {
        let a = Ssn::parse("900-45-6789").unwrap();
        let b = Ssn::parse("900456789").unwrap();
        assert!(a == b);
        assert_eq!(format!("{a:?}"), "Ssn(<redacted>)");
        for bad in [
            "12345678",
            "1234567890",
            "123-45-678x",
            "",
            "１２３４５６７８９",
        ] {
            assert!(Ssn::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(
            format!("{:?}", ParId::parse("4820193756#").unwrap()),
            "ParId(<redacted>)"
        );
        assert!(ParId::parse("48a0").is_none());
    }

    #[test]
    fn blind_indexes_are_keyed_and_domain_separated() {
        let k1 = BlindIndex::new(&"k".repeat(32)).unwrap();
        let k2 = BlindIndex::new(&"j".repeat(32)).unwrap();
        let ssn = Ssn::parse("900456789").unwrap();
        let par = ParId::parse("123456789").unwrap();
        assert_eq!(k1.ssn(&ssn), k1.ssn(&Ssn::parse("900-45-6789").unwrap()));
        assert_ne!(k1.ssn(&ssn), k2.ssn(&ssn));
        assert_ne!(k1.ssn(&ssn), k1.par(&par));
        assert_eq!(k1.ssn(&ssn).len(), 64);
        assert!(!k1.ssn(&ssn).contains("900456789"));
        assert!(BlindIndex::new("short").is_err());
    }

    #[tokio::test]
    async fn argon2_checks_right_wrong_and_unknown() {
        let h = Hasher::new(HashCost {
            memory_kib: 64,
            iterations: 1,
        })
        .unwrap();
        let par = ParId::parse("4820193756").unwrap();
        let hash = h.hash(&par).unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(!hash.contains("4820193756"));
        assert!(
            h.verify(Some(par.clone()), Some(hash.clone()))
                .await
                .unwrap()
        );
        let wrong = ParId::parse("4820193757").unwrap();
        assert!(!h.verify(Some(wrong), Some(hash)).await.unwrap());
        // Unknown participant: checked against the dummy, still false.
        assert!(!h.verify(Some(par), None).await.unwrap());
    }
}
