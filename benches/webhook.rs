//! Webhook throughput and latency: a menu step through the whole server (signature
//! check, session load and save in SQLite, flow walk, TwiML) against a bare axum handler
//! that returns fixed TwiML, both on loopback, driven by the same client.
//!
//! `cargo bench --bench webhook` (release profile). Settings: BENCH_SECS (default 5),
//! BENCH_CONCURRENCY (default 16).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use caseline::app::{Application, Services};
use caseline::clock::SystemClock;
use caseline::config::Settings;
use caseline::signature::{Algorithm, sign, signing_payload};
use caseline::store::Store;
use tokio::net::TcpListener;

const TOKEN: &str = "bench-token";
const FIXED: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Gather input=\"dtmf\" \
    numDigits=\"1\" action=\"http://127.0.0.1/voice/input/main-menu\"><Say>For payment information, \
    press 1.</Say></Gather></Response>";

/// A signed request ready to send: URL, form parameters, signature.
type Signed = (String, Vec<(String, String)>, String);

struct Report {
    requests: usize,
    secs: f64,
    p50: Duration,
    p99: Duration,
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

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
) -> Report {
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
            let sign_for = |url: &str, params: &[(String, String)]| {
                sign(Algorithm::HmacSha1, TOKEN, &signing_payload(url, params))
            };
            let base_params = vec![
                ("CallSid".to_string(), sid.clone()),
                ("From".to_string(), "+15595550100".to_string()),
                ("To".to_string(), "+18669013212".to_string()),
            ];
            if with_session {
                // Dial and choose English, so the call sits at the main menu.
                let url = format!("{base}/voice/incoming");
                let sig = sign_for(&url, &base_params);
                client
                    .post(&url)
                    .header("X-Twilio-Signature", sig)
                    .form(&base_params)
                    .send()
                    .await
                    .ok();
                let url = format!("{base}/voice/input/language");
                let mut p = base_params.clone();
                p.push(("Digits".into(), "1".into()));
                let sig = sign_for(&url, &p);
                client
                    .post(&url)
                    .header("X-Twilio-Signature", sig)
                    .form(&p)
                    .send()
                    .await
                    .ok();
            }
            // Then walk between two menus as fast as the server answers: 3 at the main
            // menu (general information), 9 there (back to the main menu). Each step
            // changes the session, so every request reads and writes it.
            let steps: Vec<Signed> = [(path.as_str(), "3"), ("/voice/input/info-menu", "9")]
                .iter()
                .map(|(p, key)| {
                    let url = format!("{base}{p}");
                    let mut params = base_params.clone();
                    params.push(("Digits".into(), key.to_string()));
                    let sig = sign_for(&url, &params);
                    (url, params, sig)
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
                assert!(body.len() > 50);
                latencies.push(start.elapsed());
            }
            latencies
        }));
    }
    let started = Instant::now();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    let secs_run = started.elapsed().as_secs_f64();
    all.sort();
    let pick = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
    Report {
        requests: all.len(),
        secs: secs_run,
        p50: pick(0.50),
        p99: pick(0.99),
    }
}

fn main() {
    let secs = env_num("BENCH_SECS", 5);
    let concurrency = env_num("BENCH_CONCURRENCY", 16) as usize;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}/bench.db", dir.path().display());

    // Caseline.
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = std_listener.local_addr().expect("addr");
    std_listener.set_nonblocking(true).expect("nonblocking");
    let root = env!("CARGO_MANIFEST_DIR");
    let settings = Settings {
        listen: addr,
        public_url: format!("http://{addr}"),
        database_url: db.clone(),
        auth_token: Some(TOKEN.into()),
        flows_dir: format!("{root}/call-flows").into(),
        prompts_dir: format!("{root}/prompts").into(),
        blind_index_key: Some("bench-blind-index-key-0123456789abcdef".into()),
        ..Settings::default()
    };
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let store = Store::connect(&settings.database_url).await.expect("store");
            let state =
                Arc::new(Services::new(settings, store, Arc::new(SystemClock)).expect("services"));
            let listener = TcpListener::from_std(std_listener).expect("listener");
            ready_tx.send(()).expect("ready");
            Application::from_parts(listener, state)
                .run_until_stopped(std::future::pending())
                .await
                .expect("serve");
        });
    });
    ready_rx.recv().expect("caseline started");

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
    client_rt.block_on(async {
        // Warm up both.
        drive(&format!("http://{addr}"), "/voice/input/main-menu", true, 1, concurrency).await;
        drive(&format!("http://{bare_addr}"), "/voice/input/main-menu", false, 1, concurrency).await;
        let ours = drive(&format!("http://{addr}"), "/voice/input/main-menu", true, secs, concurrency).await;
        let bare = drive(&format!("http://{bare_addr}"), "/voice/input/main-menu", false, secs, concurrency).await;
        println!("webhook benchmark: {concurrency} concurrent calls, {secs} s each, loopback, 2 cores shared by client and servers");
        for (name, r) in [("caseline menu step (SQLite)", &ours), ("bare axum fixed TwiML", &bare)] {
            println!(
                "{name:30} {:>8.0} req/s   p50 {:>7.3} ms   p99 {:>7.3} ms   ({} requests)",
                r.requests as f64 / r.secs,
                r.p50.as_secs_f64() * 1000.0,
                r.p99.as_secs_f64() * 1000.0,
                r.requests
            );
        }
        let ratio = (ours.requests as f64 / ours.secs) / (bare.requests as f64 / bare.secs);
        println!("caseline throughput / bare throughput = {ratio:.2}");
    });
}
