//! What an agency's operations team meets putting the line in place: the staff console
//! on an address of its own (the provider's port answering 404 under `/staff`), a
//! PostgreSQL database created by `caseline migrate` or the command for an
//! administrator, a misspelt setting refused, and logs a pipeline can read.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use caseline::app::Application;
use caseline::clock::FixedClock;
use caseline::http::signature::{Algorithm, sign, signing_payload};
use caseline::staff::Role;
use caseline::store::Store;

use crate::helpers::{self as common, PUBLIC_URL, TOKEN};

/// A server on loopback with the settings `adjust` makes, stopped when dropped.
struct Running {
    web: SocketAddr,
    staff: Option<SocketAddr>,
    metrics: Option<SocketAddr>,
    state: caseline::state::AppState,
    _stop: tokio::sync::oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

async fn run(adjust: impl FnOnce(&mut caseline::config::Settings)) -> Running {
    let dir = tempfile::tempdir().expect("dir");
    let mut settings = common::settings();
    settings.listen = "127.0.0.1:0".parse().expect("addr");
    adjust(&mut settings);
    let store = Store::connect(&format!("sqlite://{}/d.db", dir.path().display()))
        .await
        .expect("store");
    let app = Application::build_with(
        settings,
        store,
        Arc::new(FixedClock::at(common::open_time())),
    )
    .await
    .expect("app");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = Running {
        web: app.local_addr().expect("addr"),
        staff: app.staff_addr(),
        metrics: app.metrics_addr(),
        state: app.state(),
        _stop: stop,
        _dir: dir,
    };
    tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    running
}

/// The status of `GET http://{addr}{path}`, and the body.
async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let res = reqwest::get(format!("http://{addr}{path}"))
        .await
        .unwrap_or_else(|e| panic!("GET {addr}{path}: {e}"));
    let status = res.status().as_u16();
    (status, res.text().await.unwrap_or_default())
}

/// A staff sign-in at `addr`: the status, and the token if one came back.
async fn sign_in(addr: SocketAddr, name: &str, password: &str) -> (u16, Option<String>) {
    let res = reqwest::Client::new()
        .post(format!("http://{addr}/staff/login"))
        .header("content-type", "application/json")
        .body(serde_json::json!({"name": name, "password": password}).to_string())
        .send()
        .await
        .expect("an answer");
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    let body: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    (status, body["token"].as_str().map(String::from))
}

