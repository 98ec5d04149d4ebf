//! Guesses counted before they are checked: a PAR ID for an SSN, a staff password for a
//! name, staff passwords from one address.
//!
//! Each guess *reserves* a slot here before its argon2 check, in one statement that
//! takes the row's lock, and only then is the secret checked. A burst of simultaneous
//! guesses therefore gets at most `max` checks per window, however they arrive: the
//! others are refused at the reservation. A failed check keeps its slot and, once the
//! slots are used up, locks the key; a good one frees the slots (and, where asked,
//! re-checks that no concurrent failure locked the key meanwhile).

use anyhow::Context;

use super::{Attempts, Store};

/// What is being guessed at, and so which table and key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// A caller's PAR ID, per SSN blind index (`verify_failures`).
    Ssn,
    /// A staff password, per name typed, whether or not an account has that name.
    StaffName,
    /// Staff passwords from one client address.
    StaffAddress,
}

impl Guard {
    /// Table, key column and the prefix that keeps the two staff kinds apart in one
    /// table. Constants, never input.
    fn sql_names(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Guard::Ssn => ("verify_failures", "ssn_index", ""),
            Guard::StaffName => ("staff_login_limits", "key", "name:"),
            Guard::StaffAddress => ("staff_login_limits", "key", "addr:"),
        }
    }
}

/// How many guesses a key gets in a window, and how long it stays locked after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: u32,
    pub window_secs: i64,
    pub lock_secs: i64,
}

/// The answer to a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// Check the secret now.
    Granted,
    /// Do not check: the key is locked until then (or, with `None`, its slots are all
    /// taken by checks still running).
    Refused(Option<i64>),
}

struct Sql {
    reserve: String,
    failed: String,
    locked: String,
    succeeded: String,
    release: String,
}

fn sql(guard: Guard) -> Sql {
    let (t, k, _) = guard.sql_names();
    Sql {
        // One statement, so nothing can come between making the row and counting on
        // it. $1 key, $2 now, $3 start of the current window, $4 max. A window that
        // has passed starts again with this guess; no row comes back when refused.
        reserve: format!(
            "INSERT INTO {t} ({k}, failures, window_start) VALUES ($1, 1, $2) \
             ON CONFLICT ({k}) DO UPDATE SET \
             failures = CASE WHEN {t}.window_start <= $3 THEN 1 ELSE {t}.failures + 1 END, \
             window_start = CASE WHEN {t}.window_start <= $3 THEN $2 ELSE {t}.window_start END \
             WHERE ({t}.locked_until IS NULL OR {t}.locked_until <= $2) \
             AND ({t}.window_start <= $3 OR {t}.failures < $4) \
             RETURNING CAST(failures AS BIGINT)"
        ),
        // $1 key, $2 now, $3 lock until, $4 max. The failure that fills the window locks
        // the key and starts a fresh count for when the lock ends.
        failed: format!(
            "UPDATE {t} SET locked_until = $3, failures = 0, window_start = $2 \
             WHERE {k} = $1 AND failures >= $4 AND (locked_until IS NULL OR locked_until <= $2) \
             RETURNING locked_until"
        ),
        locked: format!("SELECT locked_until FROM {t} WHERE {k} = $1 AND locked_until > $2"),
        // A right guess forgets the key (nothing is kept of who verified when).
        succeeded: format!(
            "DELETE FROM {t} WHERE {k} = $1 \
             AND (locked_until IS NULL OR locked_until <= $2) RETURNING CAST(1 AS BIGINT)"
        ),
        release: format!(
            "UPDATE {t} SET failures = CASE WHEN failures > 0 THEN failures - 1 ELSE 0 END \
             WHERE {k} = $1"
        ),
    }
}

/// A reserved guess. Settle it once its check is counted ([`Slot::settle`]); dropped
/// unsettled (the request was cancelled by its deadline, or a step between failed), its
/// slot is given back in the background, so it neither counts as a failure nor stays
/// taken for the whole window.
pub struct Slot {
    store: Store,
    guard: Guard,
    key: String,
    settled: bool,
}

impl Slot {
    pub fn new(store: &Store, guard: Guard, key: &str) -> Slot {
        Slot {
            store: store.clone(),
            guard,
            key: key.to_string(),
            settled: false,
        }
    }

    /// The guess has been counted (failed, succeeded or released): nothing to give back.
    pub fn settle(mut self) {
        self.settled = true;
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let (store, guard, key) = (
            self.store.clone(),
            self.guard,
            std::mem::take(&mut self.key),
        );
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = store.attempts().release(guard, &key).await {
                    tracing::warn!(error = %format!("{e:#}"), "could not give back an attempt");
                }
            });
        }
    }
}

