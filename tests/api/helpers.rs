//! Test harness: a real router on a fresh database, a fixed clock, and a phone that
//! sends signed webhooks the way the provider does and reads the TwiML back.
#![allow(dead_code)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{TimeZone, Utc};
use http_body_util::BodyExt;
use tower::ServiceExt;

use caseline::app::router;
use caseline::clock::FixedClock;
use caseline::config::Settings;
use caseline::http::signature::{Algorithm, sign, signing_payload};
use caseline::state::{AppState, Services};
use caseline::store::Store;
use caseline::telephony::twiml::{self, Element, Response};

pub const TOKEN: &str = "test-auth-token";
pub const SHARED_KEY: &str = "test-shared-key";
pub const PUBLIC_URL: &str = "https://ivr.example.test";
pub const TOLL_FREE: &str = "+18669013212";
pub const TTY_LINE: &str = "+18663994096";
pub const BLIND_KEY: &str = "test-blind-index-key-0123456789abcdef";

/// Which store a test runs on.
#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    /// PostgreSQL at `CASELINE_TEST_POSTGRES_URL`. The PostgreSQL scenarios are ignored
    /// unless asked for (`--include-ignored`, as `.ci/run` does); asked for without the
    /// URL, they fail rather than pass having tested nothing.
    pub fn postgres() -> Backend {
        match std::env::var("CASELINE_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => Backend::Postgres(url),
            _ => panic!(
                "CASELINE_TEST_POSTGRES_URL is not set: the PostgreSQL scenarios cannot run \
                 (for example postgres://postgres@127.0.0.1:5432/test)"
            ),
        }
    }
}

/// Runs each named scenario `async fn name(backend: Backend)` on SQLite, and on
/// PostgreSQL (ignored unless asked for: see [`Backend::postgres`]).
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                #[ignore = "needs PostgreSQL: set CASELINE_TEST_POSTGRES_URL, run with --include-ignored"]
                async fn $name() {
                    super::$name($crate::helpers::Backend::postgres()).await
                }
            )*
        }
    };
}

/// Runs each named scenario on PostgreSQL only (what SQLite has no counterpart for),
/// ignored unless asked for.
#[macro_export]
macro_rules! on_postgres {
    ($($name:ident),* $(,)?) => {
        mod postgres_only {
            $(
                #[tokio::test]
                #[ignore = "needs PostgreSQL: set CASELINE_TEST_POSTGRES_URL, run with --include-ignored"]
                async fn $name() {
                    super::$name($crate::helpers::Backend::postgres()).await
                }
            )*
        }
    };
}

/// Every log line of this test binary at TRACE, from one subscriber installed for the
/// whole process (a per-thread one misses events when tests run in parallel).
pub fn capture_logs() -> &'static std::sync::Mutex<Vec<u8>> {
    use std::sync::{Mutex, OnceLock};
    static LOGS: OnceLock<&'static Mutex<Vec<u8>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf: &'static Mutex<Vec<u8>> = Box::leak(Box::new(Mutex::new(Vec::new())));
        struct W(&'static Mutex<Vec<u8>>);
        impl std::io::Write for W {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().expect("log buffer").extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || W(buf))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one global subscriber");
        buf
    })
}

/// Where a test's database lives, kept alive for the test.
#[derive(Clone)]
enum Db {
    Sqlite(Arc<tempfile::TempDir>, String),
    Postgres(Arc<Schema>),
}

/// A test's PostgreSQL schema, dropped when the test's last server is (passed or
/// failed: a panic drops it too), so the test database does not fill with them.
pub struct Schema {
    pub url: String,
    pub name: String,
}

