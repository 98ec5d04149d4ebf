//! The case tables: what a case is, in the words of the agency's extract, and its
//! queries, one indexed statement each, the same on both stores: money is kept as
//! integer cents, dates as ISO text and times as RFC 3339 text on both (PostgreSQL's
//! migration 0015 brought its NUMERIC, DATE and TIMESTAMPTZ columns to that).

use std::collections::HashMap;

use anyhow::{Context, anyhow};
use chrono::{DateTime, FixedOffset, NaiveDate};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::backend::{Backend, on_backend};
use super::{Cases, on_both, run};
use crate::session::{CaseRef, Role, ending, word_enum};

word_enum!(
    /// The ten steps of a child support case.
    Stage {
        Enrollment = "enrollment",
        Locate = "locate",
        SummonsAndComplaint = "summons_and_complaint",
        Parentage = "parentage",
        StipulatedAgreement = "stipulated_agreement",
        CourtOrder = "court_order",
        Payments = "payments",
        Enforcement = "enforcement",
        Modification = "modification",
        Closing = "closing",
    }
);
word_enum!(
    /// Where a payment came from.
    Source {
        WageWithholding = "wage_withholding",
        TaxRefundIntercept = "tax_refund_intercept",
        UnemploymentBenefits = "unemployment_benefits",
        DirectPayment = "direct_payment",
        Other = "other",
    }
);
word_enum!(
    /// How money was sent to a receiving parent.
    Method { EpcCard = "epc_card", DirectDeposit = "direct_deposit", Check = "check" }
);
word_enum!(
    CaseStatus { Open = "open", Closed = "closed" }
);

/// A case as the IVR reads it back.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub id: i64,
    pub case_number: String,
    pub county: String,
    pub status: CaseStatus,
    pub stage: Stage,
    pub caseworker: Option<String>,
    pub monthly_support: Option<Decimal>,
    pub medical_support: Option<bool>,
    pub next_due: Option<NaiveDate>,
    pub arrears: Option<Decimal>,
    pub next_hearing: Option<DateTime<FixedOffset>>,
    pub next_appointment: Option<DateTime<FixedOffset>>,
}

