//! Work items staff claim and complete: callback requests and requests by mail share
//! one life (`open` -> `claimed` by someone -> `done` with an outcome), so they share
//! these two statements; each kind keeps its own table and listing.

use anyhow::Context;

use super::{WorkQueue, on_both};

/// A kind of work item, and the table that holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkKind {
    Callback,
    Request,
}

impl WorkKind {
    /// The table (a constant, never input).
    fn table(self) -> &'static str {
        match self {
            WorkKind::Callback => "callbacks",
            WorkKind::Request => "service_requests",
        }
    }

    /// How staff and the audit name one item: `callback`, `request`.
    pub fn noun(self) -> &'static str {
        match self {
            WorkKind::Callback => "callback",
            WorkKind::Request => "request",
        }
    }
}

impl WorkQueue<'_> {
    /// The agency item `id` belongs to: `None` when there is no such item, `Some(None)`
    /// for the statewide unit's. Staff routes ask it before acting, so an item of
    /// another agency answers as a missing one.
    pub async fn agency_of(
        &self,
        kind: WorkKind,
        id: i64,
    ) -> anyhow::Result<Option<Option<String>>> {
        let sql = format!("SELECT agency FROM {} WHERE id = $1", kind.table());
        on_both!(
            self.store,
            read | pool | {
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .bind(id)
                    .fetch_optional(pool)
                    .await
                    .with_context(|| format!("Failed to read the {}'s agency", kind.noun()))
            }
        )
    }

    /// Moves an open item to `claimed` by `who`; `false` if it is not open.
    pub async fn claim(
        &self,
        kind: WorkKind,
        id: i64,
        who: &str,
        now: i64,
    ) -> anyhow::Result<bool> {
        let sql = format!(
            "UPDATE {} SET status = 'claimed', claimed_by = $1, claimed_at = $2 \
             WHERE id = $3 AND status = 'open'",
            kind.table()
        );
        let n = on_both!(
            self.store,
            write
                | pool
                | sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(who)
                    .bind(now)
                    .bind(id)
                    .execute(pool)
                    .await
                    .with_context(|| format!("Failed to claim the {}", kind.noun()))?
                    .rows_affected()
        );
        Ok(n == 1)
    }

    /// Closes an item that is not done yet, with what happened; `false` if none.
    pub async fn complete(
        &self,
        kind: WorkKind,
        id: i64,
        who: &str,
        outcome: &str,
        now: i64,
    ) -> anyhow::Result<bool> {
        let sql = format!(
            "UPDATE {} SET status = 'done', outcome = $1, closed_at = $2, \
             claimed_by = COALESCE(claimed_by, $3) WHERE id = $4 \
             AND status NOT IN ('done', 'unreached', 'cancelled', 'failed')",
            kind.table()
        );
        let n = on_both!(
            self.store,
            write
                | pool
                | sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(outcome)
                    .bind(now)
                    .bind(who)
                    .bind(id)
                    .execute(pool)
                    .await
                    .with_context(|| format!("Failed to complete the {}", kind.noun()))?
                    .rows_affected()
        );
        Ok(n == 1)
    }
}
