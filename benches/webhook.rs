//! Webhook throughput and latency: a menu step through the whole server (signature
//! check, session load and save in SQLite, flow walk, TwiML) against a bare axum handler
//! that returns fixed TwiML, both on loopback, driven by the same client.
//!
//! `cargo bench --bench webhook` (release profile). Settings: BENCH_SECS (default 5),
//! BENCH_CALLS (live calls, default 1000), BENCH_CONCURRENCY (requests at a time,
//! default 50), BENCH_TARGET (`both`, the default; `caseline` or `bare`
//! runs one side only, for profiling; `serve-bare` only serves the bare handler, for wrk,
//! on BENCH_BARE_PORT if set), BENCH_DATABASE_URL (default: a fresh SQLite file).
//! `benches/wrk/compare.sh` measures the same with wrk and the release binary.

mod common;

/// The server's allocator (as in `main.rs`), so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use common::{Cpu, Figures, env_num, signed};
use tokio::net::TcpListener;

const FIXED: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Gather input=\"dtmf\" \
    numDigits=\"1\" action=\"http://127.0.0.1/voice/input/main-menu\"><Say>For payment information, \
    press 1.</Say></Gather></Response>";

/// Starts a server on its own two-worker runtime in a background thread.
fn serve_in_background(make: impl FnOnce() -> (TcpListener, Router) + Send + 'static) {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let (listener, app) = make();
            axum::serve(listener, app).await.expect("serve");
        });
    });
}

/// Where an answer's `<Gather>` sends the caller next, on `base` (the bare handler's
/// fixed TwiML names another host).
fn next_url(base: &str, body: &str) -> Option<String> {
    let at = body.find("<Gather")?;
    let action = body[at..].split("action=\"").nth(1)?.split('"').next()?;
    let path = action.split("://").nth(1).map_or(action, |rest| {
        rest.find('/').map_or("/", |slash| &rest[slash..])
    });
    Some(format!("{base}{}", path.replace("&amp;", "&")))
}

/// One live call: the URL its next request goes to, and its parameters (`Digits=*`).
type Call = (String, Vec<(String, String)>);

/// Puts `calls` calls at the main menu (dialled, English chosen) and deals them out to
/// `workers` workers.
async fn set_up(base: &str, with_session: bool, calls: usize, workers: usize) -> Vec<Vec<Call>> {
    let client = reqwest::Client::new();
    let mut dealt: Vec<Vec<Call>> = (0..workers).map(|_| Vec::new()).collect();
    for i in 0..calls {
        let sid = format!("CA{:032x}", i as u128 + 0xbe9c);
        let params = vec![
            ("CallSid".to_string(), sid.clone()),
            ("From".to_string(), "+15595550100".to_string()),
            ("To".to_string(), "+18669013212".to_string()),
        ];
        let mut next = format!("{base}/voice/input/main-menu");
        if with_session {
            let answer = common::send(
                &client,
                &signed(format!("{base}/voice/incoming"), params.clone()),
            )
            .await;
            let language = next_url(base, &answer).expect("the language menu");
            let mut p = params.clone();
            p.push(("Digits".into(), "1".into()));
            let answer = common::send(&client, &signed(language, p)).await;
            next = next_url(base, &answer).expect("the main menu");
        }
        let mut p = params;
        p.push(("Digits".into(), "*".into()));
        dealt[i % workers].push((next, p));
    }
    dealt
}

