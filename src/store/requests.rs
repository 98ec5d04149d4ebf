//! The service requests' table: what verified callers asked for by phone, a work
//! item each for staff.

use anyhow::Context;

use super::{RequestQueue, on_both, run};

/// A stored request as staff see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct Request {
    pub id: i64,
    pub reference: String,
    pub kind: String,
    pub case_number: String,
    pub lang: String,
    pub status: String,
    pub requested_at: i64,
    pub claimed_by: Option<String>,
    pub closed_at: Option<i64>,
    pub outcome: Option<String>,
    /// What the request is about beyond its kind (the missing check's date and amount).
    pub details: Option<String>,
    /// The provider's SID of the recorded address: staff hear it through
    /// `/staff/requests/{id}/recording`, so the listing says only whether there is one.
    #[serde(rename = "has_recording", serialize_with = "is_some")]
    pub recording_sid: Option<String>,
    /// The local agency it belongs to (its id in the agencies file); none: the statewide unit's.
    pub agency: Option<String>,
}

fn is_some<S: serde::Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bool(v.is_some())
}

const COLUMNS: &str = "id, reference, kind, case_number, lang, status, requested_at, claimed_by, \
                       closed_at, outcome, details, recording_sid, agency";

/// What a request carries beyond its kind.
#[derive(Debug, Clone, Default)]
pub struct Extra {
    pub details: Option<String>,
    pub recording_sid: Option<String>,
    /// The local agency the request belongs to (its id in the agencies file); none: the
    /// statewide unit's.
    pub agency: Option<String>,
}

/// A reference number: eight digits, said one by one.
fn new_reference() -> String {
    let n = uuid::Uuid::new_v4().as_u128() % 100_000_000;
    format!("{n:08}")
}

/// A request to store: what, for which case and caller, and when.
#[derive(Debug, Clone)]
pub struct NewRequest<'a> {
    /// One of `domain::requests::KINDS`.
    pub kind: &'a str,
    pub case_id: i64,
    pub case_number: &'a str,
    pub participant_id: i64,
    pub lang: &'a str,
    pub call_sid: &'a str,
    pub requested_at: i64,
    pub extra: Extra,
}

impl RequestQueue<'_> {
    /// Stores a request: its reference, or, when the case has an open one of the kind,
    /// when that one was made (nothing changes).
    pub async fn add(&self, r: &NewRequest<'_>) -> anyhow::Result<Result<String, i64>> {
        let insert = "INSERT INTO service_requests (reference, kind, case_id, case_number, \
                      participant_id, lang, call_sid, requested_at, details, recording_sid, agency) \
                      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING";
        let reference = new_reference();
        let added = run!(
            self.store,
            write,
            query(
                insert,
                &reference,
                r.kind,
                r.case_id,
                r.case_number,
                r.participant_id,
                r.lang,
                r.call_sid,
                r.requested_at,
                &r.extra.details,
                &r.extra.recording_sid,
                &r.extra.agency
            )
            .execute,
            "Failed to store the request"
        )?;
        if added == 1 {
            return Ok(Ok(reference));
        }
        let since = self.open_at(r.case_id, r.kind).await?;
        // No open one: the reference itself collided (one in a hundred million); the
        // caller hears an apology and can try again.
        since
            .map(Err)
            .context("the request was not stored and none is open")
    }

    /// When the case's open request of `kind` was made, if it has one (read on the
    /// writer, so a request just stored is seen).
    /// Marks request `reference` as texted; `false` when it was already (one text a
    /// request, decided by the database so two servers agree).
    pub async fn mark_texted(&self, reference: &str, now: i64) -> anyhow::Result<bool> {
        let sql = "UPDATE service_requests SET texted_at = $2 \
                   WHERE reference = $1 AND texted_at IS NULL";
        let marked = run!(
            self.store,
            write,
            query(sql, reference, now).execute,
            "Failed to mark a request texted"
        )?;
        Ok(marked == 1)
    }

    /// Undoes [`Self::mark_texted`] when the text never went out.
    pub async fn unmark_texted(&self, reference: &str) -> anyhow::Result<()> {
        let sql = "UPDATE service_requests SET texted_at = NULL WHERE reference = $1";
        run!(
            self.store,
            write,
            query(sql, reference).execute,
            "Failed to unmark a request texted"
        )?;
        Ok(())
    }

    pub async fn open_at(&self, case_id: i64, kind: &str) -> anyhow::Result<Option<i64>> {
        let sql = "SELECT requested_at FROM service_requests \
                   WHERE case_id = $1 AND kind = $2 AND status <> 'done'";
        run!(
            self.store,
            write,
            query_scalar(sql, case_id, kind).fetch_optional,
            "Failed to read the open request"
        )
    }

    /// One request by id.
    pub async fn get(&self, id: i64) -> anyhow::Result<Option<Request>> {
        let sql = format!("SELECT {COLUMNS} FROM service_requests WHERE id = $1");
        run!(
            self.store,
            read,
            query_as(sqlx::AssertSqlSafe(sql), id).fetch_optional,
            "Failed to read the request"
        )
    }

    /// The case row id of request `id`.
    pub async fn case_of(&self, id: i64) -> anyhow::Result<i64> {
        let sql = "SELECT case_id FROM service_requests WHERE id = $1";
        run!(
            self.store,
            read,
            query_scalar(sql, id).fetch_one,
            "Failed to read the request's case"
        )
    }

    /// Whether a request holds the recording `sid`.
    pub async fn holds_recording(&self, sid: &str) -> anyhow::Result<bool> {
        let sql = "SELECT COUNT(*) FROM service_requests WHERE recording_sid = $1";
        let n: i64 = run!(
            self.store,
            read,
            query_scalar(sql, sid).fetch_one,
            "Failed to look for the recording"
        )?;
        Ok(n > 0)
    }

    /// Forgets a request's recording once the provider has deleted it.
    pub async fn forget_recording(&self, id: i64) -> anyhow::Result<()> {
        let sql = "UPDATE service_requests SET recording_sid = NULL WHERE id = $1";
        run!(
            self.store,
            write,
            query(sql, id).execute,
            "Failed to forget the recording"
        )?;
        Ok(())
    }

    /// Requests not done yet, oldest first; with `all`, done ones too.
    pub async fn list(&self, all: bool) -> anyhow::Result<Vec<Request>> {
        self.list_of(all, None).await
    }

    /// [`Self::list`], of one agency's requests only when `agency` is given (a local
    /// staff member's, or a statewide one's filter).
    pub async fn list_of(&self, all: bool, agency: Option<&str>) -> anyhow::Result<Vec<Request>> {
        let mut filter = Vec::new();
        if !all {
            filter.push("status <> 'done'");
        }
        if agency.is_some() {
            filter.push("agency = $1");
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM service_requests {} ORDER BY requested_at, id",
            super::where_all(&filter)
        );
        on_both!(
            self.store,
            read | pool | {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                if let Some(a) = agency {
                    q = q.bind(a);
                }
                q.fetch_all(pool).await.context("Failed to list requests")
            }
        )
    }
}