/// A call coming in, signed as the provider signs it, posted to `addr`: the status and
/// the TwiML.
async fn incoming_call(addr: SocketAddr) -> (u16, String) {
    let sid = format!("CA{}", uuid::Uuid::new_v4().simple());
    let params = vec![
        ("CallSid".to_string(), sid),
        ("From".to_string(), "+15592310177".to_string()),
        ("To".to_string(), common::TOLL_FREE.to_string()),
    ];
    let sig = sign(
        Algorithm::HmacSha1,
        TOKEN,
        &signing_payload(&format!("{PUBLIC_URL}/voice/incoming"), &params),
    );
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter())
        .finish();
    let res = reqwest::Client::new()
        .post(format!("http://{addr}/voice/incoming"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", sig)
        .body(body)
        .send()
        .await
        .expect("an answer");
    let status = res.status().as_u16();
    (status, res.text().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_staff_address_the_console_answers_there_and_the_webhook_port_has_no_staff() {
    let server = run(|s| s.staff_listen = Some("127.0.0.1:0".parse().expect("addr"))).await;
    let staff = server.staff.expect("a staff address");
    assert_ne!(staff, server.web);
    let s = &server.state;
    let password = "dana-correct-horse-battery";
    caseline::staff::add(
        &s.line.store,
        &s.line.hasher,
        s.line.now(),
        "dana",
        Role::Supervisor,
        None,
        password,
    )
    .await
    .expect("account");

    // The staff address: the console page and script, a sign-in, the API.
    let (status, page) = get(staff, "/staff").await;
    assert_eq!(status, 200);
    assert!(page.contains("Caseline staff console"), "{page}");
    assert_eq!(get(staff, "/staff/console.js").await.0, 200);
    let (status, token) = sign_in(staff, "dana", password).await;
    assert_eq!(status, 200);
    let me = reqwest::Client::new()
        .get(format!("http://{staff}/staff/me"))
        .header(
            "authorization",
            format!("Bearer {}", token.expect("a token")),
        )
        .send()
        .await
        .expect("an answer");
    assert_eq!(me.status().as_u16(), 200);

    // The webhook port: nothing under /staff, signed in or not, and no metrics.
    for path in [
        "/staff",
        "/staff/console.js",
        "/staff/me",
        "/staff/calls",
        "/metrics",
    ] {
        assert_eq!(get(server.web, path).await.0, 404, "GET {path}");
    }
    assert_eq!(sign_in(server.web, "dana", password).await.0, 404);

    // The webhooks stay on the webhook port, and only there.
    let (status, twiml) = incoming_call(server.web).await;
    assert_eq!(status, 200);
    assert!(twiml.contains("<Gather"), "{twiml}");
    assert_eq!(get(server.web, "/healthz").await.0, 200);
    assert_eq!(incoming_call(staff).await.0, 404);
    assert_eq!(get(staff, "/healthz").await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_staff_address_the_console_shares_the_webhook_port() {
    let server = run(|_| {}).await;
    assert_eq!(server.staff, None);
    let (status, page) = get(server.web, "/staff").await;
    assert_eq!(status, 200);
    assert!(page.contains("Caseline staff console"), "{page}");
    assert_eq!(incoming_call(server.web).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_named_at_the_staff_address_are_served_there() {
    // A free port, named twice: one listener serves both.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let server = run(|s| {
        s.staff_listen = Some(addr);
        s.metrics_listen = Some(addr);
    })
    .await;
    assert_eq!(server.staff, Some(addr));
    assert_eq!(server.metrics, Some(addr));
    assert_eq!(incoming_call(server.web).await.0, 200);
    let (status, text) = get(addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(text.contains("caseline_webhooks_total"), "{text}");
    assert_eq!(get(addr, "/staff").await.0, 200);
    assert_eq!(get(server.web, "/metrics").await.0, 404);
}

/// The `caseline` binary, run in an empty folder with only the settings the test gives.
fn caseline(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_caseline"));
    cmd.current_dir(dir)
        .env_remove("CASELINE_CONFIG")
        .env_remove("CASELINE_DATABASE_URL")
        .env_remove("CASELINE_LOG_FORMAT")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    cmd
}

#[test]
fn a_misspelt_setting_in_the_file_stops_the_command_naming_line_and_setting() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("caseline.toml");
    std::fs::write(
        &file,
        "# the agency's settings\npublic_url = \"https://ivr.agency.example\"\nstaff_listne = \"10.0.0.5:8081\"\n",
    )
    .expect("write");
    let out = caseline(dir.path())
        .arg("migrate")
        .env(
            "CASELINE_DATABASE_URL",
            format!("sqlite://{}/x.db", dir.path().display()),
        )
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert_eq!(
        stderr.trim(),
        "error: caseline.toml:3: unknown setting 'staff_listne' (did you mean 'staff_listen'?)"
    );
    assert!(
        !dir.path().join("x.db").exists(),
        "the database was opened anyway"
    );
}

#[test]
fn a_log_format_other_than_text_or_json_is_refused_with_the_words_taken() {
    let dir = tempfile::tempdir().expect("dir");
    let out = caseline(dir.path())
        .args(["flows", "check"])
        .env("CASELINE_LOG_FORMAT", "logfmt")
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("CASELINE_LOG_FORMAT must be text or json, not 'logfmt'"),
        "{stderr}"
    );
}

/// `caseline serve` with JSON logs: every line an object with the time, level, target
/// and message; a webhook's lines carry its span with the route and CallSid, and none
/// the caller's number.
#[test]
fn json_logs_are_one_object_a_line_with_time_level_target_message_and_spans() {
    let dir = tempfile::tempdir().expect("dir");
    let root = env!("CARGO_MANIFEST_DIR");
    let mut child = caseline(dir.path())
        .args(["serve", "--insecure-no-signature"])
        .env("CASELINE_LOG_FORMAT", "json")
        .env("RUST_LOG", "info,caseline=debug")
        .env("CASELINE_LISTEN", "127.0.0.1:0")
        .env("CASELINE_FLOWS_DIR", format!("{root}/call-flows"))
        .env("CASELINE_PROMPTS_DIR", format!("{root}/prompts"))
        .env("CASELINE_HOLIDAYS_FILE", "none")
        .env("CASELINE_BLIND_INDEX_KEY", common::BLIND_KEY)
        .env(
            "CASELINE_DATABASE_URL",
            format!("sqlite://{}/logs.db", dir.path().display()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start");
    struct Killed(std::process::Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stderr = child.stderr.take().expect("stderr");
    let child = Killed(child);
    let (lines_in, lines) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines_in.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    // Reads lines, each parsed as JSON, until one matches.
    let mut next_until = |want: &dyn Fn(&serde_json::Value) -> bool| -> serde_json::Value {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no such line in time; the log:\n{}", seen.join("\n")));
            let value: serde_json::Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("not one JSON object a line ({e}): {line}"));
            seen.push(line);
            for field in ["timestamp", "level", "target", "message"] {
                assert!(value[field].is_string(), "no {field} in {value}");
            }
            if want(&value) {
                return value;
            }
        }
    };
    let answering = next_until(&|v| v["message"] == "caseline is answering");
    assert_eq!(answering["level"], "INFO");
    assert_eq!(answering["target"], "caseline::cli::serve");
    assert!(
        chrono::DateTime::parse_from_rfc3339(answering["timestamp"].as_str().unwrap_or("")).is_ok(),
        "{answering}"
    );
    let addr: SocketAddr = answering["addr"]
        .as_str()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no addr in {answering}"));

    let sid = format!("CA{}", uuid::Uuid::new_v4().simple());
    let caller = "+15592310177";
    let status = post_incoming_blocking(addr, &sid, caller);
    assert_eq!(status, 200);
    let answered = next_until(&|v| v["message"] == "webhook answered");
    assert_eq!(answered["level"], "DEBUG");
    let span = answered["spans"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == "webhook"))
        .unwrap_or_else(|| panic!("no webhook span in {answered}"));
    assert_eq!(span["route"], "/voice/incoming", "{answered}");
    assert_eq!(span["call_sid"], sid.as_str(), "{answered}");
    drop(child);
    let log = seen.join("\n");
    assert!(
        !log.contains(&caller[2..]),
        "the caller's number was logged:\n{log}"
    );
}

/// An unsigned incoming call posted to `addr`, blocking (the JSON-log test has no
/// runtime of its own): the status, 0 if none came.
fn post_incoming_blocking(addr: SocketAddr, sid: &str, from: &str) -> u16 {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        reqwest::Client::new()
            .post(format!("http://{addr}/voice/incoming"))
            .form(&[("CallSid", sid), ("From", from), ("To", common::TOLL_FREE)])
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    })
}

/// A database name of the test's own on the test PostgreSQL, and the server's URL; the
/// database is dropped (and the role, if the test made one) when the test ends, passed
/// or failed.
struct FreshDatabase {
    /// `postgres://USER@HOST:PORT/` of `CASELINE_TEST_POSTGRES_URL`, without a database.
    server: String,
    admin: String,
    name: String,
    role: Option<String>,
}

impl FreshDatabase {
    fn new() -> FreshDatabase {
        let common::Backend::Postgres(admin) = common::Backend::postgres() else {
            unreachable!("Backend::postgres is PostgreSQL or a panic")
        };
        assert!(!admin.contains('?'), "a URL without parameters: {admin}");
        let (server, _) = admin.rsplit_once('/').expect("postgres://.../DATABASE");
        FreshDatabase {
            server: format!("{server}/"),
            admin,
            name: format!("caseline_m_{}", uuid::Uuid::new_v4().simple()),
            role: None,
        }
    }

    /// The database's URL as `user` (the test's own user if `None`).
    fn url(&self, user: Option<&str>) -> String {
        match user {
            None => format!("{}{}", self.server, self.name),
            Some(user) => {
                let (scheme, rest) = self.server.split_once("://").expect("a URL");
                let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
                format!("{scheme}://{user}@{host}{}", self.name)
            }
        }
    }

    /// Runs SQL on the test's own database as the test's user.
    async fn admin(&self, sql: String) -> Result<(), sqlx::Error> {
        let pool = sqlx::PgPool::connect(&self.admin).await?;
        // Names are the test's own (UUIDs), never input.
        let done = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await;
        pool.close().await;
        done.map(|_| ())
    }

    async fn exists(&self) -> bool {
        let pool = sqlx::PgPool::connect(&self.admin).await.expect("connect");
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname = $1")
            .bind(&self.name)
            .fetch_one(&pool)
            .await
            .expect("count");
        pool.close().await;
        n == 1
    }
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        let mut sql = vec![format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            self.name
        )];
        if let Some(role) = &self.role {
            sql.push(format!("DROP ROLE IF EXISTS \"{role}\""));
        }
        let admin = self.admin.clone();
        // Drop cannot wait on the test's runtime: one of its own, on its own thread.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async {
                let pool = sqlx::PgPool::connect(&admin).await?;
                for s in sql {
                    sqlx::query(sqlx::AssertSqlSafe(s)).execute(&pool).await?;
                }
                pool.close().await;
                Ok::<(), sqlx::Error>(())
            })
            .map_err(|e| e.to_string())
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("database {} was not dropped: {dropped:?}", self.name);
        }
    }
}

