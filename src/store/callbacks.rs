//! The callback queue's table: requests callers left, claimed, dialled and closed by
//! the dialer and staff.

use anyhow::Context;

use super::backend::{Backend, on_backend};
use super::{CallbackQueue, on_both, run};

/// Callback requests one number may receive in a day (agency time), across calls and
/// servers.
pub const CALLBACKS_PER_NUMBER_A_DAY: i64 = 3;

/// The statuses that close a request (SQL list).
pub const CLOSED_SQL: &str = "('done', 'unreached', 'cancelled', 'failed')";

/// A stored request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct Callback {
    pub id: i64,
    /// E.164. Shown whole only to staff who work the request; listings mask it.
    pub number: String,
    pub lang: String,
    pub channel: String,
    pub call_sid: String,
    pub case_number: Option<String>,
    pub role: Option<String>,
    pub status: String,
    pub requested_at: i64,
    pub claimed_by: Option<String>,
    pub closed_at: Option<i64>,
    pub outcome: Option<String>,
    /// Dials placed so far, and when the next may be.
    pub attempts: i64,
    pub due_at: Option<i64>,
    /// The local agency it belongs to (its id in the agencies file); none: the statewide unit's.
    pub agency: Option<String>,
}

/// A request claimed for dialling.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claimed {
    pub id: i64,
    pub number: String,
    /// Its local agency (whose caller ID it is dialled with); none: the statewide unit's.
    pub agency: Option<String>,
}

/// Which request [`CallbackQueue::claim_due`] may claim.
#[derive(Debug, Clone)]
pub enum Pick<'a> {
    /// The oldest due among these.
    Due(Due<'a>),
    /// This one, due or not (a staff member's choice).
    Only(i64),
}

/// Whose requests are due now, by their agency (`callbacks.agency`), so that one closed
/// agency's requests never stand in front of another's.
#[derive(Debug, Clone, Default)]
pub struct Due<'a> {
    /// The statewide unit's: no agency, or an agency without a line of its own.
    pub statewide: bool,
    /// These agencies' (each open with a short queue).
    pub agencies: Vec<&'a str>,
    /// Every agency with a line of its own: the others' requests are the unit's.
    pub own_line: Vec<&'a str>,
}

impl<'a> Due<'a> {
    /// The SQL condition on `agency`, its placeholders numbered from `first`, and the
    /// ids to bind to them in order; `None` when nobody's requests are due.
    fn filter(&self, first: usize) -> Option<(String, Vec<&'a str>)> {
        let mut ids = Vec::new();
        let mut list = |names: &[&'a str]| {
            let marks: Vec<String> = names
                .iter()
                .map(|name| {
                    ids.push(*name);
                    format!("${}", first + ids.len() - 1)
                })
                .collect();
            marks.join(", ")
        };
        let mut whose = Vec::new();
        if !self.agencies.is_empty() {
            whose.push(format!("agency IN ({})", list(&self.agencies)));
        }
        if self.statewide {
            whose.push(if self.own_line.is_empty() {
                "1 = 1".to_string()
            } else {
                format!("agency IS NULL OR agency NOT IN ({})", list(&self.own_line))
            });
        }
        (!whose.is_empty()).then(|| (whose.join(" OR "), ids))
    }
}

pub struct NewCallback<'a> {
    pub number: &'a str,
    pub lang: &'a str,
    pub channel: &'a str,
    pub call_sid: &'a str,
    pub case_number: Option<&'a str>,
    pub role: Option<&'a str>,
    pub requested_at: i64,
    /// The local agency it belongs to (its id in the agencies file); none: the statewide unit's.
    pub agency: Option<&'a str>,
    /// The agency day it is asked for on (see `domain::callbacks::agency_day`), for the daily limit.
    pub day: i64,
}

/// What [`CallbackQueue::add`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    Created,
    /// The number has a request waiting, or this call left one for it.
    AlreadyOpen,
    /// This call left one for another number, or the number reached its daily limit.
    Limit,
}

const COLUMNS: &str = "id, number, lang, channel, call_sid, case_number, role, status, \
                       requested_at, claimed_by, closed_at, outcome, attempts, due_at, agency";

