//! Creating the PostgreSQL database `caseline migrate` is pointed at, and saying what
//! a refused connection means in words an operator can act on.
//!
//! `migrate` creates the database as `createdb` would: connected to the server's
//! maintenance database (`postgres`, else `template1`) as the URL's user, `CREATE
//! DATABASE`. A user without the right to (most production accounts) gets the exact
//! command for an administrator to run instead, with the URL's user as the owner, so
//! the migrations can then create their tables in it.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};

/// How long one connection attempt may take before the server counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// SQLSTATE of a database that does not exist (`invalid_catalog_name`).
const NO_SUCH_DATABASE: &str = "3D000";
/// SQLSTATE of a database created meanwhile by someone else.
const DUPLICATE_DATABASE: &str = "42P04";

/// What [`ensure_database`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Database {
    Existed,
    Created,
}

/// Where a URL leads: enough to name it in a message and in a command.
struct Target {
    host: String,
    port: u16,
    user: String,
    name: String,
}

impl Target {
    fn of(opts: &PgConnectOptions) -> Target {
        let user = opts.get_username().to_string();
        Target {
            host: opts.get_host().to_string(),
            port: opts.get_port(),
            // Without a database in the URL, PostgreSQL takes the user's name.
            name: opts.get_database().unwrap_or(&user).to_string(),
            user,
        }
    }

    /// The commands that create the database, for someone allowed to: `createdb`, or
    /// the SQL, each owned by the URL's user.
    fn commands(&self) -> String {
        format!(
            "createdb -h {} -p {} -U postgres -O {} {}\n  or, in psql as a superuser: \
             CREATE DATABASE {} OWNER {};",
            shell_word(&self.host),
            self.port,
            shell_word(&self.user),
            shell_word(&self.name),
            identifier(&self.name),
            identifier(&self.user),
        )
    }
}

/// Creates the database `opts` names if it does not exist and the server lets the
/// URL's user create it; otherwise says the command that would.
pub(super) async fn ensure_database(opts: &PgConnectOptions) -> anyhow::Result<Database> {
    let target = Target::of(opts);
    match connect(opts).await {
        Ok(conn) => {
            let _ = conn.close().await;
            return Ok(Database::Existed);
        }
        Err(e) if code(&e).as_deref() == Some(NO_SUCH_DATABASE) => {}
        Err(e) => return Err(explain(e, opts)),
    }
    let mut maintenance = match connect(&opts.clone().database("postgres")).await {
        Ok(conn) => conn,
        Err(_) => connect(&opts.clone().database("template1"))
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "database \"{}\" does not exist on {}:{}, and Caseline could not create \
                     it: user \"{}\" cannot connect to the server's postgres or template1 \
                     database ({}). Create it with:\n  {}\nthen run `caseline migrate` again.",
                    target.name,
                    target.host,
                    target.port,
                    target.user,
                    said(&e),
                    target.commands()
                )
            })?,
    };
    let sql = format!("CREATE DATABASE {}", identifier(&target.name));
    // The name is the operator's own URL's, quoted as an identifier.
    let created = sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut maintenance)
        .await;
    let _ = maintenance.close().await;
    match created {
        Ok(_) => Ok(Database::Created),
        Err(e) if code(&e).as_deref() == Some(DUPLICATE_DATABASE) => Ok(Database::Existed),
        Err(e) => Err(anyhow::anyhow!(
            "database \"{}\" does not exist on {}:{}, and user \"{}\" may not create it ({}). \
             Ask the database's administrator to run:\n  {}\nthen run `caseline migrate` again.",
            target.name,
            target.host,
            target.port,
            target.user,
            said(&e),
            target.commands()
        )),
    }
}

/// One connection, within [`CONNECT_TIMEOUT`].
async fn connect(opts: &PgConnectOptions) -> Result<PgConnection, sqlx::Error> {
    match tokio::time::timeout(CONNECT_TIMEOUT, opts.connect()).await {
        Ok(conn) => conn,
        Err(_) => Err(sqlx::Error::PoolTimedOut),
    }
}

/// A refused or failed connection in words that say what to do: where PostgreSQL was
/// looked for, and for a missing database, the command that creates it. The server's
/// own message once (sqlx's error repeats it with its source, and a line number of the
/// server's C code).
pub(super) fn explain(e: sqlx::Error, opts: &PgConnectOptions) -> anyhow::Error {
    let t = Target::of(opts);
    let (host, port) = (&t.host, t.port);
    match &e {
        // Refused, unreachable or silent: the pool only says it timed out.
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) => anyhow::anyhow!(
            "cannot reach PostgreSQL at {host}:{port} within 3 s: is it running there, \
             and does CASELINE_DATABASE_URL name it? (`pg_isready -h {host} -p {port}` \
             tells)"
        ),
        _ if code(&e).as_deref() == Some(NO_SUCH_DATABASE) => anyhow::anyhow!(
            "database \"{}\" does not exist on {host}:{port}: `caseline migrate` creates it \
             (if user \"{}\" may), or create it with:\n  {}",
            t.name,
            t.user,
            t.commands()
        ),
        sqlx::Error::Database(_) => anyhow::anyhow!(
            "PostgreSQL at {host}:{port} refused user \"{}\" on database \"{}\": {}",
            t.user,
            t.name,
            said(&e)
        ),
        _ => anyhow::anyhow!("Failed to connect to PostgreSQL at {host}:{port}: {e}"),
    }
}

/// The SQLSTATE of a database's refusal.
fn code(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
        _ => None,
    }
}

/// The server's message alone for its refusals; sqlx's text for the rest.
fn said(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => db.message().to_string(),
        other => other.to_string(),
    }
}

/// A name as one shell word: as it is when it is plain, else in single quotes.
fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/' | b':'));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// A name as a PostgreSQL identifier, always quoted (so case and any character stay).
fn identifier(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_quoted_for_the_shell_and_for_sql() {
        assert_eq!(shell_word("caseline"), "caseline");
        assert_eq!(shell_word("/var/run/postgresql"), "/var/run/postgresql");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(identifier("Case\"line"), "\"Case\"\"line\"");
    }

    #[test]
    fn the_commands_name_host_port_owner_and_database() {
        let opts: PgConnectOptions = "postgres://ivr@db.agency.example:6543/caseline"
            .parse()
            .unwrap();
        assert_eq!(
            Target::of(&opts).commands(),
            "createdb -h db.agency.example -p 6543 -U postgres -O ivr caseline\n  or, in psql \
             as a superuser: CREATE DATABASE \"caseline\" OWNER \"ivr\";"
        );
    }
}
