//! `caseline loadtest` against a real server on a loopback port, whose public URL (the
//! tests' `https://ivr.example.test`) is not its address, as behind a proxy: whole
//! calls through information, and through verification and readbacks; a server that
//! refuses the signature; the command's JSON and exit code.

use std::time::Duration;

use caseline::app::Application;
use caseline::ops::loadtest::{self, Caller, Options, Summary};
use tokio::sync::oneshot;

use crate::helpers as common;
use common::{Backend, TestApp};

on_both_stores!(
    information_calls_complete_and_end_on_the_server,
    verifying_callers_hear_their_readbacks,
    a_server_that_refuses_the_signature_fails_every_call,
);

on_postgres!(two_servers_share_the_calls_alternating_or_sticky);

const CALLS: u64 = 30;

/// A test app with the demo data, served on a loopback port until the sender drops.
async fn serve(b: Backend) -> (TestApp, String, oneshot::Sender<()>) {
    let app = TestApp::spawn(b).await.with_demo_data().await;
    let (url, stop) = listen(&app).await;
    (app, url, stop)
}

/// Serves `app` on a loopback port until the sender drops.
async fn listen(app: &TestApp) -> (String, oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listen");
    let addr = listener.local_addr().expect("address");
    let server = Application::from_parts(listener, app.state.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(server.run_until_stopped(async {
        let _ = stopped.await;
    }));
    (format!("http://{addr}"), stop)
}

/// A run against `app`'s server, its scripts' steps read from the flows it serves.
fn options(app: &TestApp, url: &str, callers: Vec<Caller>) -> Options {
    Options {
        urls: vec![url.to_string()],
        sticky: false,
        public_url: common::PUBLIC_URL.to_string(),
        token: common::TOKEN.to_string(),
        calls: CALLS,
        concurrency: 10,
        think: Duration::ZERO,
        // Fewer than the calls at once: requests wait for a connection.
        connections: 4,
        callers,
        progress: false,
        steps: loadtest::Steps::read(&app.state.line.flow).expect("the scripts' steps"),
    }
}

/// The six demo people, from the demo extract.
fn demo_callers() -> Vec<Caller> {
    let data: serde_json::Value =
        serde_json::from_str(caseline::cli::demo::DEMO_EXTRACT).expect("demo extract");
    let people: Vec<serde_json::Value> = data["participants"]
        .as_array()
        .expect("participants")
        .iter()
        .map(|p| serde_json::json!({"ssn": p["ssn"], "par_id": p["par_id"]}))
        .collect();
    assert_eq!(people.len(), 6);
    loadtest::parse_callers(&serde_json::Value::from(people).to_string()).expect("callers")
}

fn assert_all_completed(s: &Summary) {
    assert_eq!(
        (s.calls, s.completed, s.errors),
        (CALLS, CALLS, 0),
        "{:?}",
        s.failure_lines()
    );
    assert!(s.p50_ms > 0.0, "{s:?}");
    assert!(s.p50_ms <= s.p95_ms && s.p95_ms <= s.p99_ms, "{s:?}");
}

async fn information_calls_complete_and_end_on_the_server(b: Backend) {
    let (app, url, _stop) = serve(b).await;
    let s = loadtest::run(options(&app, &url, vec![]))
        .await
        .expect("a run");
    assert_all_completed(&s);
    // Per call: incoming, the language, 3, a topic, 8, another topic, the status.
    assert_eq!(s.requests, CALLS * 7, "{s:?}");
    // Each call ended on the server (its status callback), having heard information.
    let report = caseline::ops::analytics::report(&app.state.line.store, 0, true, None)
        .await
        .expect("report");
    assert_eq!(report.calls, CALLS as i64);
    assert_eq!(report.contained, CALLS as i64);
    // Every fourth call (3, 7, ... 27) chose Spanish.
    assert_eq!(report.by_language.get("es"), Some(&7), "{report:?}");
    assert_eq!(report.load_test_calls, CALLS as i64);
    // The load tester marks its calls: the reports leave them out unless asked.
    let real = caseline::ops::analytics::report(&app.state.line.store, 0, false, None)
        .await
        .expect("report");
    assert_eq!((real.calls, real.contained), (0, 0), "{real:?}");
    assert_eq!(real.repeat_callers_24h, 0);
    assert_eq!(real.load_test_calls, CALLS as i64);
    assert!(!real.load_tests_included);
    assert!(
        real.text()
            .contains(&format!("load-test calls: {CALLS} (left out")),
        "{}",
        real.text()
    );
}

async fn verifying_callers_hear_their_readbacks(b: Backend) {
    let (app, url, _stop) = serve(b).await;
    let s = loadtest::run(options(&app, &url, demo_callers()))
        .await
        .expect("a run");
    assert_all_completed(&s);
    // Per call: incoming, the language, 1, the SSN, the PAR ID, 1, the status; the
    // caller on three cases (every sixth call) also picks one, once.
    assert_eq!(s.requests, CALLS * 7 + CALLS / 6, "{s:?}");
    let report = caseline::ops::analytics::report(&app.state.line.store, 0, true, None)
        .await
        .expect("report");
    assert_eq!(report.calls, CALLS as i64);
    assert_eq!(report.verification.succeeded, CALLS as i64, "{report:?}");
    assert_eq!(report.contained, CALLS as i64);
}

/// `--url A --url B`: requests alternate between two servers on one database, every
/// call completes and every request but each call's first crossed; `--sticky` keeps
/// each call on one server, so none crosses.
async fn two_servers_share_the_calls_alternating_or_sticky(b: Backend) {
    let (app, a, _stop_a) = serve(b).await;
    let other = app.second_server().await.expect("a second server");
    let (b_url, _stop_b) = listen(&other).await;
    let mut o = options(&app, &a, demo_callers());
    o.urls.push(b_url.clone());
    // One connection: requests go out one at a time, in the order they are dealt.
    o.connections = 1;
    o.concurrency = 1;
    let s = loadtest::run(o).await.expect("a run");
    assert_all_completed(&s);
    let servers = s.servers.clone().expect("two servers");
    assert!(!servers.sticky);
    assert_eq!(servers.requests.iter().sum::<u64>(), s.requests);
    assert!(
        servers.requests[0].abs_diff(servers.requests[1]) <= 1,
        "{servers:?}"
    );
    // One call at a time, alternating: each request after a call's first crossed.
    assert_eq!(servers.crossed, s.requests - CALLS, "{servers:?}");
    let report = caseline::ops::analytics::report(&app.state.line.store, 0, true, None)
        .await
        .expect("report");
    assert_eq!(report.verification.succeeded, CALLS as i64, "{report:?}");
    assert!(
        s.text().contains("servers     2 (round-robin)"),
        "{}",
        s.text()
    );

    let mut o = options(&app, &a, vec![]);
    o.urls.push(b_url);
    o.sticky = true;
    let s = loadtest::run(o).await.expect("a run");
    assert_all_completed(&s);
    let servers = s.servers.expect("two servers");
    assert!(servers.sticky);
    assert_eq!(servers.crossed, 0, "{servers:?}");
    assert!(servers.requests.iter().all(|&n| n > 0), "{servers:?}");
}

async fn a_server_that_refuses_the_signature_fails_every_call(b: Backend) {
    let (app, url, _stop) = serve(b).await;
    let mut o = options(&app, &url, vec![]);
    o.token = "not-the-servers-token".into();
    let s = loadtest::run(o).await.expect("a run");
    assert_eq!((s.calls, s.completed, s.errors), (CALLS, 0, CALLS), "{s:?}");
    // The incoming webhook and the status callback, both refused.
    assert_eq!(s.requests, CALLS * 2);
    let (failed, detail) = s.failures.get("HTTP status").expect("refused").clone();
    assert_eq!(failed, CALLS);
    assert!(
        detail.starts_with("403 from /voice/incoming: the signature was refused")
            && detail.contains("CASELINE_TWILIO_AUTH_TOKEN"),
        "the refusal says its usual cause: {detail}"
    );
}

/// The command itself: `--format json` prints exactly the seven figures, and the exit
/// code says whether any call failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_prints_the_figures_as_json_and_exits_by_the_errors() {
    let (_app, url, _stop) = serve(Backend::Sqlite).await;
    let run = |token: &str| {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_caseline"))
            .args([
                "loadtest",
                "--url",
                &url,
                "--public-url",
                common::PUBLIC_URL,
            ])
            .args(["--calls", "12", "--concurrency", "4", "--think-ms", "0"])
            .args(["--format", "json"])
            .env("CASELINE_TWILIO_AUTH_TOKEN", token)
            .output()
    };
    let figures = |out: &std::process::Output| -> serde_json::Value {
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        })
    };

    let out = run(common::TOKEN).await.expect("runs");
    let json = figures(&out);
    assert!(out.status.success(), "{json}");
    let mut keys: Vec<&str> = json
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "calls",
            "completed",
            "errors",
            "p50_ms",
            "p95_ms",
            "p99_ms",
            "requests"
        ]
    );
    assert_eq!(
        (json["calls"].as_u64(), json["completed"].as_u64()),
        (Some(12), Some(12))
    );
    assert_eq!(json["requests"].as_u64(), Some(12 * 7));

    let out = run("not-the-servers-token").await.expect("runs");
    let json = figures(&out);
    assert_eq!(out.status.code(), Some(1), "{json}");
    assert_eq!(json["errors"].as_u64(), Some(12));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("12 call(s) failed: HTTP status; first: 403"),
        "{stderr}"
    );
}
