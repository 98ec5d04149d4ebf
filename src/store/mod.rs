//! Persistence: SQLite (embedded default, created and migrated on first run) or
//! PostgreSQL (production). One enum, one method per question the IVR asks; each runs
//! one indexed statement. Where the dialects agree the SQL text is shared (`$1`
//! placeholders work in both); each backend has its own `migrations/<backend>/`.

mod announcements;
mod attempts;
mod audit;
mod backend;
pub mod call_paths;
pub mod callbacks;
pub mod card_payments;
pub mod cases;
pub mod health;
mod key_fingerprints;
mod postgres;
pub mod requests;
mod sessions;
mod sqlite;
pub mod staff;
mod work;
pub use announcements::Announcement;
pub use attempts::{Guard, Limit, Reservation, Slot};
pub use audit::{AuditEntry, AuditLine};
use backend::{Backend, on_backend};
pub use call_paths::CallPathRow;
pub use postgres::{Database, Postgres, SessionReads};
pub use sqlite::Sqlite;
pub use work::WorkKind;

/// A session not touched for this long is treated as over (the provider caps calls at
/// four hours).
pub const SESSION_TTL_SECS: i64 = 4 * 3600;
/// Rows older than this are deleted by the sweeper.
pub const SESSION_KEEP_SECS: i64 = 24 * 3600;

#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(Sqlite),
    Postgres(Postgres),
}

/// Runs the same statement on whichever backend this is; `read` or `write` picks the
/// SQLite pool.
macro_rules! on_both {
    ($store:expr, read |$pool:ident| $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite($crate::store::Sqlite { read: $pool, .. }) => $body,
            $crate::store::Store::Postgres($crate::store::Postgres { pool: $pool, .. }) => $body,
        }
    };
    ($store:expr, write |$pool:ident| $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite($crate::store::Sqlite { write: $pool, .. }) => $body,
            $crate::store::Store::Postgres($crate::store::Postgres { pool: $pool, .. }) => $body,
        }
    };
}

pub(in crate::store) use on_both;

/// Runs one statement on whichever backend, given only the statement: its maker
/// (`query`, `query_as`, `query_scalar`), its text and the values bound in order, how
/// it runs (`execute` answers the rows changed; `fetch_one`, `fetch_optional`,
/// `fetch_all` the rows) and what failed if it does; `read` or `write` picks the
/// SQLite pool. `run!(self.store, write, query(sql, id).execute, "Failed to ...")`.
macro_rules! run {
    ($store:expr, $pool:ident, query($sql:expr $(, $arg:expr)* $(,)?).execute, $what:expr) => {
        anyhow::Context::context(
            $crate::store::on_both!(
                $store,
                $pool | pool | sqlx::query($sql)$(.bind($arg))*.execute(pool).await.map(|r| r.rows_affected())
            ),
            $what,
        )
    };
    ($store:expr, $pool:ident, $make:ident($sql:expr $(, $arg:expr)* $(,)?).$fetch:ident, $what:expr) => {
        anyhow::Context::context(
            $crate::store::on_both!($store, $pool | pool | sqlx::$make($sql)$(.bind($arg))*.$fetch(pool).await),
            $what,
        )
    };
}

pub(in crate::store) use run;

/// A `WHERE` clause joining `conditions` (constants of ours, never input) with `AND`;
/// empty when there are none.
fn where_all<S: AsRef<str>>(conditions: &[S]) -> String {
    if conditions.is_empty() {
        return String::new();
    }
    let parts: Vec<&str> = conditions.iter().map(AsRef::as_ref).collect();
    format!("WHERE {}", parts.join(" AND "))
}

/// Declares a part of the store: a view that says what it holds, reached as
/// `store.<part>()` (`store.sessions().load(..)`), with its queries in its own `impl`.
macro_rules! part {
    ($name:ident, $method:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Copy)]
        pub struct $name<'a> {
            pub(in crate::store) store: &'a Store,
        }

        impl Store {
            #[doc = $doc]
            pub fn $method(&self) -> $name<'_> {
                $name { store: self }
            }
        }
    };
}