impl CallbackQueue<'_> {
    /// Stores a request unless a limit stands in the way, in one transaction, so two
    /// servers (or two deliveries of one webhook) agree: one open request a call, one
    /// open request a number, at most [`CALLBACKS_PER_NUMBER_A_DAY`] requests a number
    /// a day (counted only for requests stored).
    pub async fn add(&self, c: &NewCallback<'_>) -> anyhow::Result<Added> {
        let open_for_call = format!(
            "SELECT number FROM callbacks WHERE call_sid = $1 AND status NOT IN {CLOSED_SQL} LIMIT 1"
        );
        let open_for_number = format!(
            "SELECT id FROM callbacks WHERE number = $1 AND status NOT IN {CLOSED_SQL} LIMIT 1"
        );
        let count = "INSERT INTO callback_quota (number, day, requests) VALUES ($1, $2, 1) \
                     ON CONFLICT (number, day) DO UPDATE SET requests = callback_quota.requests + 1 \
                     WHERE callback_quota.requests < $3 RETURNING requests";
        let insert = "INSERT INTO callbacks (number, lang, channel, call_sid, case_number, role, \
                      requested_at, agency) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING";
        let begin = on_backend!(self.store, |b| b.begin_write());
        Ok(on_both!(
            self.store,
            write | pool | {
                let mut tx = pool
                    .begin_with(begin)
                    .await
                    .context("Failed to start storing a callback request")?;
                let for_call: Option<String> =
                    sqlx::query_scalar(sqlx::AssertSqlSafe(open_for_call))
                        .bind(c.call_sid)
                        .fetch_optional(&mut *tx)
                        .await
                        .context("Failed to read the call's callback request")?;
                let for_number: Option<i64> =
                    sqlx::query_scalar(sqlx::AssertSqlSafe(open_for_number))
                        .bind(c.number)
                        .fetch_optional(&mut *tx)
                        .await
                        .context("Failed to read the number's callback request")?;
                match (for_call, for_number) {
                    (Some(n), _) if n != c.number => Added::Limit,
                    (Some(_), _) | (None, Some(_)) => Added::AlreadyOpen,
                    (None, None) => {
                        let counted: Option<i64> = sqlx::query_scalar(count)
                            .bind(c.number)
                            .bind(c.day)
                            .bind(CALLBACKS_PER_NUMBER_A_DAY)
                            .fetch_optional(&mut *tx)
                            .await
                            .context("Failed to count the number's callback requests")?;
                        if counted.is_none() {
                            Added::Limit
                        } else {
                            let stored = sqlx::query(insert)
                                .bind(c.number)
                                .bind(c.lang)
                                .bind(c.channel)
                                .bind(c.call_sid)
                                .bind(c.case_number)
                                .bind(c.role)
                                .bind(c.requested_at)
                                .bind(c.agency)
                                .execute(&mut *tx)
                                .await
                                .context("Failed to store the callback request")?
                                .rows_affected();
                            if stored == 1 {
                                tx.commit()
                                    .await
                                    .context("Failed to store the callback request")?;
                                Added::Created
                            } else {
                                // Another server stored one for this number or call
                                // first; the count is rolled back with this one.
                                Added::AlreadyOpen
                            }
                        }
                    }
                }
            }
        ))
    }

    /// Requests not closed yet, oldest first; with `all`, closed ones too.
    pub async fn list(&self, all: bool) -> anyhow::Result<Vec<Callback>> {
        self.list_of(all, None).await
    }

    /// [`Self::list`], of one agency's requests only when `agency` is given (a local
    /// staff member's, or a statewide one's filter).
    pub async fn list_of(&self, all: bool, agency: Option<&str>) -> anyhow::Result<Vec<Callback>> {
        let mut filter = Vec::new();
        if !all {
            filter.push(format!("status NOT IN {CLOSED_SQL}"));
        }
        if agency.is_some() {
            filter.push("agency = $1".to_string());
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM callbacks {} ORDER BY requested_at, id",
            super::where_all(&filter)
        );
        on_both!(
            self.store,
            read | pool | {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                if let Some(a) = agency {
                    q = q.bind(a);
                }
                q.fetch_all(pool).await.context("Failed to list callbacks")
            }
        )
    }

    /// One request by id.
    pub async fn get(&self, id: i64) -> anyhow::Result<Option<Callback>> {
        let sql = format!("SELECT {COLUMNS} FROM callbacks WHERE id = $1");
        run!(
            self.store,
            read,
            query_as(sqlx::AssertSqlSafe(sql), id).fetch_optional,
            "Failed to read a callback"
        )
    }
}

