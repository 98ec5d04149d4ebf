//! Shared by the benchmarks: a caseline server on its own runtime, and latency figures.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use caseline::app::Application;
use caseline::clock::SystemClock;
use caseline::config::Settings;
use caseline::http::signature::{Algorithm, sign, signing_payload};
use caseline::state::Services;
use caseline::store::Store;
use tokio::net::TcpListener;

pub const TOKEN: &str = "bench-token";
pub const BLIND_KEY: &str = "bench-blind-index-key-0123456789abcdef";

pub fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn settings(db: &str) -> Settings {
    let root = env!("CARGO_MANIFEST_DIR");
    Settings {
        database_url: db.to_string(),
        auth_token: Some(TOKEN.into()),
        flows_dir: Some(format!("{root}/call-flows").into()),
        prompts_dir: Some(format!("{root}/prompts").into()),
        blind_index_key: Some(BLIND_KEY.into()),
        ..Settings::default()
    }
}

/// Starts caseline on a loopback port, on a two-worker runtime of its own; answers its
/// base URL once it is listening.
pub fn spawn_caseline(mut settings: Settings) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    listener.set_nonblocking(true).expect("nonblocking");
    settings.listen = addr;
    settings.public_url = format!("http://{addr}");
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let store = if settings.database_url.starts_with("postgres") {
                let admin = sqlx::PgPool::connect(&settings.database_url)
                    .await
                    .expect("PostgreSQL");
                for sql in [
                    "DROP SCHEMA IF EXISTS caseline_bench CASCADE",
                    "CREATE SCHEMA caseline_bench",
                ] {
                    sqlx::query(sql)
                        .execute(&admin)
                        .await
                        .expect("bench schema");
                }
                admin.close().await;
                Store::connect_in_schema(&settings.database_url, Some("caseline_bench")).await
            } else {
                Store::connect(&settings.database_url).await
            }
            .expect("store");
            let state = Arc::new(
                Services::serving(settings, store, Arc::new(SystemClock)).expect("services"),
            );
            let listener = TcpListener::from_std(listener).expect("listener");
            ready_tx.send(()).expect("ready");
            Application::from_parts(listener, state)
                .run_until_stopped(std::future::pending())
                .await
                .expect("serve");
        });
    });
    ready_rx.recv().expect("caseline started");
    format!("http://{addr}")
}

/// A signed webhook request ready to send: URL, form parameters, signature.
pub type Signed = (String, Vec<(String, String)>, String);

pub fn signed(url: String, params: Vec<(String, String)>) -> Signed {
    let sig = sign(Algorithm::HmacSha1, TOKEN, &signing_payload(&url, &params));
    (url, params, sig)
}

pub async fn send(client: &reqwest::Client, (url, params, sig): &Signed) -> String {
    let res = client
        .post(url)
        .header("X-Twilio-Signature", sig)
        .form(params)
        .send()
        .await
        .expect("request");
    assert!(res.status().is_success(), "status {}", res.status());
    res.text().await.expect("body")
}

pub struct Figures {
    pub requests: usize,
    pub secs: f64,
    pub p50: Duration,
    pub p99: Duration,
    /// CPU the server and the client spent per request, when measured ([`Cpu`]).
    pub cpu: Option<CpuUse>,
}

/// CPU time per request, split between the server and the client.
#[derive(Clone, Copy)]
pub struct CpuUse {
    pub server: Duration,
    pub client: Duration,
    /// PostgreSQL's processes (zero on SQLite, which runs inside the server).
    pub database: Duration,
}

/// CPU time from the kernel's per-thread run time (`/proc/self/task/*/schedstat`,
/// nanoseconds). The client runs on the calling thread and only one server is busy at
/// a time, so every other thread's time is that server's. Steadier than throughput on
/// a shared machine: it does not move when a neighbour takes some of the cores.
pub struct Cpu {
    server: Duration,
    client: Duration,
    database: Duration,
}

impl Cpu {
    pub fn start() -> Cpu {
        let (server, client) = thread_times();
        Cpu {
            server,
            client,
            database: postgres_time(),
        }
    }

    pub fn per_request(&self, requests: usize) -> CpuUse {
        let (server, client) = thread_times();
        let n = requests.max(1) as u32;
        CpuUse {
            server: server.saturating_sub(self.server) / n,
            client: client.saturating_sub(self.client) / n,
            database: postgres_time().saturating_sub(self.database) / n,
        }
    }
}

/// User and system time of every `postgres` process on the machine (`/proc/*/stat`,
/// in clock ticks of 10 ms): the database's share of a request on PostgreSQL.
fn postgres_time() -> Duration {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Duration::ZERO;
    };
    let mut ticks = 0u64;
    for p in procs.flatten() {
        let Ok(stat) = std::fs::read_to_string(p.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`: fields after the closing parenthesis.
        let Some((head, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        if !head.ends_with("(postgres") {
            continue;
        }
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the line, 12 and 13 after `comm`.
        let time = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        ticks += time(11) + time(12);
    }
    Duration::from_millis(ticks * 10)
}

/// Run time of every other thread in the process, and of the calling one.
fn thread_times() -> (Duration, Duration) {
    let me = std::fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return (Duration::ZERO, Duration::ZERO);
    };
    let (mut others, mut mine) = (0u64, 0u64);
    for task in tasks.flatten() {
        let stat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
        let nanos = stat
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        if Some(task.file_name().to_string_lossy().into_owned()) == me {
            mine += nanos;
        } else {
            others += nanos;
        }
    }
    (Duration::from_nanos(others), Duration::from_nanos(mine))
}

impl Figures {
    pub fn from(mut latencies: Vec<Duration>, secs: f64) -> Figures {
        assert!(
            !latencies.is_empty(),
            "no request completed in the measured time"
        );
        latencies.sort();
        let pick =
            |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
        Figures {
            requests: latencies.len(),
            secs,
            p50: pick(0.50),
            p99: pick(0.99),
            cpu: None,
        }
    }

    pub fn line(&self, name: &str) -> String {
        let cpu = self.cpu.map_or(String::new(), |c| {
            let busy = (c.server + c.client + c.database).as_secs_f64() * self.requests as f64
                / self.secs;
            let database = if c.database.is_zero() {
                String::new()
            } else {
                format!(", database {:>5.1} µs", c.database.as_secs_f64() * 1e6)
            };
            format!(
                "   CPU/request: server {:>5.1} µs, client {:>5.1} µs{database} ({:.0}% of 2 cores busy)",
                c.server.as_secs_f64() * 1e6,
                c.client.as_secs_f64() * 1e6,
                busy * 50.0
            )
        });
        format!(
            "{name:34} {:>8.0} req/s   p50 {:>7.3} ms   p99 {:>7.3} ms{cpu}   ({} requests)",
            self.requests as f64 / self.secs,
            self.p50.as_secs_f64() * 1000.0,
            self.p99.as_secs_f64() * 1000.0,
            self.requests
        )
    }
}
