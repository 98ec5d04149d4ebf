//! The staff tables: accounts, login sessions and hand-offs of live calls.

use anyhow::{Context, anyhow};
use sqlx::Row;

use serde::Serialize;

use super::{StaffAccounts, on_both, run};
use crate::session::{StaffEntry, StaffTransfer};

/// What a staff member may do. Each role can do everything the one before can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Sees live calls and moves them.
    Agent,
    /// Also callbacks, requests, the announcement, the audit log, the reports and the
    /// flow diagram.
    Supervisor,
    /// Also accounts.
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "agent" => Some(Role::Agent),
            "supervisor" => Some(Role::Supervisor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }
}

/// A staff account as listed (never the hash).
#[derive(Debug, Clone, Serialize)]
pub struct Account {
    pub id: i64,
    pub name: String,
    pub role: Role,
    /// The local agency the account works for; none: statewide (sees every agency's).
    pub agency: Option<String>,
    pub disabled: bool,
    pub locked_until: Option<i64>,
    pub created_at: i64,
}

/// The signed-in staff member behind a request.
#[derive(Debug, Clone)]
pub struct Staff {
    pub id: i64,
    pub name: String,
    pub role: Role,
    /// The local agency whose records this member sees and acts on; none: statewide.
    pub agency: Option<String>,
}

/// What a login needs to check.
pub struct Credentials {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub password_hash: String,
    pub disabled: bool,
    /// The local agency the account works for; none: statewide.
    pub agency: Option<String>,
}

fn role_of(s: &str) -> anyhow::Result<Role> {
    Role::parse(s).ok_or_else(|| anyhow!("unknown role '{s}' in the staff table"))
}