impl Case {
    /// The last four digits, which callers use to tell their cases apart.
    pub fn ending(&self) -> &str {
        ending(&self.case_number)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Payment {
    pub received_on: NaiveDate,
    pub amount: Decimal,
    pub source: Source,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Disbursement {
    pub paid_on: NaiveDate,
    pub amount: Decimal,
    pub method: Method,
}

/// A participant row to write.
#[derive(Debug, Clone)]
pub struct ParticipantRow {
    pub par_index: String,
    pub ssn_index: String,
    /// Only for new participants; an existing one keeps its hash (same PAR ID).
    pub par_hash: String,
    pub first_name: String,
    pub last_name: String,
    pub language: String,
    pub fingerprint: String,
}

/// A case to write, with its members, payments and disbursements (replacing the old).
#[derive(Debug, Clone)]
pub struct CaseRow {
    pub case_number: String,
    pub county: String,
    pub status: CaseStatus,
    pub stage: Stage,
    pub caseworker: Option<String>,
    pub monthly_support: Option<Decimal>,
    pub medical_support: Option<bool>,
    pub next_due: Option<NaiveDate>,
    pub arrears: Option<Decimal>,
    pub next_hearing: Option<DateTime<FixedOffset>>,
    pub next_appointment: Option<DateTime<FixedOffset>>,
    pub fingerprint: String,
    /// (participant's par_index, role)
    pub members: Vec<(String, Role)>,
    pub payments: Vec<(NaiveDate, Decimal, Source)>,
    /// (paid on, amount, recipient's par_index, method)
    pub disbursements: Vec<(NaiveDate, Decimal, String, Method)>,
}

/// The same on both stores: a participant keeps its PAR ID hash when it already exists.
const UPSERT_PARTICIPANT: &str = "INSERT INTO participants (par_index, ssn_index, par_hash, first_name, last_name, language, fingerprint) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (par_index) DO UPDATE SET \
             ssn_index = excluded.ssn_index, first_name = excluded.first_name, \
             last_name = excluded.last_name, language = excluded.language, fingerprint = excluded.fingerprint \
             RETURNING id";

/// A case, inserted or updated in place (its row id stays).
const UPSERT_CASE: &str = "INSERT INTO cases (case_number, county, status, stage, caseworker, \
    monthly_support_cents, medical_support, next_due, arrears_cents, next_hearing, next_appointment, \
    fingerprint) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
    ON CONFLICT (case_number) DO UPDATE SET county = excluded.county, status = excluded.status, \
    stage = excluded.stage, caseworker = excluded.caseworker, \
    monthly_support_cents = excluded.monthly_support_cents, medical_support = excluded.medical_support, \
    next_due = excluded.next_due, arrears_cents = excluded.arrears_cents, \
    next_hearing = excluded.next_hearing, next_appointment = excluded.next_appointment, \
    fingerprint = excluded.fingerprint RETURNING id";

const SELECT_PARTICIPANT: &str = "SELECT id FROM participants WHERE par_index = $1";
const INSERT_MEMBER: &str =
    "INSERT INTO case_members (participant_id, case_id, role) VALUES ($1, $2, $3)";
const INSERT_PAYMENT: &str =
    "INSERT INTO payments (case_id, received_on, amount_cents, source) VALUES ($1, $2, $3, $4)";
const INSERT_DISBURSEMENT: &str = "INSERT INTO disbursements (case_id, participant_id, paid_on, \
    amount_cents, method) VALUES ($1, $2, $3, $4, $5)";

/// A case row as read: money in cents, dates and times as text.
type CaseColumns = (
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<i64>,
    Option<bool>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
);

/// A case's children, replaced whole by each import of the case.
const CLEAR_CASE: [&str; 3] = [
    "DELETE FROM case_members WHERE case_id = $1",
    "DELETE FROM payments WHERE case_id = $1",
    "DELETE FROM disbursements WHERE case_id = $1",
];

fn cents(d: Decimal) -> i64 {
    (d * Decimal::from(100)).round().to_i64().unwrap_or(0)
}

fn from_cents(c: i64) -> Decimal {
    Decimal::new(c, 2)
}

fn day(s: &str) -> anyhow::Result<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").with_context(|| "a stored date is not YYYY-MM-DD")
}

fn instant(s: Option<String>) -> anyhow::Result<Option<DateTime<FixedOffset>>> {
    s.map(|s| DateTime::parse_from_rfc3339(&s).context("a stored time is not RFC 3339"))
        .transpose()
}

/// Rows of (day, cents, word) as read, parsed; the first that does not parse fails
/// them all.
fn dated<T>(
    rows: Vec<(String, i64, String)>,
    parse: fn(&str) -> Option<T>,
) -> anyhow::Result<impl Iterator<Item = (NaiveDate, Decimal, T)>> {
    let parsed = rows
        .into_iter()
        .map(|(on, cents, w)| Ok((day(&on)?, from_cents(cents), word(&w, parse)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(parsed.into_iter())
}

fn word<T>(s: &str, parse: fn(&str) -> Option<T>) -> anyhow::Result<T> {
    parse(s).ok_or_else(|| anyhow!("unexpected stored value '{s}'"))
}

impl Cases<'_> {
    /// Whether any participant has been imported.
    pub async fn has_participants(&self) -> anyhow::Result<bool> {
        let sql = "SELECT id FROM participants LIMIT 1";
        let any: Option<i64> = run!(
            self.store,
            read,
            query_scalar(sql).fetch_optional,
            "Failed to look for participants"
        )?;
        Ok(any.is_some())
    }

    /// Every participant's blind index, row id and fingerprint (the import compares).
    pub async fn participant_fingerprints(&self) -> anyhow::Result<HashMap<String, (i64, String)>> {
        let sql = "SELECT par_index, id, fingerprint FROM participants";
        let rows: Vec<(String, i64, String)> = run!(
            self.store,
            read,
            query_as(sql).fetch_all,
            "Failed to read the participants' fingerprints"
        )?;
        Ok(rows
            .into_iter()
            .map(|(index, id, fingerprint)| (index, (id, fingerprint)))
            .collect())
    }

    pub async fn case_fingerprints(&self) -> anyhow::Result<HashMap<String, String>> {
        let sql = "SELECT case_number, fingerprint FROM cases";
        let rows: Vec<(String, String)> = run!(
            self.store,
            read,
            query_as(sql).fetch_all,
            "Failed to read the cases' fingerprints"
        )?;
        Ok(rows.into_iter().collect())
    }

    /// Writes an import in one transaction: all of it, or (on any error) none of it.
    /// `progress` is called with the number of rows written so far.
    pub async fn apply_import(
        &self,
        participants: &[ParticipantRow],
        cases: &[CaseRow],
        progress: &(dyn Fn(usize) + Sync),
    ) -> anyhow::Result<()> {
        let lift = on_backend!(self.store, |b| b.lift_statement_timeout());
        let written: anyhow::Result<()> = on_both!(
            self.store,
            write | pool | {
                async {
                    let mut tx = pool.begin().await?;
                    if let Some(lift) = lift {
                        sqlx::query(lift).execute(&mut *tx).await?;
                    }
                    // Each participant's row id by blind index: the ones written here,
                    // and those looked up for a case that names one written before.
                    let mut ids: HashMap<&str, i64> = HashMap::new();
                    macro_rules! participant_id {
                        ($par_index:expr) => {
                            match ids.get($par_index.as_str()) {
                                Some(id) => *id,
                                None => {
                                    let id: i64 = sqlx::query_scalar(SELECT_PARTICIPANT)
                                        .bind($par_index)
                                        .fetch_one(&mut *tx)
                                        .await?;
                                    ids.insert($par_index.as_str(), id);
                                    id
                                }
                            }
                        };
                    }
                    let mut done = 0usize;
                    let mut tick = || {
                        done += 1;
                        if done.is_multiple_of(10_000) {
                            progress(done);
                        }
                        done
                    };
                    for p in participants {
                        let id: i64 = sqlx::query_scalar(UPSERT_PARTICIPANT)
                            .bind(&p.par_index)
                            .bind(&p.ssn_index)
                            .bind(&p.par_hash)
                            .bind(&p.first_name)
                            .bind(&p.last_name)
                            .bind(&p.language)
                            .bind(&p.fingerprint)
                            .fetch_one(&mut *tx)
                            .await?;
                        ids.insert(p.par_index.as_str(), id);
                        tick();
                    }
                    for c in cases {
                        let case_id: i64 = sqlx::query_scalar(UPSERT_CASE)
                            .bind(&c.case_number)
                            .bind(&c.county)
                            .bind(c.status.as_str())
                            .bind(c.stage.as_str())
                            .bind(&c.caseworker)
                            .bind(c.monthly_support.map(cents))
                            .bind(c.medical_support)
                            .bind(c.next_due.map(|d| d.to_string()))
                            .bind(c.arrears.map(cents))
                            .bind(c.next_hearing.map(|t| t.to_rfc3339()))
                            .bind(c.next_appointment.map(|t| t.to_rfc3339()))
                            .bind(&c.fingerprint)
                            .fetch_one(&mut *tx)
                            .await?;
                        for sql in CLEAR_CASE {
                            sqlx::query(sql).bind(case_id).execute(&mut *tx).await?;
                        }
                        for (par_index, role) in &c.members {
                            let pid = participant_id!(par_index);
                            sqlx::query(INSERT_MEMBER)
                                .bind(pid)
                                .bind(case_id)
                                .bind(role.as_str())
                                .execute(&mut *tx)
                                .await?;
                        }
                        for (on, amount, source) in &c.payments {
                            sqlx::query(INSERT_PAYMENT)
                                .bind(case_id)
                                .bind(on.to_string())
                                .bind(cents(*amount))
                                .bind(source.as_str())
                                .execute(&mut *tx)
                                .await?;
                        }
                        for (on, amount, par_index, method) in &c.disbursements {
                            let pid = participant_id!(par_index);
                            sqlx::query(INSERT_DISBURSEMENT)
                                .bind(case_id)
                                .bind(pid)
                                .bind(on.to_string())
                                .bind(cents(*amount))
                                .bind(method.as_str())
                                .execute(&mut *tx)
                                .await?;
                        }
                        tick();
                    }
                    tx.commit().await?;
                    progress(done);
                    Ok(())
                }
                .await
            }
        );
        written.context("Failed to write the import (nothing was changed)")
    }

    /// The participant with this SSN blind index: row id and PAR ID hash.
    pub async fn participant_by_ssn(
        &self,
        ssn_index: &str,
    ) -> anyhow::Result<Option<(i64, String)>> {
        let sql = "SELECT id, par_hash FROM participants WHERE ssn_index = $1";
        run!(
            self.store,
            read,
            query_as(sql, ssn_index).fetch_optional,
            "Failed to look for the participant"
        )
    }

    /// The cases a participant is on, by case number.
    pub async fn cases_of(&self, participant_id: i64) -> anyhow::Result<Vec<CaseRef>> {
        let sql = "SELECT c.id, c.case_number, m.role, c.county FROM case_members m \
                   JOIN cases c ON c.id = m.case_id WHERE m.participant_id = $1 \
                   ORDER BY c.case_number";
        let rows: Vec<(i64, String, String, String)> = run!(
            self.store,
            read,
            query_as(sql, participant_id).fetch_all,
            "Failed to read the participant's cases"
        )?;
        rows.into_iter()
            .map(|(case_id, case_number, role, county)| {
                Ok(CaseRef {
                    case_id,
                    case_number,
                    role: word(&role, Role::parse)?,
                    county: Some(county),
                })
            })
            .collect()
    }

    /// One case.
    pub async fn case(&self, case_id: i64) -> anyhow::Result<Option<Case>> {
        let sql = "SELECT id, case_number, county, status, stage, caseworker, \
                   monthly_support_cents, medical_support, next_due, arrears_cents, \
                   next_hearing, next_appointment FROM cases WHERE id = $1";
        let row: Option<CaseColumns> = run!(
            self.store,
            read,
            query_as(sql, case_id).fetch_optional,
            "Failed to read the case"
        )?;
        let Some((
            id,
            case_number,
            county,
            status,
            stage,
            caseworker,
            monthly,
            medical,
            due,
            arrears,
            hearing,
            appointment,
        )) = row
        else {
            return Ok(None);
        };
        Ok(Some(Case {
            id,
            case_number,
            county,
            status: word(&status, CaseStatus::parse)?,
            stage: word(&stage, Stage::parse)?,
            caseworker,
            monthly_support: monthly.map(from_cents),
            medical_support: medical,
            next_due: due.map(|s| day(&s)).transpose()?,
            arrears: arrears.map(from_cents),
            next_hearing: instant(hearing)?,
            next_appointment: instant(appointment)?,
        }))
    }

    /// The latest payments received on a case, newest first.
    pub async fn payments(&self, case_id: i64, limit: i64) -> anyhow::Result<Vec<Payment>> {
        let sql = "SELECT received_on, amount_cents, source FROM payments WHERE case_id = $1 \
                   ORDER BY received_on DESC, id DESC LIMIT $2";
        let rows = run!(
            self.store,
            read,
            query_as(sql, case_id, limit).fetch_all,
            "Failed to read a case's payments"
        )?;
        dated(rows, Source::parse).map(|lines| {
            lines
                .map(|(received_on, amount, source)| Payment {
                    received_on,
                    amount,
                    source,
                })
                .collect()
        })
    }

    /// The latest payments sent to a participant on a case, newest first.
    pub async fn disbursements(
        &self,
        participant_id: i64,
        case_id: i64,
        limit: i64,
    ) -> anyhow::Result<Vec<Disbursement>> {
        let sql = "SELECT paid_on, amount_cents, method FROM disbursements \
                   WHERE participant_id = $1 AND case_id = $2 \
                   ORDER BY paid_on DESC, id DESC LIMIT $3";
        let rows = run!(
            self.store,
            read,
            query_as(sql, participant_id, case_id, limit).fetch_all,
            "Failed to read a case's disbursements"
        )?;
        dated(rows, Method::parse).map(|lines| {
            lines
                .map(|(paid_on, amount, method)| Disbursement {
                    paid_on,
                    amount,
                    method,
                })
                .collect()
        })
    }
}