/// `caseline migrate` against `url`, from an empty folder: success, stdout, stderr.
async fn migrate(url: &str) -> (bool, String, String) {
    let dir = tempfile::tempdir().expect("dir");
    let mut cmd = tokio::process::Command::from(caseline(dir.path()));
    let out = cmd
        .arg("migrate")
        .env("CASELINE_DATABASE_URL", url)
        .output()
        .await
        .expect("run");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
#[ignore = "needs PostgreSQL: set CASELINE_TEST_POSTGRES_URL, run with --include-ignored"]
async fn migrate_creates_a_missing_postgres_database_and_applies_the_migrations() {
    let db = FreshDatabase::new();
    assert!(!db.exists().await);
    let (ok, stdout, stderr) = migrate(&db.url(None)).await;
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("created the database ({})", db.url(None))),
        "{stdout}"
    );
    assert!(
        stdout.contains("database ready (postgres), migrations applied"),
        "{stdout}"
    );
    assert!(db.exists().await);
    let pool = sqlx::PgPool::connect(&db.url(None)).await.expect("connect");
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&pool)
        .await
        .expect("the migrations table");
    pool.close().await;
    let shipped = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
        .expect("migrations")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sql"))
        })
        .count();
    assert_eq!(usize::try_from(applied).ok(), Some(shipped));

    // Again: nothing to create, nothing new to apply.
    let (ok, stdout, stderr) = migrate(&db.url(None)).await;
    assert!(ok, "{stdout}{stderr}");
    assert!(!stdout.contains("created"), "{stdout}");
    assert!(stdout.contains("migrations applied"), "{stdout}");
}