part!(
    Sessions,
    sessions,
    "Call sessions: where each call is, between webhooks."
);
part!(
    Announcements,
    announcements,
    "The emergency announcement slot."
);
part!(
    Attempts,
    attempts,
    "Guesses counted before they are checked (PAR IDs, staff passwords)."
);
part!(
    AuditLog,
    audit_log,
    "The audit table: who did what, never the digits."
);
part!(
    Cases,
    cases,
    "Participants, cases, payments and disbursements from the extract."
);
part!(
    StaffAccounts,
    staff,
    "Staff accounts, their logins, and their hand-offs of live calls."
);
part!(
    KeyFingerprints,
    key_fingerprints,
    "Fingerprints of the keys the stored data depends on (never the keys)."
);
part!(
    CallbackQueue,
    callback_queue,
    "Callback requests left by callers."
);
part!(
    RequestQueue,
    requests,
    "Things verified callers asked for by phone (by mail)."
);
part!(
    CardPayments,
    card_payments,
    "Card payments verified callers made by phone (what the processor confirmed)."
);
part!(
    CallPaths,
    call_paths,
    "How each ended call went (for the reports)."
);
part!(
    WorkQueue,
    work,
    "Claiming and completing work items (callbacks, requests by mail)."
);

impl Store {
    /// Connects (creating a SQLite file if missing) and applies pending migrations.
    pub async fn connect(url: &str) -> anyhow::Result<Store> {
        Self::open(url, crate::config::DEFAULT_DATABASE_POOL).await
    }

    /// As [`Store::connect`], keeping `pool` connections to PostgreSQL.
    pub async fn open(url: &str, pool: u32) -> anyhow::Result<Store> {
        Self::connect_with(url, None, pool).await
    }

    /// As [`Store::connect`], with PostgreSQL confined to one schema (tests use a fresh
    /// schema each).
    pub async fn connect_in_schema(url: &str, schema: Option<&str>) -> anyhow::Result<Store> {
        Self::connect_with(url, schema, crate::config::DEFAULT_DATABASE_POOL).await
    }

    async fn connect_with(url: &str, schema: Option<&str>, pool: u32) -> anyhow::Result<Store> {
        if let Some((scheme, _)) = url.split_once("://")
            && !matches!(scheme, "sqlite" | "postgres" | "postgresql")
        {
            anyhow::bail!(
                "CASELINE_DATABASE_URL names a {scheme}:// database, which Caseline does not \
                 use: give sqlite://PATH (the default, sqlite://caseline.db) or \
                 postgres://USER@HOST:PORT/DATABASE"
            );
        }
        let store = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Store::Postgres(Postgres::connect(url, schema, pool).await?)
        } else {
            Store::Sqlite(Sqlite::connect(url).await?)
        };
        store.migrate().await?;
        Ok(store)
    }

    /// `caseline migrate`'s first step: on PostgreSQL, creates the database the URL
    /// names when it is missing and its user may, and otherwise refuses saying the
    /// command that would. A SQLite file is created by opening it: `None`.
    pub async fn create_database(url: &str) -> anyhow::Result<Option<Database>> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Some(Postgres::ensure_database(url).await?))
        } else {
            Ok(None)
        }
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        on_backend!(self, |b| b.migrate().await)
    }

    /// Makes this process the server that answers calls on this database. On SQLite it
    /// takes the database's server lock (refusing while another server holds it) and
    /// then keeps each committed call session in memory, so a webhook reads its session
    /// without touching the file. PostgreSQL is shared by every server behind the load
    /// balancer: nothing changes there, each webhook reads its session.
    ///
    /// Commands that only manage data (`import`, `staff`, `announce`...) do not claim, so
    /// they run beside a live server.
    pub fn claim_sessions(&self) -> anyhow::Result<()> {
        on_backend!(self, |b| b.claim())
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        let answered = on_both!(
            self,
            read | pool | {
                sqlx::query_scalar::<_, i32>("SELECT 1")
                    .fetch_one(pool)
                    .await
            }
        );
        answered.is_ok()
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// Stops the store: reads and writes fail from now on, and on SQLite everything
    /// already queued is committed first.
    pub async fn close(&self) {
        on_backend!(self, |b| b.close().await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database of another kind is refused, saying which URLs are taken, and not
    /// taken for a SQLite file name; its password is not repeated.
    #[tokio::test]
    async fn a_database_url_of_another_kind_says_what_to_give() {
        let Err(e) = Store::connect("mysql://caseline:s3cret@db.agency.example/ivr").await else {
            panic!("a mysql:// URL was taken");
        };
        let said = format!("{e:#}");
        assert!(said.contains("mysql://"), "{said}");
        assert!(
            said.contains("sqlite://PATH") && said.contains("postgres://"),
            "{said}"
        );
        assert!(!said.contains("s3cret"), "{said}");
        assert!(!std::path::Path::new("mysql:").exists());
    }
}
