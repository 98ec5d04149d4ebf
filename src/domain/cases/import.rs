//! The agency's nightly extract: parsed and validated whole before anything is written
//! ([`parse`], every error listed with its JSON path; none echoes an SSN or a PAR ID),
//! then applied in one transaction ([`run`]).

use std::collections::HashMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::{Method, Role};
use crate::domain::verify::ParId;

mod parse;
pub use parse::{CaseIn, Extract, ParticipantIn, parse};

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub participants_written: usize,
    pub participants_unchanged: usize,
    pub cases_written: usize,
    pub cases_unchanged: usize,
}

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Applies a validated extract: an upsert keyed by PAR ID (its blind index) and case
/// number, in one transaction. Unchanged participants and cases (same fingerprint) are
/// not written, so re-importing the same extract changes nothing; only new participants
/// pay for an argon2 hash, computed on every core.
pub async fn run(
    store: &crate::store::Store,
    blind: &crate::domain::verify::BlindIndex,
    hasher: &crate::domain::verify::Hasher,
    extract: Extract,
    progress: &(dyn Fn(&str) + Sync),
) -> anyhow::Result<Stats> {
    use super::{CaseRow, ParticipantRow};
    let mut stats = Stats::default();
    let existing = store.cases().participant_fingerprints().await?;
    let existing_cases = store.cases().case_fingerprints().await?;

    let mut par_index: HashMap<ParId, String> = HashMap::new();
    let mut rows = Vec::new();
    let mut to_hash: Vec<(usize, ParId)> = Vec::new();
    for p in &extract.participants {
        let pi = blind.par(&p.par);
        let si = blind.ssn(&p.ssn);
        let fingerprint = sha256_hex(&format!(
            "{si}\u{1f}{}\u{1f}{}\u{1f}{}",
            p.first_name, p.last_name, p.language
        ));
        par_index.insert(p.par.clone(), pi.clone());
        match existing.get(&pi) {
            Some((_, fp)) if *fp == fingerprint => stats.participants_unchanged += 1,
            found => {
                if found.is_none() {
                    to_hash.push((rows.len(), p.par.clone()));
                }
                rows.push(ParticipantRow {
                    par_index: pi,
                    ssn_index: si,
                    par_hash: String::new(),
                    first_name: p.first_name.clone(),
                    last_name: p.last_name.clone(),
                    language: p.language.code().to_string(),
                    fingerprint,
                });
            }
        }
    }

    // argon2 for new participants, spread over the cores.
    if !to_hash.is_empty() {
        let total = to_hash.len();
        progress(&format!("hashing {total} new participant IDs"));
        let hasher = hasher.clone();
        let done = std::sync::atomic::AtomicUsize::new(0);
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let chunk = total.div_ceil(threads);
        let hashes: Vec<anyhow::Result<Vec<(usize, String)>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = to_hash
                .chunks(chunk)
                .map(|part| {
                    let hasher = &hasher;
                    let done = &done;
                    scope.spawn(move || {
                        let mut out = Vec::with_capacity(part.len());
                        for (i, par) in part {
                            out.push((*i, hasher.hash(par)?));
                            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                            if n.is_multiple_of(10_000) {
                                progress(&format!("hashed {n} of {total}"));
                            }
                        }
                        Ok(out)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("a hashing thread failed")))
                })
                .collect()
        });
        for part in hashes {
            for (i, hash) in part? {
                rows[i].par_hash = hash;
            }
        }
    }
    stats.participants_written = rows.len();

    let mut cases = Vec::new();
    for c in extract.cases {
        let members: Vec<(String, Role)> = c
            .members
            .iter()
            .map(|(p, r)| (par_index.get(p).cloned().unwrap_or_default(), *r))
            .collect();
        let disbursements: Vec<(NaiveDate, Decimal, String, Method)> = c
            .disbursements
            .iter()
            .map(|(d, a, p, m)| (*d, *a, par_index.get(p).cloned().unwrap_or_default(), *m))
            .collect();
        let canonical = format!(
            "{}|{}|{}|{}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
            c.case_number,
            c.county,
            c.status.as_str(),
            c.stage.as_str(),
            c.caseworker,
            c.monthly_support,
            c.medical_support,
            c.next_due,
            c.arrears,
            c.next_hearing.map(|t| t.to_rfc3339()),
            c.next_appointment.map(|t| t.to_rfc3339()),
            members,
            c.payments,
            disbursements,
        );
        let fingerprint = sha256_hex(&canonical);
        if existing_cases.get(&c.case_number) == Some(&fingerprint) {
            stats.cases_unchanged += 1;
            continue;
        }
        cases.push(CaseRow {
            case_number: c.case_number,
            county: c.county,
            status: c.status,
            stage: c.stage,
            caseworker: c.caseworker,
            monthly_support: c.monthly_support,
            medical_support: c.medical_support,
            next_due: c.next_due,
            arrears: c.arrears,
            next_hearing: c.next_hearing,
            next_appointment: c.next_appointment,
            fingerprint,
            members,
            payments: c.payments,
            disbursements,
        });
    }
    stats.cases_written = cases.len();
    if !rows.is_empty() || !cases.is_empty() {
        let total = rows.len() + cases.len();
        progress(&format!(
            "writing {} participants and {} cases",
            rows.len(),
            cases.len()
        ));
        store
            .cases()
            .apply_import(&rows, &cases, &|n| {
                progress(&format!("written {n} of {total}"))
            })
            .await?;
    }
    Ok(stats)
}