impl Schema {
    /// A fresh schema on the PostgreSQL at `url`.
    pub async fn create(url: String) -> Arc<Schema> {
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let admin = sqlx::PgPool::connect(&url)
            .await
            .expect("connect to PostgreSQL");
        // The schema name is ours (a UUID), never input.
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&admin)
            .await
            .expect("create schema");
        admin.close().await;
        Arc::new(Schema { url, name })
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        // The test's own URL may lead through a proxy of the test's (which stops with
        // it): the schema is dropped over the database's own address.
        let url = std::env::var("CASELINE_TEST_POSTGRES_URL").unwrap_or_else(|_| self.url.clone());
        // The name is ours (a UUID), never input.
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        let (done, finished) = std::sync::mpsc::channel();
        // Drop cannot wait on the test's runtime: a runtime of its own, on a thread of
        // its own, waited for a few seconds at most (a lock held by a task of the test
        // that can no longer run gives up instead of hanging the test).
        std::thread::spawn(move || {
            let dropped = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
                .and_then(|rt| {
                    rt.block_on(async {
                        let pool = sqlx::postgres::PgPoolOptions::new()
                            .max_connections(1)
                            .acquire_timeout(std::time::Duration::from_secs(5))
                            .connect(&url)
                            .await?;
                        sqlx::query("SET lock_timeout = '5s'")
                            .execute(&pool)
                            .await?;
                        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await?;
                        pool.close().await;
                        Ok::<(), sqlx::Error>(())
                    })
                    .map_err(|e| e.to_string())
                });
            let _ = done.send(dropped);
        });
        match finished.recv_timeout(std::time::Duration::from_secs(10)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("schema {} was not dropped: {e}", self.name),
            Err(_) => eprintln!("schema {} was not dropped in time", self.name),
        }
    }
}

pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    pub clock: FixedClock,
    db: Db,
    settings: Settings,
}

/// A weekday at 10 a.m. Pacific (the Customer Service Unit is open).
/// A card payment of $450.00 by Visa on the demo's case 1, to store as the provider's
/// result would have (listings' tests change what they need with `..paid(...)`).
pub fn paid<'a>(
    confirmation: &'a str,
    call_sid: &'a str,
    now: i64,
    agency: Option<&'a str>,
) -> caseline::domain::pay::NewPayment<'a> {
    caseline::domain::pay::NewPayment {
        confirmation,
        pay_id: None,
        status: caseline::domain::pay::PAID,
        charged: None,
        case_id: 1,
        case_number: "190000123456",
        participant_id: 1,
        amount: rust_decimal::Decimal::new(45000, 2),
        card_type: "visa",
        card_last4: "4242",
        lang: "en",
        call_sid,
        now,
        agency,
    }
}

pub fn open_time() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 18, 0, 0).unwrap()
}

/// 7 p.m. Pacific (closed).
pub fn closed_time() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 3, 0, 0).unwrap()
}

