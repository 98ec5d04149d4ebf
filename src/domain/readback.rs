//! Reading case data back to a verified caller, worded for their role: a paying parent
//! hears what is owed and received, a receiving parent what was sent to them. Values are
//! put in the session typed (money, dates, times in the agency's time zone) and spoken
//! by the prompts; every readback is audited.

use std::collections::BTreeMap;

use anyhow::anyhow;
use chrono::{DateTime, FixedOffset, NaiveDateTime};

use crate::domain::cases::{CaseRef, CaseStatus, Role};
use crate::session::Session;
use crate::store::AuditLine;
use crate::words::speech::Value;

/// What a readback uses, and nothing else: the store, the agency's time zone, the time.
pub struct Reading<'a> {
    pub store: &'a crate::store::Store,
    pub tz: chrono_tz::Tz,
    /// Unix seconds.
    pub now: i64,
}

/// The most cases offered in one menu (keys 1 to 9).
const MAX_CASES: usize = 9;

/// After verification: one case is chosen at once; several are offered by their last
/// four digits.
pub fn select_case(session: &mut Session) -> &'static str {
    // Once a case is chosen it stays chosen for the rest of the call.
    if session.case.is_some() {
        return "one";
    }
    match session.cases.len() {
        0 => "none",
        1 => {
            session.case = session.cases.first().cloned();
            "one"
        }
        _ => {
            let items = session
                .cases
                .iter()
                .take(MAX_CASES)
                .enumerate()
                .map(|(i, c)| {
                    BTreeMap::from([
                        ("ending".to_string(), Value::Digits(c.ending().to_string())),
                        ("key".to_string(), Value::Text((i + 1).to_string())),
                    ])
                })
                .collect();
            session.values.insert(
                "case_choices".into(),
                Value::List {
                    prompt: "cases.choice".into(),
                    items,
                },
            );
            "several"
        }
    }
}

/// The key for one of several cases; anything else is a wrong key.
pub fn choose_case(session: &mut Session, keyed: &str) -> &'static str {
    let choice = keyed
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=session.cases.len().min(MAX_CASES)).contains(n));
    match choice {
        Some(n) => {
            session.case = session.cases.get(n - 1).cloned();
            "ok"
        }
        None => crate::telephony::input::NO_MATCH,
    }
}

fn current(session: &Session) -> anyhow::Result<(i64, CaseRef)> {
    match (session.verified, session.participant, &session.case) {
        (true, Some(p), Some(c)) => Ok((p, c.clone())),
        _ => Err(anyhow!(
            "a readback without a verified caller and a chosen case"
        )),
    }
}

fn local(r: &Reading<'_>, t: DateTime<FixedOffset>) -> NaiveDateTime {
    t.with_timezone(&r.tz).naive_local()
}

/// One audit line for a readback: which call, what was read, for whom.
async fn audit(
    r: &Reading<'_>,
    session: &Session,
    event: &str,
    outcome: &str,
    participant: i64,
    case_id: Option<i64>,
) -> anyhow::Result<()> {
    let call = Some(session.call_sid.as_str());
    r.store
        .audit_log()
        .write(
            AuditLine::in_call(r.now, call, event, outcome)
                .participant(Some(participant))
                .case(case_id),
        )
        .await
}

fn heard(session: &mut Session, topic: &str) {
    if !session.heard.iter().any(|h| h == topic) {
        session.heard.push(topic.to_string());
    }
}

