//! What each kind of call costs PostgreSQL, counted on the wire: a proxy between the
//! server and the database reads the protocol's messages and counts each statement
//! executed, by its SQL. Budgets per call kind, so a change that adds statements to a
//! call shows here (issue 27: about 22 for a verifying call before).

use crate::helpers as common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use common::{Backend, TestApp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const MARCO: (&str, &str) = ("900234567", "4820193757");

on_postgres!(
    each_kind_of_call_costs_the_database_no_more_than_its_budget,
    the_wire_counter_counts_what_it_is_sent,
    audit_lines_written_together_share_statements,
);

/// Statements executed through the proxy, by their SQL's first words.
#[derive(Clone, Default)]
struct Statements(Arc<Mutex<BTreeMap<String, u64>>>);

impl Statements {
    fn count(&self, sql: &str) {
        let key: String = sql.split_whitespace().take(6).collect::<Vec<_>>().join(" ");
        *self.0.lock().unwrap().entry(key).or_default() += 1;
    }

    /// What was counted since the last take, and starts again.
    fn take(&self) -> BTreeMap<String, u64> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// Starts a proxy to the PostgreSQL at `url`; answers the URL through it.
async fn counting_proxy(url: &str, statements: Statements) -> String {
    // postgres://user@host:port/database: the part between '@' and the next '/'.
    let at = url.find('@').expect("a user in the URL") + 1;
    let end = at + url[at..].find('/').expect("a database in the URL");
    let upstream = match &url[at..end] {
        host if host.contains(':') => host.to_string(),
        host => format!("{host}:5432"),
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let statements = statements.clone();
            let upstream = upstream.clone();
            tokio::spawn(async move {
                if let Ok(server) = TcpStream::connect(&upstream).await {
                    let _ = relay(client, server, statements).await;
                }
            });
        }
    });
    format!("{}127.0.0.1:{port}{}", &url[..at], &url[end..])
}

/// Relays one connection, reading the client's messages: an encryption request is
/// refused here (so the rest can be read), the startup message passes, then each typed
/// message is parsed for `Parse` (a statement's SQL), `Bind` (which statement a portal
/// runs), `Execute` and `Query` (a statement run).
async fn relay(
    mut client: TcpStream,
    mut server: TcpStream,
    statements: Statements,
) -> std::io::Result<()> {
    // Untyped messages first: SSL/GSS requests (refused), then the startup message.
    loop {
        let len = usize::try_from(client.read_i32().await?)
            .unwrap_or(0)
            .max(8);
        let mut body = vec![0; len - 4];
        client.read_exact(&mut body).await?;
        let code = i32::from_be_bytes([body[0], body[1], body[2], body[3]]);
        if code == 80877103 || code == 80877104 {
            client.write_all(b"N").await?;
            continue;
        }
        server.write_i32(len as i32).await?;
        server.write_all(&body).await?;
        break;
    }
    let (mut from_server, mut to_server) = server.into_split();
    let (mut from_client, mut to_client) = client.into_split();
    tokio::spawn(async move {
        let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
    });
    let mut named: BTreeMap<String, String> = BTreeMap::new();
    let mut portal_statement = String::new();
    loop {
        let kind = from_client.read_u8().await?;
        let len = usize::try_from(from_client.read_i32().await?)
            .unwrap_or(0)
            .max(4);
        let mut body = vec![0; len - 4];
        from_client.read_exact(&mut body).await?;
        let mut fields = body.split(|b| *b == 0).map(String::from_utf8_lossy);
        match kind {
            b'P' => {
                let name = fields.next().unwrap_or_default().into_owned();
                let sql = fields.next().unwrap_or_default().into_owned();
                named.insert(name, sql);
            }
            b'B' => {
                let _portal = fields.next();
                portal_statement = fields.next().unwrap_or_default().into_owned();
            }
            b'E' => {
                if let Some(sql) = named.get(&portal_statement) {
                    statements.count(sql);
                }
            }
            b'Q' => statements.count(&fields.next().unwrap_or_default()),
            _ => {}
        }
        to_server.write_u8(kind).await?;
        to_server.write_i32(len as i32).await?;
        to_server.write_all(&body).await?;
    }
}

/// A server on PostgreSQL through a counting proxy, with the demo data.
async fn counted(b: Backend) -> (TestApp, Statements) {
    let Backend::Postgres(url) = b else {
        panic!("PostgreSQL only");
    };
    let statements = Statements::default();
    let through = counting_proxy(&url, statements.clone()).await;
    let app = TestApp::spawn(Backend::Postgres(through))
        .await
        .with_demo_data()
        .await;
    // Let the writer and the set-up settle, then start from nothing.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    statements.take();
    (app, statements)
}