impl CallbackQueue<'_> {
    /// Whether the dialer is paused (every server reads the same switch).
    pub async fn paused(&self) -> anyhow::Result<bool> {
        let sql = "SELECT paused FROM dialer_state WHERE id = 1";
        let paused: Option<i64> = run!(
            self.store,
            read,
            query_scalar(sql).fetch_optional,
            "Failed to read the dialer's state"
        )?;
        Ok(paused.unwrap_or(0) != 0)
    }

    pub async fn set_paused(&self, paused: bool) -> anyhow::Result<()> {
        let sql = "UPDATE dialer_state SET paused = $1 WHERE id = 1";
        run!(
            self.store,
            write,
            query(sql, i64::from(paused)).execute,
            "Failed to pause or resume the dialer"
        )?;
        Ok(())
    }

    /// Claims the oldest open request that is due among those `pick` allows (or request
    /// `Pick::Only`) with attempts left (fewer than `most`): `dialling`, one more
    /// attempt. A request two servers reach at once goes to one of them.
    pub(crate) async fn claim_due(
        &self,
        now: i64,
        pick: Pick<'_>,
        most: i64,
    ) -> anyhow::Result<Option<Claimed>> {
        // $1 now, $2 the one request, $3 the most attempts, then the agencies' ids.
        let (only, ids, pick) = match pick {
            Pick::Only(id) => (
                id,
                Vec::new(),
                "SELECT id FROM callbacks WHERE id = $2 AND status = 'open' AND attempts < $3"
                    .to_string(),
            ),
            Pick::Due(due) => {
                let Some((whose, ids)) = due.filter(4) else {
                    return Ok(None);
                };
                (
                    0,
                    ids,
                    format!(
                        "SELECT id FROM callbacks WHERE status = 'open' AND attempts < $3 \
                         AND (due_at IS NULL OR due_at <= $1) AND ({whose}) \
                         ORDER BY requested_at, id LIMIT 1"
                    ),
                )
            }
        };
        let lock = on_backend!(self.store, |b| b.skip_locked());
        let sql = format!(
            "UPDATE callbacks SET status = 'dialling', attempts = attempts + 1, due_at = NULL, \
             dialled_at = $1, dial_sid = NULL \
             WHERE id = ({pick}{lock}) AND status = 'open' RETURNING id, number, agency"
        );
        let claimed = on_both!(
            self.store,
            write | pool | {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(now)
                    .bind(only)
                    .bind(most);
                for id in ids {
                    q = q.bind(id);
                }
                q.fetch_optional(pool).await
            }
        );
        claimed.context("Failed to claim a callback")
    }

    /// Closes as unreached the open requests with `most` attempts or more spent.
    pub(crate) async fn close_spent(&self, most: i64, now: i64) -> anyhow::Result<()> {
        let sql = "UPDATE callbacks SET status = 'unreached', closed_at = $2, \
                   outcome = COALESCE(outcome, 'every attempt spent') \
                   WHERE status = 'open' AND attempts >= $1";
        run!(
            self.store,
            write,
            query(sql, most, now).execute,
            "Failed to close spent callbacks"
        )?;
        Ok(())
    }

    /// Gives a claimed request back uncounted (the dial never went out), due again at
    /// `due_at`: until then the claim takes the next request, so one that cannot go out
    /// (say, an agency's caller ID the provider refuses) does not hold up every other.
    pub(crate) async fn unclaim(&self, id: i64, due_at: i64) -> anyhow::Result<()> {
        let sql = "UPDATE callbacks SET status = 'open', attempts = attempts - 1, due_at = $2 \
                   WHERE id = $1 AND status = 'dialling'";
        run!(
            self.store,
            write,
            query(sql, id, due_at).execute,
            "Failed to give a callback back"
        )?;
        Ok(())
    }

    pub(crate) async fn reopen(&self, id: i64, due_at: i64) -> anyhow::Result<()> {
        let sql = "UPDATE callbacks SET status = 'open', due_at = $2 WHERE id = $1 AND status = 'dialling'";
        run!(
            self.store,
            write,
            query(sql, id, due_at).execute,
            "Failed to reopen a callback"
        )?;
        Ok(())
    }

    pub(crate) async fn set_status(&self, id: i64, status: &str) -> anyhow::Result<()> {
        let sql = "UPDATE callbacks SET status = $2 WHERE id = $1 AND status = 'dialling'";
        run!(
            self.store,
            write,
            query(sql, id, status).execute,
            "Failed to update a callback"
        )?;
        Ok(())
    }

    /// Closes a request that is not closed yet.
    pub async fn close(&self, id: i64, status: &str, now: i64) -> anyhow::Result<()> {
        self.close_as(id, status, status, now).await
    }

    /// Closes a request that is not closed yet, saying how (`outcome`, unless staff
    /// already wrote one).
    pub async fn close_as(
        &self,
        id: i64,
        status: &str,
        outcome: &str,
        now: i64,
    ) -> anyhow::Result<()> {
        let sql = format!(
            "UPDATE callbacks SET status = $2, closed_at = $3, outcome = COALESCE(outcome, $4) \
             WHERE id = $1 AND status NOT IN {CLOSED_SQL}"
        );
        run!(
            self.store,
            write,
            query(sqlx::AssertSqlSafe(sql), id, status, now, outcome).execute,
            "Failed to close a callback"
        )?;
        Ok(())
    }

    /// The provider's CallSid of the dial under way.
    pub(crate) async fn dialled(&self, id: i64, call_sid: &str) -> anyhow::Result<()> {
        let sql = "UPDATE callbacks SET dial_sid = $2 WHERE id = $1 AND status = 'dialling'";
        run!(
            self.store,
            write,
            query(sql, id, call_sid).execute,
            "Failed to record a callback's call"
        )?;
        Ok(())
    }

    /// Whether `call_sid` is the dial under way for request `id` (`None`, the dialer's
    /// own sweep, always is; a dial whose CallSid is not known yet matches any).
    pub(crate) async fn is_dial(&self, id: i64, call_sid: Option<&str>) -> anyhow::Result<bool> {
        let Some(call_sid) = call_sid else {
            return Ok(true);
        };
        let sql = "SELECT dial_sid FROM callbacks WHERE id = $1";
        let sid: Option<Option<String>> = run!(
            self.store,
            read,
            query_scalar(sql, id).fetch_optional,
            "Failed to read a callback's call"
        )?;
        Ok(match sid.flatten() {
            Some(dial) => dial == call_sid,
            None => true,
        })
    }

    /// Requests still dialling since before `before` (by when they were claimed).
    pub(crate) async fn stale_dialling(&self, before: i64) -> anyhow::Result<Vec<i64>> {
        let sql =
            "SELECT id FROM callbacks WHERE status = 'dialling' AND COALESCE(dialled_at, 0) < $1";
        run!(
            self.store,
            read,
            query_scalar(sql, before).fetch_all,
            "Failed to look for lost dials"
        )
    }

    /// A request's status and attempts so far.
    pub async fn state(&self, id: i64) -> anyhow::Result<Option<(String, i64)>> {
        let sql = "SELECT status, attempts FROM callbacks WHERE id = $1";
        run!(
            self.store,
            read,
            query_as(sql, id).fetch_optional,
            "Failed to read a callback"
        )
    }

    /// Records one attempt and its result.
    pub(crate) async fn attempt(
        &self,
        id: i64,
        now: i64,
        call_sid: Option<&str>,
        result: &str,
    ) -> anyhow::Result<()> {
        let sql = "INSERT INTO callback_attempts (callback_id, at, call_sid, result) \
                   VALUES ($1, $2, $3, $4)";
        run!(
            self.store,
            write,
            query(sql, id, now, call_sid, result).execute,
            "Failed to record a callback attempt"
        )?;
        Ok(())
    }

    /// Each attempt's time and result, oldest first.
    pub async fn attempts(&self, id: i64) -> anyhow::Result<Vec<(i64, String)>> {
        let sql = "SELECT at, result FROM callback_attempts WHERE callback_id = $1 ORDER BY at, id";
        run!(
            self.store,
            read,
            query_as(sql, id).fetch_all,
            "Failed to read callback attempts"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::Due;

    #[test]
    fn due_requests_are_those_of_open_agencies_and_of_the_unit_when_it_is_open() {
        let none = Due::default();
        assert!(none.filter(4).is_none(), "nobody's requests: no claim");
        let unit_alone = Due {
            statewide: true,
            ..Due::default()
        };
        assert_eq!(unit_alone.filter(4), Some(("1 = 1".to_string(), vec![])));
        let both = Due {
            statewide: true,
            agencies: vec!["kern"],
            own_line: vec!["fresno", "kern"],
        };
        assert_eq!(
            both.filter(4),
            Some((
                "agency IN ($4) OR agency IS NULL OR agency NOT IN ($5, $6)".to_string(),
                vec!["kern", "fresno", "kern"]
            ))
        );
        let agency_alone = Due {
            statewide: false,
            agencies: vec!["fresno", "kern"],
            own_line: vec!["fresno", "kern"],
        };
        assert_eq!(
            agency_alone.filter(4),
            Some(("agency IN ($4, $5)".to_string(), vec!["fresno", "kern"]))
        );
    }
}
