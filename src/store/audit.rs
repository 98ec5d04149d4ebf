//! The audit table: every verification attempt, every readback of case data, every
//! staff action and login. What happened, to whom; never the digits.

use anyhow::Context;

use super::AuditLog;
use super::backend::{Backend, on_backend};

/// The audit line's insert, the same on both backends.
pub(super) const INSERT_AUDIT: &str = "INSERT INTO audit (at, call_sid, actor, event, outcome, participant_id, case_id) \
    VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// One line of the audit table: who (a call, a staff member), what happened, the
/// outcome, and which participant and case it touched. Never digits. Built by the named
/// constructors, so a call site says what kind of line it writes.
#[derive(Debug, Clone)]
pub struct AuditLine {
    pub at: i64,
    pub call_sid: Option<String>,
    pub actor: Option<String>,
    pub event: String,
    pub outcome: String,
    pub participant_id: Option<i64>,
    pub case_id: Option<i64>,
}

impl AuditLine {
    /// Something that happened in a call (`call_sid` is `None` only when the call is not
    /// known, as for a stale request).
    pub fn in_call(at: i64, call_sid: Option<&str>, event: &str, outcome: &str) -> AuditLine {
        AuditLine {
            at,
            call_sid: call_sid.map(String::from),
            actor: None,
            event: event.to_string(),
            outcome: outcome.to_string(),
            participant_id: None,
            case_id: None,
        }
    }

    /// Something a staff member did (or a login tried under a name, `None` when no
    /// account has it).
    pub fn by_staff(at: i64, actor: Option<&str>, event: &str, outcome: &str) -> AuditLine {
        AuditLine {
            actor: actor.map(String::from),
            ..AuditLine::in_call(at, None, event, outcome)
        }
    }

    /// The call a staff action was about.
    pub fn call(mut self, call_sid: Option<&str>) -> AuditLine {
        self.call_sid = call_sid.map(String::from);
        self
    }

    /// The participant (a row id) the line is about.
    pub fn participant(mut self, id: Option<i64>) -> AuditLine {
        self.participant_id = id;
        self
    }

    /// The case (a row id) the line is about.
    pub fn case(mut self, id: Option<i64>) -> AuditLine {
        self.case_id = id;
        self
    }
}

/// One audit line as staff see it.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct AuditEntry {
    pub at: i64,
    pub call_sid: Option<String>,
    pub actor: Option<String>,
    pub event: String,
    pub outcome: String,
}

impl AuditLog<'_> {
    /// Writes one line to the audit table (durable when this answers).
    pub async fn write(&self, line: AuditLine) -> anyhow::Result<()> {
        on_backend!(self.store, |b| b.write_audit(line).await)
            .context("Failed to write the audit log")
    }

    /// Audit lines for a call: (event, outcome, participant, case), oldest first.
    pub async fn for_call(
        &self,
        call_sid: &str,
    ) -> anyhow::Result<Vec<(String, String, Option<i64>, Option<i64>)>> {
        let sql = "SELECT event, outcome, participant_id, case_id FROM audit WHERE call_sid = $1 ORDER BY id";
        Ok(super::on_both!(
            self.store,
            read | pool | sqlx::query_as(sql).bind(call_sid).fetch_all(pool).await?
        ))
    }

    /// The newest audit lines, newest first.
    pub async fn recent(&self, limit: i64) -> anyhow::Result<Vec<AuditEntry>> {
        let sql = "SELECT at, call_sid, actor, event, outcome FROM audit ORDER BY id DESC LIMIT $1";
        Ok(super::run!(
            self.store,
            read,
            query_as(sql, limit).fetch_all,
            "Failed to read the audit log"
        )?)
    }
}