/// The counter sees what it is sent: two reads of one statement, then one other.
async fn the_wire_counter_counts_what_it_is_sent(b: Backend) {
    let (app, statements) = counted(b).await;
    let (url, schema) = app.postgres().expect("PostgreSQL");
    let pool = sqlx::PgPool::connect(&url).await.expect("connect");
    let sql = format!("SELECT count(*) FROM {schema}.call_sessions WHERE call_sid = $1");
    for _ in 0..2 {
        let _: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
            .bind("CA1")
            .fetch_one(&pool)
            .await
            .expect("read");
    }
    sqlx::query("SELECT 1").execute(&pool).await.expect("one");
    pool.close().await;
    let seen = statements.take();
    assert_eq!(
        seen.get(&format!(
            "SELECT count(*) FROM {schema}.call_sessions WHERE call_sid"
        )),
        Some(&2),
        "{seen:?}"
    );
    assert_eq!(seen.get("SELECT 1"), Some(&1), "{seen:?}");
}

/// What a call cost since the last take, once the writes its hang-up started are in
/// (its path is written in the background).
async fn cost(statements: &Statements) -> (u64, BTreeMap<String, u64>) {
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    let seen = statements.take();
    (seen.values().sum(), seen)
}

/// Fails with the whole count when a call kind costs more than its budget.
fn within(kind: &str, budget: u64, (total, seen): (u64, BTreeMap<String, u64>)) {
    assert!(
        total <= budget,
        "a {kind} call cost {total} statements (budget {budget}): {seen:#?}"
    );
    assert!(total > 0, "nothing was counted for a {kind} call");
}

/// Budgets, one call at a time (under load the session saves and audit lines of many
/// calls share statements, so a call costs less). Measured when set: information 6,
/// verifying 16, a failed verification 14, to a person 6; one more each before the end
/// of a call read its session and ended it in one statement, and before that the
/// announcement was read at every call's start. Information 5 since a batch's session
/// writes go in one statement (the last position with the end).
async fn each_kind_of_call_costs_the_database_no_more_than_its_budget(b: Backend) {
    let (app, statements) = counted(b).await;

    // Information only: the language, the main menu, general information, hang up.
    // The session is written twice (a new call, its language), the moves in between
    // queued behind (in one statement with whatever is queued with them: each other,
    // the end), the announcement read, the call's path kept.
    let mut call = app.call();
    call.dial().await;
    call.press("1").await;
    call.press("3").await;
    call.press("9").await;
    call.hang_up().await;
    within("information", 5, cost(&statements).await);

    // Verifying for payments and hearing them: the lock, the reservation and its
    // release, the participant, cases and payments, two audit lines, and the session
    // saves at each change (the announcement is read at most once a second).
    let mut call = app.call();
    call.dial().await;
    call.press("1").await;
    let heard = call.verify_for_payments(MARCO.0, MARCO.1).await;
    assert!(heard.says("monthly support"), "{}", heard.said());
    call.hang_up().await;
    within("verifying", 16, cost(&statements).await);

    // A wrong PAR ID.
    let mut call = app.call();
    call.dial().await;
    call.press("1").await;
    let again = call.verify_for_payments(MARCO.0, "4820190000").await;
    assert!(!again.says("monthly support"), "{}", again.said());
    call.hang_up().await;
    within("failed verification", 14, cost(&statements).await);

    // To a person: the main menu, 0, hang up from the queue.
    let mut call = app.call();
    call.dial().await;
    call.press("1").await;
    let person = call.press("0").await;
    assert!(person.find("Enqueue").is_some(), "{}", person.xml);
    call.hang_up().await;
    within("to a person", 6, cost(&statements).await);
}

/// Audit lines written at once (many calls verifying together) share statements, and
/// every line is kept.
async fn audit_lines_written_together_share_statements(b: Backend) {
    use caseline::store::AuditLine;
    let (app, statements) = counted(b).await;
    let now = app.state.line.now();
    let log = app.state.line.store.audit_log();
    let sids: Vec<String> = (0..32).map(|i| format!("CA{i:032x}")).collect();
    let writes = sids.iter().map(|sid| {
        let log = &log;
        async move {
            log.write(AuditLine::in_call(now, Some(sid), "verify", "ok"))
                .await
        }
    });
    for written in futures::future::join_all(writes).await {
        written.expect("each line is written");
    }
    let seen = statements.take();
    let inserts: u64 = seen
        .iter()
        .filter(|(sql, _)| sql.starts_with("INSERT INTO audit"))
        .map(|(_, n)| n)
        .sum();
    assert!(
        (1..32).contains(&inserts),
        "32 lines in {inserts} statements: {seen:#?}"
    );
    for sid in &sids {
        let lines = log.for_call(sid).await.expect("read");
        assert_eq!(lines.len(), 1, "{sid}");
    }
}