#[tokio::test]
#[ignore = "needs PostgreSQL: set CASELINE_TEST_POSTGRES_URL, run with --include-ignored"]
async fn migrate_without_the_right_to_create_says_the_command_to_run_once() {
    let mut db = FreshDatabase::new();
    let role = format!("caseline_r_{}", uuid::Uuid::new_v4().simple());
    db.admin(format!("CREATE ROLE \"{role}\" LOGIN NOCREATEDB"))
        .await
        .expect("a role");
    db.role = Some(role.clone());
    let (ok, stdout, stderr) = migrate(&db.url(Some(&role))).await;
    assert!(!ok, "{stdout}{stderr}");
    assert!(!db.exists().await);
    let url = db.url(Some(&role));
    let after_at = url.rsplit_once('@').map_or("", |(_, h)| h);
    let (host, port) = after_at
        .split_once('/')
        .and_then(|(hp, _)| hp.rsplit_once(':'))
        .expect("host:port in the URL");
    let command = format!(
        "createdb -h {host} -p {port} -U postgres -O {role} {}",
        db.name
    );
    assert!(stderr.contains(&command), "no `{command}` in:\n{stderr}");
    assert!(
        stderr.contains(&format!(
            "CREATE DATABASE \"{}\" OWNER \"{role}\";",
            db.name
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("permission denied to create database"),
        "{stderr}"
    );
    // Said once, without the server's C source line.
    assert_eq!(stderr.matches("does not exist").count(), 1, "{stderr}");
    assert!(!stderr.contains("at line"), "{stderr}");

    // A command other than migrate, on the missing database, says the same way out.
    let dir = tempfile::tempdir().expect("dir");
    let out = caseline(dir.path())
        .args(["callbacks", "list"])
        .env("CASELINE_DATABASE_URL", &url)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("`caseline migrate` creates it"), "{stderr}");
    assert!(stderr.contains(&command), "{stderr}");
}
