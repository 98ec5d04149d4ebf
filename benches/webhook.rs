//! Webhook throughput and latency: a menu step through the whole server (signature
//! check, session load and save in SQLite, flow walk, TwiML) against a bare axum handler
//! that returns fixed TwiML, both on loopback, driven by the same client.
//!
//! `cargo bench --bench webhook` (release profile). Settings: BENCH_SECS (default 5),
//! BENCH_CONCURRENCY (default 16), BENCH_TARGET (`both`, the default; `caseline` or `bare`
//! runs one side only, for profiling), BENCH_DATABASE_URL (default: a fresh SQLite file).

mod common;

/// The server's allocator (as in `main.rs`), so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use common::{Cpu, Figures, Signed, env_num, signed};
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

async fn drive(
    base: &str,
    path: &str,
    with_session: bool,
    secs: u64,
    concurrency: usize,
) -> Figures {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("client");
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for i in 0..concurrency {
        let client = client.clone();
        let base = base.to_string();
        let path = path.to_string();
        tasks.push(tokio::spawn(async move {
            let sid = format!("CA{:032x}", i as u128 + 0xbe9c);
            let base_params = vec![
                ("CallSid".to_string(), sid.clone()),
                ("From".to_string(), "+15595550100".to_string()),
                ("To".to_string(), "+18669013212".to_string()),
            ];
            if with_session {
                // Dial and choose English, so the call sits at the main menu.
                let incoming = signed(format!("{base}/voice/incoming"), base_params.clone());
                common::send(&client, &incoming).await;
                let mut p = base_params.clone();
                p.push(("Digits".into(), "1".into()));
                common::send(&client, &signed(format!("{base}/voice/input/language"), p)).await;
            }
            // Then walk between two menus as fast as the server answers: 3 at the main
            // menu (general information), 9 there (back to the main menu). Each step
            // changes the session, so every request reads and writes it.
            let steps: Vec<Signed> = [(path.as_str(), "3"), ("/voice/input/info-menu", "9")]
                .iter()
                .map(|(p, key)| {
                    let mut params = base_params.clone();
                    params.push(("Digits".into(), key.to_string()));
                    signed(format!("{base}{p}"), params)
                })
                .collect();
            let mut latencies = Vec::new();
            let mut turn = 0;
            while Instant::now() < deadline {
                let (url, params, sig) = &steps[turn % 2];
                turn += 1;
                let start = Instant::now();
                let res = client
                    .post(url)
                    .header("X-Twilio-Signature", sig)
                    .form(params)
                    .send()
                    .await
                    .expect("request");
                assert!(res.status().is_success(), "status {}", res.status());
                let body = res.bytes().await.expect("body");
                // A menu, not an apology (which would also be a 200 with TwiML).
                assert!(
                    body.windows(7).any(|w| w == b"<Gather"),
                    "not a menu: {}",
                    String::from_utf8_lossy(&body)
                );
                latencies.push(start.elapsed());
            }
            latencies
        }));
    }
    let started = Instant::now();
    let cpu = Cpu::start();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    let mut figures = Figures::from(all, started.elapsed().as_secs_f64());
    figures.cpu = Some(cpu.per_request(figures.requests));

    figures
}

fn main() {
    let secs = env_num("BENCH_SECS", 5);
    let concurrency = env_num("BENCH_CONCURRENCY", 16) as usize;
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

    // The bare handler.
    let bare_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let bare_addr = bare_listener.local_addr().expect("addr");
    bare_listener.set_nonblocking(true).expect("nonblocking");
    serve_in_background(move || {
        let listener = TcpListener::from_std(bare_listener).expect("listener");
        let fixed = || async { ([("content-type", "application/xml")], FIXED) };
        let app = Router::new()
            .route("/voice/input/main-menu", post(fixed))
            .route("/voice/input/info-menu", post(fixed));
        (listener, app)
    });

    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let target = std::env::var("BENCH_TARGET").unwrap_or_else(|_| "both".into());
    let (run_ours, run_bare) = (target != "bare", target != "caseline");
    client_rt.block_on(async {
        println!("webhook benchmark: {concurrency} concurrent calls, {secs} s each, loopback, 2 cores shared by client and servers");
        let ours_base = format!("http://{addr}");
        let bare_base = format!("http://{bare_addr}");
        let mut ours = None;
        let mut bare = None;
        if run_ours {
            // Warm up first.
            drive(&ours_base, "/voice/input/main-menu", true, 1, concurrency).await;
            let f = drive(&ours_base, "/voice/input/main-menu", true, secs, concurrency).await;
            println!("{}", f.line(&format!("caseline menu step ({store_name})")));
            ours = Some(f);
        }
        if run_bare {
            drive(&bare_base, "/voice/input/main-menu", false, 1, concurrency).await;
            let f = drive(&bare_base, "/voice/input/main-menu", false, secs, concurrency).await;
            println!("{}", f.line("bare axum fixed TwiML"));
            bare = Some(f);
        }
        if let (Some(ours), Some(bare)) = (ours, bare) {
            let ratio = (ours.requests as f64 / ours.secs) / (bare.requests as f64 / bare.secs);
            println!("caseline throughput / bare throughput = {ratio:.2}");
        }
    });
}