fn key(guard: Guard, key: &str) -> String {
    let prefix = guard.sql_names().2;
    match guard {
        // A name field sometimes receives a password typed in the wrong box: keep only
        // its SHA-256, never the text.
        Guard::StaffName => {
            use sha2::Digest;
            let digest = sha2::Sha256::digest(key.as_bytes());
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            format!("{prefix}{hex}")
        }
        // Addresses come from clients too: bound the key, never trust its length.
        Guard::StaffAddress | Guard::Ssn => {
            let mut end = key.len().min(128);
            while !key.is_char_boundary(end) {
                end -= 1;
            }
            format!("{prefix}{}", &key[..end])
        }
    }
}

impl Attempts<'_> {
    /// Reserves one guess for `k` before its secret is checked.
    pub async fn reserve(
        &self,
        guard: Guard,
        k: &str,
        now: i64,
        limit: Limit,
    ) -> anyhow::Result<Reservation> {
        let q = sql(guard);
        let k = key(guard, k);
        let since = now - limit.window_secs;
        let granted: Option<i64> = super::run!(
            self.store,
            write,
            query_scalar(
                sqlx::AssertSqlSafe(q.reserve),
                &k,
                now,
                since,
                i64::from(limit.max)
            )
            .fetch_optional,
            "Failed to reserve an attempt"
        )?;
        if granted.is_some() {
            return Ok(Reservation::Granted);
        }
        Ok(Reservation::Refused(self.locked(guard, &k, now).await?))
    }

    /// The reserved guess was wrong. Answers whether the key is locked now (by this
    /// failure or a concurrent one).
    pub async fn failed(
        &self,
        guard: Guard,
        k: &str,
        now: i64,
        limit: Limit,
    ) -> anyhow::Result<bool> {
        let q = sql(guard);
        let k = key(guard, k);
        let locked: Option<Option<i64>> = super::run!(
            self.store,
            write,
            query_scalar(
                sqlx::AssertSqlSafe(q.failed),
                &k,
                now,
                now + limit.lock_secs,
                i64::from(limit.max)
            )
            .fetch_optional,
            "Failed to count a failed attempt"
        )?;
        if locked.flatten().is_some() {
            return Ok(true);
        }
        Ok(self.locked(guard, &k, now).await?.is_some())
    }

    /// The reserved guess was right: the count starts again. Answers `false` when a
    /// concurrent failure locked the key meanwhile; the caller must then refuse. A row
    /// already gone was cleared by a concurrent right guess (the same person on two
    /// lines), which is no lock: that answers `true` too.
    pub async fn succeeded(&self, guard: Guard, k: &str, now: i64) -> anyhow::Result<bool> {
        let q = sql(guard);
        let k = key(guard, k);
        let row: Option<i64> = super::run!(
            self.store,
            write,
            query_scalar(sqlx::AssertSqlSafe(q.succeeded), &k, now).fetch_optional,
            "Failed to clear the attempt count"
        )?;
        if row.is_some() {
            return Ok(true);
        }
        Ok(self.locked(guard, &k, now).await?.is_none())
    }

    /// Gives a reserved slot back: the guess was not checked, or was right and should
    /// not count against others (an office behind one address).
    pub async fn release(&self, guard: Guard, k: &str) -> anyhow::Result<()> {
        let q = sql(guard);
        let k = key(guard, k);
        super::on_both!(
            self.store,
            write | pool | {
                sqlx::query(sqlx::AssertSqlSafe(q.release))
                    .bind(&k)
                    .execute(pool)
                    .await
                    .context("Failed to release an attempt")?;
            }
        );
        Ok(())
    }

    /// Until when `k` is locked, if it is.
    pub async fn lock_of(&self, guard: Guard, k: &str, now: i64) -> anyhow::Result<Option<i64>> {
        self.locked(guard, &key(guard, k), now).await
    }

    async fn locked(&self, guard: Guard, k: &str, now: i64) -> anyhow::Result<Option<i64>> {
        let q = sql(guard);
        // A read: on SQLite it need not wait behind the single writer.
        let until: Option<Option<i64>> = super::run!(
            self.store,
            read,
            query_scalar(sqlx::AssertSqlSafe(q.locked), k, now).fetch_optional,
            "Failed to read a lock"
        )?;
        Ok(until.flatten())
    }

    /// Deletes the counts of `guard` whose window (`window_secs`) and lock have both
    /// passed.
    pub async fn sweep(&self, guard: Guard, now: i64, window_secs: i64) -> anyhow::Result<u64> {
        let (t, _, _) = guard.sql_names();
        let sql = format!(
            "DELETE FROM {t} WHERE window_start < $1 AND (locked_until IS NULL OR locked_until < $2)"
        );
        Ok(super::run!(
            self.store,
            write,
            query(sqlx::AssertSqlSafe(sql), now - window_secs, now).execute,
            "Failed to sweep attempt counts"
        )?)
    }
}