impl StaffAccounts<'_> {
    /// Adds an account working for `agency` (its id in the agencies file), or statewide.
    pub async fn add(
        &self,
        name: &str,
        role: Role,
        agency: Option<&str>,
        hash: &str,
        now: i64,
    ) -> anyhow::Result<i64> {
        let sql = "INSERT INTO staff (name, role, password_hash, created_at, agency) \
                   VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING RETURNING id";
        let id: Option<i64> = run!(
            self.store,
            write,
            query_scalar(sql, name, role.as_str(), hash, now, agency).fetch_optional,
            "Failed to add the staff account"
        )?;
        id.ok_or_else(|| anyhow!("there is already a staff account named '{name}'"))
    }

    /// The agency the account named `name` works for: `None` for no such account,
    /// `Some(None)` for a statewide one.
    pub async fn agency_of(&self, name: &str) -> anyhow::Result<Option<Option<String>>> {
        let sql = "SELECT agency FROM staff WHERE name = $1";
        run!(
            self.store,
            read,
            query_scalar(sql, name).fetch_optional,
            "Failed to read the staff account's agency"
        )
    }

    pub async fn credentials(&self, name: &str) -> anyhow::Result<Option<Credentials>> {
        let sql = "SELECT id, name, role, password_hash, disabled_at, agency FROM staff \
                   WHERE name = $1";
        on_both!(
            self.store,
            read | pool | {
                let row = sqlx::query(sql)
                    .bind(name)
                    .fetch_optional(pool)
                    .await
                    .context("Failed to read the staff account")?;
                row.map(|r| -> anyhow::Result<Credentials> {
                    Ok(Credentials {
                        id: r.try_get("id")?,
                        name: r.try_get("name")?,
                        role: role_of(r.try_get("role")?)?,
                        password_hash: r.try_get("password_hash")?,
                        disabled: r.try_get::<Option<i64>, _>("disabled_at")?.is_some(),
                        agency: r.try_get("agency")?,
                    })
                })
                .transpose()
            }
        )
    }

    /// Stores a new login session.
    pub async fn start_session(
        &self,
        token_hash: &str,
        staff_id: i64,
        now: i64,
        expires_at: i64,
    ) -> anyhow::Result<()> {
        let insert = "INSERT INTO staff_sessions (token_hash, staff_id, created_at, expires_at) \
                      VALUES ($1, $2, $3, $4)";
        run!(
            self.store,
            write,
            query(insert, token_hash, staff_id, now, expires_at).execute,
            "Failed to start the staff session"
        )?;
        Ok(())
    }

    /// The staff member behind a current (unexpired, unrevoked) token of an enabled
    /// account.
    pub async fn for_token(&self, token_hash: &str, now: i64) -> anyhow::Result<Option<Staff>> {
        let sql = "SELECT s.id, s.name, s.role, s.agency FROM staff_sessions t JOIN staff s ON s.id = t.staff_id \
                   WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > $2 \
                   AND s.disabled_at IS NULL";
        on_both!(
            self.store,
            read | pool | {
                let row = sqlx::query(sql)
                    .bind(token_hash)
                    .bind(now)
                    .fetch_optional(pool)
                    .await
                    .context("Failed to check the staff session")?;
                row.map(|r| -> anyhow::Result<Staff> {
                    Ok(Staff {
                        id: r.try_get("id")?,
                        name: r.try_get("name")?,
                        role: role_of(r.try_get("role")?)?,
                        agency: r.try_get("agency")?,
                    })
                })
                .transpose()
            }
        )
    }

    pub async fn revoke_session(&self, token_hash: &str, now: i64) -> anyhow::Result<()> {
        let sql = "UPDATE staff_sessions SET revoked_at = $1 WHERE token_hash = $2";
        run!(
            self.store,
            write,
            query(sql, now, token_hash).execute,
            "Failed to end the staff session"
        )?;
        Ok(())
    }

    pub async fn list(&self) -> anyhow::Result<Vec<Account>> {
        let sql = "SELECT id, name, role, agency, disabled_at, created_at FROM staff ORDER BY name";
        let mut accounts: Vec<Account> = on_both!(
            self.store,
            read | pool | {
                sqlx::query(sql)
                    .fetch_all(pool)
                    .await
                    .context("Failed to list staff")?
                    .iter()
                    .map(|r| -> anyhow::Result<Account> {
                        Ok(Account {
                            id: r.try_get("id")?,
                            name: r.try_get("name")?,
                            role: role_of(r.try_get("role")?)?,
                            agency: r.try_get("agency")?,
                            disabled: r.try_get::<Option<i64>, _>("disabled_at")?.is_some(),
                            locked_until: None,
                            created_at: r.try_get("created_at")?,
                        })
                    })
                    .collect::<anyhow::Result<_>>()?
            }
        );
        // The per-name counts are keyed by a hash of the name: read each account's lock
        // (a few dozen accounts, an admin's listing).
        for a in &mut accounts {
            a.locked_until = self
                .store
                .attempts()
                .lock_of(crate::store::Guard::StaffName, &a.name, i64::MIN)
                .await?;
        }
        Ok(accounts)
    }

    /// Disables an account and ends its sessions; `false` if there is no such account.
    pub async fn disable(&self, name: &str, now: i64) -> anyhow::Result<bool> {
        let disable = "UPDATE staff SET disabled_at = $1 WHERE name = $2 AND disabled_at IS NULL";
        let revoke = "UPDATE staff_sessions SET revoked_at = $1 WHERE revoked_at IS NULL AND \
                      staff_id = (SELECT id FROM staff WHERE name = $2)";
        on_both!(
            self.store,
            write | pool | {
                let n = sqlx::query(disable)
                    .bind(now)
                    .bind(name)
                    .execute(pool)
                    .await
                    .context("Failed to disable the account")?
                    .rows_affected();
                sqlx::query(revoke)
                    .bind(now)
                    .bind(name)
                    .execute(pool)
                    .await
                    .context("Failed to end the account's sessions")?;
                Ok(n == 1)
            }
        )
    }

    /// Records a hand-off of `call_sid` into the IVR; answers its id for the entry URL.
    pub async fn add_handoff(&self, call_sid: &str, t: &StaffTransfer) -> anyhow::Result<i64> {
        let sql = "INSERT INTO staff_handoffs (call_sid, entry, return_to, by_name, at) \
                   VALUES ($1, $2, $3, $4, $5) RETURNING id";
        run!(
            self.store,
            write,
            query_scalar(sql, call_sid, t.entry.as_str(), &t.return_to, &t.by, t.at).fetch_one,
            "Failed to record the hand-off"
        )
    }

    /// Takes the hand-off `id` for this call and entry, once: the row is deleted as it
    /// is read, so a repeated or stale delivery of an entry URL cannot bring back a
    /// hand-off that is over, or one meant for another call or entry.
    pub async fn take_handoff(
        &self,
        id: i64,
        call_sid: &str,
        entry: StaffEntry,
    ) -> anyhow::Result<Option<StaffTransfer>> {
        let sql = "DELETE FROM staff_handoffs WHERE id = $1 AND call_sid = $2 AND entry = $3 \
                   RETURNING entry, return_to, by_name, at";
        on_both!(
            self.store,
            write | pool | {
                let row = sqlx::query(sql)
                    .bind(id)
                    .bind(call_sid)
                    .bind(entry.as_str())
                    .fetch_optional(pool)
                    .await
                    .context("Failed to read the hand-off")?;
                row.map(|r| -> anyhow::Result<StaffTransfer> {
                    let word: String = r.try_get("entry")?;
                    Ok(StaffTransfer {
                        entry: StaffEntry::parse(&word)
                            .with_context(|| format!("a hand-off to an unknown entry {word:?}"))?,
                        return_to: r.try_get("return_to")?,
                        by: r.try_get("by_name")?,
                        at: r.try_get("at")?,
                    })
                })
                .transpose()
            }
        )
    }

    /// The hand-offs still waiting for their call's entry webhook (for tests and staff
    /// views): `(id, entry, by)`.
    pub async fn pending_handoffs(
        &self,
        call_sid: &str,
    ) -> anyhow::Result<Vec<(i64, String, String)>> {
        let sql = "SELECT id, entry, by_name FROM staff_handoffs WHERE call_sid = $1 ORDER BY id";
        run!(
            self.store,
            read,
            query_as(sql, call_sid).fetch_all,
            "Failed to read the hand-offs"
        )
    }

    /// Forgets a hand-off the provider refused to carry out.
    pub async fn delete_handoff(&self, id: i64) -> anyhow::Result<()> {
        on_both!(
            self.store,
            write | pool | {
                sqlx::query("DELETE FROM staff_handoffs WHERE id = $1")
                    .bind(id)
                    .execute(pool)
                    .await
                    .context("Failed to forget the hand-off")?;
            }
        );
        Ok(())
    }

    /// Deletes hand-offs older than `before` (their calls are long over).
    pub async fn expire_handoffs(&self, before: i64) -> anyhow::Result<u64> {
        run!(
            self.store,
            write,
            query("DELETE FROM staff_handoffs WHERE at < $1", before).execute,
            "Failed to expire hand-offs"
        )
    }
}