pub fn settings() -> Settings {
    let root = env!("CARGO_MANIFEST_DIR");
    Settings {
        public_url: PUBLIC_URL.into(),
        auth_token: Some(TOKEN.into()),
        shared_key: Some(SHARED_KEY.into()),
        tty_numbers: vec![TTY_LINE.into()],
        flows_dir: Some(format!("{root}/call-flows").into()),
        prompts_dir: Some(format!("{root}/prompts").into()),
        blind_index_key: Some(BLIND_KEY.into()),
        // Cheap hashes keep the suite fast; the benchmark measures the real cost.
        hash_cost: caseline::config::HashCost {
            memory_kib: 256,
            iterations: 1,
        },
        // The staff tests send X-Forwarded-For for the per-address login limit.
        trust_proxy: true,
        // The TTY scenarios read TwiML text turns; the media-stream modem (the
        // production default) has its own scenarios in `tty.rs`.
        tty_mode: caseline::config::TtyMode::Text,
        ..Settings::default()
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, settings()).await
    }

    pub async fn spawn_with(backend: Backend, settings: Settings) -> TestApp {
        let db = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}/caseline.db", dir.path().display());
                Db::Sqlite(Arc::new(dir), url)
            }
            Backend::Postgres(url) => Db::Postgres(Schema::create(url).await),
        };
        Self::on(db, settings, FixedClock::at(open_time())).await
    }

    async fn on(db: Db, settings: Settings, clock: FixedClock) -> TestApp {
        Self::try_on(db, settings, clock).await.expect("services")
    }

    async fn try_on(db: Db, settings: Settings, clock: FixedClock) -> anyhow::Result<TestApp> {
        // The metrics recorder is one per process: installed before any test's first call,
        // so a call counted in is also counted out (the metrics test reads the gauges).
        let _ = caseline::ops::metrics::handle();
        let store = match &db {
            Db::Sqlite(_, url) => Store::connect(url).await,
            Db::Postgres(s) => Store::connect_in_schema(&s.url, Some(&s.name)).await,
        }
        .expect("store");
        let state = Arc::new(Services::serving(
            settings.clone(),
            store,
            Arc::new(clock.clone()),
        )?);
        Ok(TestApp {
            router: router(state.clone()),
            state,
            clock,
            db,
            settings,
        })
    }

    /// The folder holding the SQLite files, for tests that read them.
    pub fn db_path(&self) -> Option<std::path::PathBuf> {
        match &self.db {
            Db::Sqlite(dir, _) => Some(dir.path().to_path_buf()),
            Db::Postgres(..) => None,
        }
    }

    /// This test's PostgreSQL URL and schema, when it runs on PostgreSQL.
    pub fn postgres(&self) -> Option<(String, String)> {
        match &self.db {
            Db::Postgres(s) => Some((s.url.clone(), s.name.clone())),
            Db::Sqlite(..) => None,
        }
    }

    /// Every row of every table in this test's PostgreSQL schema, as text.
    pub async fn dump_postgres(&self) -> String {
        let Db::Postgres(db) = &self.db else {
            return String::new();
        };
        let schema = &db.name;
        let pool = sqlx::PgPool::connect(&db.url).await.expect("connect");
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1",
        )
        .bind(schema)
        .fetch_all(&pool)
        .await
        .expect("tables");
        let mut out = String::new();
        for t in tables {
            // Names come from the catalogue of our own schema, not from input.
            let sql = format!("SELECT t::text FROM {schema}.{t} t");
            let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_all(&pool)
                .await
                .expect("rows");
            out.push_str(&rows.join("\n"));
        }
        pool.close().await;
        out
    }

    /// The server stopped (cleanly, as on SIGTERM) and started again on the same
    /// database.
    pub async fn restart(self) -> TestApp {
        let TestApp {
            router,
            state,
            clock,
            db,
            settings,
        } = self;
        state.line.store.close().await;
        drop(router);
        drop(state);
        Self::on(db, settings, clock).await
    }

    /// Another server on the same database while this one keeps running (behind a load
    /// balancer), or why the store refuses one.
    pub async fn second_server(&self) -> anyhow::Result<TestApp> {
        Self::try_on(self.db.clone(), self.settings.clone(), self.clock.clone()).await
    }

    /// Loads the demo extract (the people in `demo/extract.json`).
    pub async fn with_demo_data(self) -> TestApp {
        let extract = caseline::domain::cases::import::parse(caseline::cli::demo::DEMO_EXTRACT)
            .expect("demo data");
        caseline::domain::cases::import::run(
            &self.state.line.store,
            &self.state.line.blind,
            &self.state.line.hasher,
            extract,
            &|_| {},
        )
        .await
        .expect("import");
        self
    }

    pub fn call(&self) -> Phone<'_> {
        self.call_to(TOLL_FREE)
    }

    pub fn call_to(&self, to: &str) -> Phone<'_> {
        Phone {
            app: self,
            sid: format!("CA{}", uuid::Uuid::new_v4().simple()),
            to: to.to_string(),
            from: CALLER_ID.to_string(),
            last: None,
        }
    }

    /// POSTs a form to `url` (absolute, under the public URL), signed with the token.
    pub async fn post_signed(&self, url: &str, params: &[(&str, &str)]) -> Answer {
        let owned: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let sig = sign(Algorithm::HmacSha1, TOKEN, &signing_payload(url, &owned));
        self.post(url, params, &[("X-Twilio-Signature", &sig)])
            .await
    }

    /// POSTs a form with the given headers and no signature of its own.
    pub async fn post(
        &self,
        url: &str,
        params: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Answer {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter())
            .finish();
        self.post_raw(url, body.into_bytes(), headers).await
    }

    pub async fn post_raw(&self, url: &str, body: Vec<u8>, headers: &[(&str, &str)]) -> Answer {
        let path = url.strip_prefix(PUBLIC_URL).unwrap_or(url);
        let mut req =
            Request::post(path).header("content-type", "application/x-www-form-urlencoded");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = self
            .router
            .clone()
            .oneshot(req.body(Body::from(body)).expect("request"))
            .await
            .expect("router answers");
        let status = res.status();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        Answer {
            status,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// A staff API request: JSON in (if any), JSON out, with a Bearer token if given.
    pub async fn staff(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (StatusCode, serde_json::Value) {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("x-forwarded-for", "203.0.113.7");
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let body = match body {
            Some(b) => {
                req = req.header("content-type", "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        let res = self
            .router
            .clone()
            .oneshot(req.body(body).expect("request"))
            .await
            .expect("router answers");
        let status = res.status();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (status, json)
    }

    /// The live session of a call, as the store has it now.
    pub async fn session_of(&self, call_sid: &str) -> caseline::session::Session {
        let sid = caseline::session::CallSid::parse(call_sid).expect("a CallSid");
        self.state
            .line
            .store
            .sessions()
            .load(&sid, self.state.line.now(), None)
            .await
            .expect("load")
            .expect("a live session")
    }

    /// How many audit lines of a call have this event and outcome.
    pub async fn audited(&self, call_sid: &str, event: &str, outcome: &str) -> usize {
        let lines = self.state.line.store.audit_log().for_call(call_sid).await;
        lines
            .expect("audit")
            .iter()
            .filter(|(e, o, ..)| e == event && o == outcome)
            .count()
    }

    /// Creates a statewide staff account; answers its password
    /// (`{name}-correct-horse-battery`).
    pub async fn add_staff(&self, name: &str, role: caseline::staff::Role) -> String {
        self.add_staff_of(name, role, None).await
    }

    /// Creates a staff account of a local agency (none: statewide); answers its password.
    pub async fn add_staff_of(
        &self,
        name: &str,
        role: caseline::staff::Role,
        agency: Option<&str>,
    ) -> String {
        let password = format!("{name}-correct-horse-battery");
        let s = &self.state;
        caseline::staff::add(
            &s.line.store,
            &s.line.hasher,
            s.line.now(),
            name,
            role,
            agency,
            &password,
        )
        .await
        .expect("staff account");
        password
    }

    /// Creates a statewide staff account and signs it in; answers the token.
    pub async fn staff_login(&self, name: &str, role: caseline::staff::Role) -> String {
        self.staff_login_of(name, role, None).await
    }

    /// Creates a staff account of a local agency (none: statewide) and signs it in;
    /// answers the token.
    pub async fn staff_login_of(
        &self,
        name: &str,
        role: caseline::staff::Role,
        agency: Option<&str>,
    ) -> String {
        let password = self.add_staff_of(name, role, agency).await;
        let (status, body) = self
            .staff(
                "POST",
                "/staff/login",
                None,
                Some(serde_json::json!({"name": name, "password": password})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["token"].as_str().expect("token").to_string()
    }

    pub async fn get(&self, path: &str) -> Answer {
        let res = self
            .router
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).expect("request"))
            .await
            .expect("router answers");
        let status = res.status();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        Answer {
            status,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }
}

/// One HTTP answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub body: String,
}

impl Answer {
    /// Parses the body as TwiML and checks it against the provider's schema; panics with
    /// the body when it is not valid.
    pub fn twiml(&self) -> Twiml {
        assert_eq!(self.status, StatusCode::OK, "not 200: {}", self.body);
        let response = twiml::parse(&self.body)
            .unwrap_or_else(|e| panic!("not well-formed TwiML ({e}): {}", self.body));
        if let Err(e) = twiml::check(&response) {
            panic!("TwiML the provider would refuse ({e}): {}", self.body);
        }
        Twiml {
            response,
            xml: self.body.clone(),
        }
    }
}

/// A parsed answer with helpers that read like what the caller hears.
#[derive(Debug, Clone)]
pub struct Twiml {
    pub response: Response,
    pub xml: String,
}

fn all<'a>(els: &'a [Element], out: &mut Vec<&'a Element>) {
    for e in els {
        out.push(e);
        all(&e.children, out);
    }
}

impl Twiml {
    pub fn elements(&self) -> Vec<&Element> {
        let mut out = Vec::new();
        all(&self.response.verbs, &mut out);
        out
    }

    /// Everything said, in order, joined by spaces.
    pub fn said(&self) -> String {
        self.elements()
            .iter()
            .filter(|e| e.name == "Say")
            .filter_map(|e| e.text.clone())
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn says(&self, text: &str) -> bool {
        self.said().contains(text)
    }

    pub fn find(&self, name: &str) -> Option<&Element> {
        self.elements().into_iter().find(|e| e.name == name)
    }

    pub fn gather(&self) -> &Element {
        self.find("Gather")
            .unwrap_or_else(|| panic!("no <Gather> in {}", self.xml))
    }

    pub fn last_verb(&self) -> &str {
        self.response.verbs.last().map_or("", |v| v.name)
    }

    pub fn languages(&self) -> Vec<String> {
        self.elements()
            .iter()
            .filter(|e| e.name == "Say")
            .filter_map(|e| e.get("language").map(String::from))
            .collect()
    }
}

/// A caller on the line.
pub struct Phone<'a> {
    pub app: &'a TestApp,
    pub sid: String,
    pub to: String,
    /// The caller ID the provider sends (`From`): [`CALLER_ID`] unless a test changes
    /// it (`anonymous` for a withheld number).
    pub from: String,
    pub last: Option<Twiml>,
}

/// The number test calls come from: a US line the agency may call back.
pub const CALLER_ID: &str = "+15592310123";

impl Phone<'_> {
    fn base(&self) -> Vec<(&str, &str)> {
        vec![
            ("CallSid", self.sid.as_str()),
            ("AccountSid", "AC00000000000000000000000000000000"),
            ("From", self.from.as_str()),
            ("To", self.to.as_str()),
            ("Direction", "inbound"),
        ]
    }

    async fn send(&mut self, url: &str, extra: &[(&str, &str)]) -> Twiml {
        let mut params = self.base();
        params.extend_from_slice(extra);
        let twiml = self.app.post_signed(url, &params).await.twiml();
        self.last = Some(twiml.clone());
        twiml
    }

    pub async fn dial(&mut self) -> Twiml {
        let url = format!("{PUBLIC_URL}/voice/incoming");
        self.send(&url, &[("CallStatus", "ringing")]).await
    }

    fn last(&self) -> &Twiml {
        self.last.as_ref().expect("dial first")
    }

    /// Keys pressed at the current gather.
    pub async fn press(&mut self, digits: &str) -> Twiml {
        let url = self
            .last()
            .gather()
            .get("action")
            .expect("gather has an action")
            .to_string();
        self.send(&url, &[("Digits", digits)]).await
    }

    /// Speech (and no keys) at the current gather.
    pub async fn say(&mut self, speech: &str) -> Twiml {
        let url = self
            .last()
            .gather()
            .get("action")
            .expect("action")
            .to_string();
        self.send(&url, &[("SpeechResult", speech), ("Confidence", "0.9")])
            .await
    }

    /// The gather times out: the provider posts to the action with no Digits.
    pub async fn silence(&mut self) -> Twiml {
        let url = self
            .last()
            .gather()
            .get("action")
            .expect("action")
            .to_string();
        self.send(&url, &[]).await
    }

    /// Follows a trailing `<Redirect>`.
    pub async fn follow(&mut self) -> Twiml {
        let url = self
            .last()
            .find("Redirect")
            .and_then(|r| r.text.clone())
            .expect("a redirect");
        self.send(&url, &[]).await
    }

    /// Any URL, with this call's parameters.
    pub async fn post(&mut self, url: &str, extra: &[(&str, &str)]) -> Twiml {
        self.send(url, extra).await
    }

    /// From the main menu: 1 (payments), then the SSN, then the PAR ID.
    pub async fn verify_for_payments(&mut self, ssn: &str, par: &str) -> Twiml {
        let ask = self.press("1").await;
        // Upper case on a TTY line.
        let said = ask.said().to_uppercase();
        assert!(
            said.contains("SOCIAL SECURITY") || said.contains("SEGURO SOCIAL"),
            "{said}"
        );
        let ask = self.press(ssn).await;
        assert!(ask.says("PAR ID"), "{}", ask.said());
        self.press(par).await
    }

    pub async fn hang_up(&mut self) -> Answer {
        let url = format!("{PUBLIC_URL}/voice/status");
        let mut params = self.base();
        params.push(("CallStatus", "completed"));
        params.push(("CallDuration", "42"));
        self.app.post_signed(&url, &params).await
    }
}

/// Collects a child process's standard error, line by line, as it comes (for tests that
/// wait for a server's log line or read what it logged).
pub fn capture_stderr(child: &mut std::process::Child) -> std::sync::Arc<std::sync::Mutex<String>> {
    use std::io::BufRead;
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let Some(stderr) = child.stderr.take() else {
        return log;
    };
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let Ok(mut log) = sink.lock() else { break };
            log.push_str(&line);
            log.push('\n');
        }
    });
    log
}