/// The payment readback for the chosen case.
pub async fn payments(r: &Reading<'_>, session: &mut Session) -> anyhow::Result<&'static str> {
    let (participant, case_ref) = current(session)?;
    let case = r
        .store
        .cases()
        .case(case_ref.case_id)
        .await?
        .ok_or_else(|| anyhow!("the chosen case is gone"))?;
    let v = &mut session.values;
    v.clear();
    v.insert(
        "case_ending".into(),
        Value::Digits(case.ending().to_string()),
    );
    let outcome = match case_ref.role {
        Role::Noncustodial => {
            if let Some(m) = case.monthly_support {
                v.insert("monthly_support".into(), Value::Money(m));
            }
            if let Some(p) = r
                .store
                .cases()
                .payments(case.id, 1)
                .await?
                .into_iter()
                .next()
            {
                v.insert("last_payment_amount".into(), Value::Money(p.amount));
                v.insert("last_payment_date".into(), Value::Date(p.received_on));
                v.insert(
                    "last_payment_source".into(),
                    Value::Prompt(format!("source.{}", p.source.as_str())),
                );
            }
            if let Some(a) = case.arrears {
                v.insert("arrears".into(), Value::Money(a));
            }
            if let Some(d) = case.next_due {
                v.insert("next_due".into(), Value::Date(d));
            }
            "paying"
        }
        Role::Custodial => {
            match r
                .store
                .cases()
                .disbursements(participant, case.id, 1)
                .await?
                .into_iter()
                .next()
            {
                Some(d) => {
                    v.insert("last_sent_amount".into(), Value::Money(d.amount));
                    v.insert("last_sent_date".into(), Value::Date(d.paid_on));
                    v.insert(
                        "last_sent_method".into(),
                        Value::Prompt(format!("method.{}", d.method.as_str())),
                    );
                    "receiving"
                }
                None => "none",
            }
        }
    };
    heard(session, "payments");
    audit(
        r,
        session,
        "read-payments",
        outcome,
        participant,
        Some(case.id),
    )
    .await?;
    Ok(outcome)
}

/// The last five payments received (paying parent) or sent (receiving parent).
pub async fn history(r: &Reading<'_>, session: &mut Session) -> anyhow::Result<&'static str> {
    let (participant, case_ref) = current(session)?;
    let item = |amount, date: chrono::NaiveDate, how: String, key: &str| {
        BTreeMap::from([
            ("amount".to_string(), Value::Money(amount)),
            ("date".to_string(), Value::Date(date)),
            (key.to_string(), Value::Prompt(how)),
        ])
    };
    let (outcome, list) = match case_ref.role {
        Role::Noncustodial => {
            let items: Vec<_> = r
                .store
                .cases()
                .payments(case_ref.case_id, 5)
                .await?
                .into_iter()
                .map(|p| {
                    item(
                        p.amount,
                        p.received_on,
                        format!("source.{}", p.source.as_str()),
                        "source",
                    )
                })
                .collect();
            (
                "paying",
                Value::List {
                    prompt: "history.received".into(),
                    items,
                },
            )
        }
        Role::Custodial => {
            let items: Vec<_> = r
                .store
                .cases()
                .disbursements(participant, case_ref.case_id, 5)
                .await?
                .into_iter()
                .map(|d| {
                    item(
                        d.amount,
                        d.paid_on,
                        format!("method.{}", d.method.as_str()),
                        "method",
                    )
                })
                .collect();
            (
                "receiving",
                Value::List {
                    prompt: "history.sent".into(),
                    items,
                },
            )
        }
    };
    let empty = matches!(&list, Value::List { items, .. } if items.is_empty());
    session.values.insert("history".into(), list);
    let outcome = if empty { "none" } else { outcome };
    heard(session, "payment-history");
    audit(
        r,
        session,
        "read-history",
        outcome,
        participant,
        Some(case_ref.case_id),
    )
    .await?;
    Ok(outcome)
}

/// Case status: the case's ending, county, stage in plain words, the next hearing or
/// appointment, the caseworker; or that it is closed.
pub async fn case_status(r: &Reading<'_>, session: &mut Session) -> anyhow::Result<&'static str> {
    let (participant, case_ref) = current(session)?;
    let case = r
        .store
        .cases()
        .case(case_ref.case_id)
        .await?
        .ok_or_else(|| anyhow!("the chosen case is gone"))?;
    let hearing = case.next_hearing.map(|t| local(r, t));
    let appointment = case.next_appointment.map(|t| local(r, t));
    let v = &mut session.values;
    v.clear();
    v.insert(
        "case_ending".into(),
        Value::Digits(case.ending().to_string()),
    );
    v.insert("county".into(), Value::Text(case.county.clone()));
    v.insert(
        "stage".into(),
        Value::Prompt(format!("stage.{}", case.stage.as_str())),
    );
    if let Some(w) = &case.caseworker {
        v.insert("caseworker".into(), Value::Text(w.clone()));
    }
    if let Some(t) = hearing {
        v.insert("next_hearing".into(), Value::DateTime(t));
    }
    if let Some(t) = appointment {
        v.insert("next_appointment".into(), Value::DateTime(t));
    }
    let outcome = match case.status {
        CaseStatus::Open => "open",
        CaseStatus::Closed => "closed",
    };
    heard(session, "case-status");
    audit(
        r,
        session,
        "read-case-status",
        outcome,
        participant,
        Some(case.id),
    )
    .await?;
    Ok(outcome)
}