/// Each worker takes its calls in turn, pressing `*` (hear the menu again) at the URL
/// the call's last answer gave (as the provider does: the URL carries the answer's
/// turn), for `secs` seconds.
async fn drive(base: &str, workers: &mut Vec<Vec<Call>>, secs: u64) -> Figures {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(workers.len())
        .build()
        .expect("client");
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for mut mine in std::mem::take(workers) {
        let client = client.clone();
        let base = base.to_string();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut turn = 0;
            while Instant::now() < deadline && !mine.is_empty() {
                let at = turn % mine.len();
                let (url, params) = &mut mine[at];
                turn += 1;
                let start = Instant::now();
                let (_, _, sig) = signed(url.clone(), params.clone());
                let res = client
                    .post(url.as_str())
                    .header("X-Twilio-Signature", sig)
                    .form(params)
                    .send()
                    .await
                    .expect("request");
                assert!(res.status().is_success(), "status {}", res.status());
                let body = res.text().await.expect("body");
                // A menu, not an apology (which would also be a 200 with TwiML).
                *url = next_url(&base, &body).unwrap_or_else(|| panic!("not a menu: {body}"));
                latencies.push(start.elapsed());
            }
            (mine, latencies)
        }));
    }
    let started = Instant::now();
    let cpu = Cpu::start();
    let mut all = Vec::new();
    for t in tasks {
        let (mine, latencies) = t.await.expect("task");
        workers.push(mine);
        all.extend(latencies);
    }
    let mut figures = Figures::from(all, started.elapsed().as_secs_f64());
    figures.cpu = Some(cpu.per_request(figures.requests));

    figures
}

fn main() {
    let secs = env_num("BENCH_SECS", 5);
    let concurrency = env_num("BENCH_CONCURRENCY", 50) as usize;
    let calls = (env_num("BENCH_CALLS", 1000) as usize).max(concurrency);

    // The bare handler.
    // BENCH_BARE_PORT: a fixed port, for an outside client (`benches/wrk/compare.sh`).
    let bare_port = env_num("BENCH_BARE_PORT", 0) as u16;
    let bare_listener = std::net::TcpListener::bind(("127.0.0.1", bare_port)).expect("bind");
    let bare_addr = bare_listener.local_addr().expect("addr");
    bare_listener.set_nonblocking(true).expect("nonblocking");
    serve_in_background(move || {
        let listener = TcpListener::from_std(bare_listener).expect("listener");
        let fixed = || async { ([("content-type", "application/xml")], FIXED) };
        let app = Router::new().route("/voice/input/main-menu", post(fixed));
        (listener, app)
    });
    let target = std::env::var("BENCH_TARGET").unwrap_or_else(|_| "both".into());
    if target == "serve-bare" {
        // Only the bare handler (no Caseline beside it), for an outside client such as wrk.
        println!("bare handler on http://{bare_addr}/voice/input/main-menu");
        loop {
            std::thread::park();
        }
    }

    let dir = tempfile::tempdir().expect("temp dir");
    // BENCH_DATABASE_URL=postgres://... measures the production store instead (in a
    // fresh schema `caseline_bench`).
    let db = std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}/bench.db", dir.path().display()));
    let store_name = if db.starts_with("postgres") {
        "PostgreSQL"
    } else {
        "SQLite"
    };

    // Caseline.
    let caseline_base = common::spawn_caseline(common::settings(&db));
    let addr = caseline_base.trim_start_matches("http://").to_string();

    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (run_ours, run_bare) = (target != "bare", target != "caseline");
    client_rt.block_on(async {
        println!("webhook benchmark: {calls} live calls pressing * at the main menu, {concurrency} at a time, {secs} s each, loopback, 2 cores shared by client, servers and database");
        let ours_base = format!("http://{addr}");
        let bare_base = format!("http://{bare_addr}");
        let mut ours = None;
        let mut bare = None;
        if run_ours {
            let mut live = set_up(&ours_base, true, calls, concurrency).await;
            drive(&ours_base, &mut live, 1).await; // Warm up first.
            let f = drive(&ours_base, &mut live, secs).await;
            println!("{}", f.line(&format!("caseline menu step ({store_name})")));
            ours = Some(f);
        }
        if run_bare {
            let mut live = set_up(&bare_base, false, calls, concurrency).await;
            drive(&bare_base, &mut live, 1).await;
            let f = drive(&bare_base, &mut live, secs).await;
            println!("{}", f.line("bare axum fixed TwiML"));
            bare = Some(f);
        }
        if let (Some(ours), Some(bare)) = (ours, bare) {
            let ratio = (ours.requests as f64 / ours.secs) / (bare.requests as f64 / bare.secs);
            println!("caseline throughput / bare throughput = {ratio:.2}");
        }
    });
}
