//! Verified callers at scale: the PAR ID check at production argon2 parameters, a
//! 1,000,000-participant import, and webhook latency for readback steps on it.
//!
//! `cargo bench --bench verify`. Settings: BENCH_PARTICIPANTS (default 1000000),
//! BENCH_SECS (default 5), BENCH_CONCURRENCY (default 16), BENCH_IMPORT_ARGON2_KIB
//! (default 64: the bulk import hashes with cheap parameters, see the printout).

mod common;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use caseline::config::HashCost;
use caseline::domain::cases::import;
use caseline::domain::verify::{BlindIndex, Hasher, ParId};
use caseline::store::Store;
use common::{Figures, env_num, send, signed};

fn ssn(i: u64) -> String {
    format!("{:09}", 900_000_000 + i)
}

fn par(i: u64) -> String {
    format!("{}", 6_000_000_000u64 + i)
}

/// An extract of `n` participants in pairs: each pair shares a case (one pays, one
/// receives) with three payments and three disbursements.
fn extract(n: u64) -> String {
    let mut s = String::with_capacity(n as usize * 400);
    s.push_str("{\"participants\": [");
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(
            s,
            "{{\"par_id\": \"{}\", \"ssn\": \"{}\", \"first_name\": \"P{i}\", \"last_name\": \"Bench\", \"language\": \"{}\"}}",
            par(i),
            ssn(i),
            if i % 5 == 0 { "es" } else { "en" }
        );
    }
    s.push_str("], \"cases\": [");
    for c in 0..n / 2 {
        if c > 0 {
            s.push(',');
        }
        let (payer, payee) = (par(2 * c), par(2 * c + 1));
        let _ = write!(
            s,
            "{{\"case_number\": \"19{c:010}\", \"county\": \"Fresno\", \"status\": \"open\", \"stage\": \"enforcement\", \
             \"caseworker\": \"Dana Whitfield\", \
             \"members\": [{{\"par_id\": \"{payer}\", \"role\": \"noncustodial\"}}, {{\"par_id\": \"{payee}\", \"role\": \"custodial\"}}], \
             \"order\": {{\"monthly_support\": \"450.00\", \"medical_support\": true, \"next_due\": \"2026-12-01\"}}, \
             \"arrears_balance\": \"1234.56\", \"next_hearing\": \"2027-01-14T09:30:00-08:00\", \
             \"payments\": [{{\"received_on\": \"2026-11-01\", \"amount\": \"225.00\", \"source\": \"wage_withholding\"}}, \
                            {{\"received_on\": \"2026-10-15\", \"amount\": \"225.00\", \"source\": \"wage_withholding\"}}, \
                            {{\"received_on\": \"2026-10-01\", \"amount\": \"225.00\", \"source\": \"direct_payment\"}}], \
             \"disbursements\": [{{\"paid_on\": \"2026-11-03\", \"amount\": \"225.00\", \"to_par_id\": \"{payee}\", \"method\": \"epc_card\"}}, \
                                 {{\"paid_on\": \"2026-10-17\", \"amount\": \"225.00\", \"to_par_id\": \"{payee}\", \"method\": \"epc_card\"}}, \
                                 {{\"paid_on\": \"2026-10-03\", \"amount\": \"225.00\", \"to_par_id\": \"{payee}\", \"method\": \"check\"}}]}}"
        );
    }
    s.push_str("]}");
    s
}

fn main() {
    let n = env_num("BENCH_PARTICIPANTS", 1_000_000);
    let secs = env_num("BENCH_SECS", 5);
    let concurrency = env_num("BENCH_CONCURRENCY", 16) as usize;
    let import_kib = env_num("BENCH_IMPORT_ARGON2_KIB", 64) as u32;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");

    // 1. The PAR ID check at the production parameters.
    let cost = HashCost::default();
    let hasher = Hasher::new(cost).expect("hasher");
    let p = ParId::parse("4820193756").expect("par");
    let hash = hasher.hash(&p).expect("hash");
    let mut times = Vec::new();
    rt.block_on(async {
        for _ in 0..40 {
            let t = Instant::now();
            assert!(
                hasher
                    .verify(Some(p.clone()), Some(hash.clone()))
                    .await
                    .expect("verify")
            );
            times.push(t.elapsed());
        }
    });
    let f = Figures::from(times, 1.0);
    println!(
        "PAR ID verification, argon2id m={} KiB t={} p=1: p50 {:.1} ms, p99 {:.1} ms per check (one core)",
        cost.memory_kib,
        cost.iterations,
        f.p50.as_secs_f64() * 1000.0,
        f.p99.as_secs_f64() * 1000.0
    );
    let per_hash = f.p50;

    // 2. Import.
    let dir = tempfile::tempdir().expect("dir");
    let db = format!("sqlite://{}/bench.db", dir.path().display());
    let t = Instant::now();
    let text = extract(n);
    let generated = t.elapsed();
    let t = Instant::now();
    let parsed = import::parse(&text).expect("valid extract");
    drop(text);
    let parse_time = t.elapsed();
    let bulk_cost = HashCost {
        memory_kib: import_kib,
        iterations: 1,
    };
    let bulk = Hasher::new(bulk_cost).expect("hasher");
    let blind = BlindIndex::new(common::BLIND_KEY).expect("key");
    let hashing = std::sync::Mutex::new((Instant::now(), Duration::ZERO));
    let t = Instant::now();
    let stats = rt.block_on(async {
        let store = Store::connect(&db).await.expect("store");
        let stats = import::run(&store, &blind, &bulk, parsed, &|m| {
            if m.starts_with("hashing") {
                hashing.lock().unwrap().0 = Instant::now();
            }
            if m.starts_with("writing") {
                let mut h = hashing.lock().unwrap();
                h.1 = h.0.elapsed();
            }
        })
        .await
        .expect("import");
        store.close().await;
        stats
    });
    let import_time = t.elapsed();
    let hash_time = hashing.lock().unwrap().1;
    let cores = std::thread::available_parallelism().map_or(2, |c| c.get()) as f64;
    let production_hash_time = per_hash.as_secs_f64() * n as f64 / cores;
    println!(
        "import of {n} participants and {} cases: parse and validate {:.1} s, apply {:.1} s \
         (of which argon2 at m={import_kib} KiB t=1: {:.1} s); file generated in {:.1} s",
        stats.cases_written,
        parse_time.as_secs_f64(),
        import_time.as_secs_f64(),
        hash_time.as_secs_f64(),
        generated.as_secs_f64()
    );
    println!(
        "  at the production argon2 parameters the hashing alone would take about {:.0} s on {cores} cores \
         ({:.1} ms x {n} / {cores}), once: re-imports hash only new participants",
        production_hash_time,
        per_hash.as_secs_f64() * 1000.0
    );

    // 3. Readback webhooks on the imported database.
    let mut settings = common::settings(&db);
    settings.hash_cost = bulk_cost;
    let base = common::spawn_caseline(settings);
    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let figures = client_rt.block_on(async {
        let client = reqwest::Client::new();
        let run = |secs: u64| {
            let client = client.clone();
            let base = base.clone();
            async move {
                let mut tasks = Vec::new();
                for k in 0..concurrency {
                    let client = client.clone();
                    let base = base.clone();
                    tasks.push(tokio::spawn(async move {
                        // A paying parent spread across the data set.
                        let i = ((k as u64 * 7919 + 1) * 104_729 % (n / 2)) * 2;
                        let sid = format!("CA{:032x}", k as u128 * 31 + secs as u128);
                        let base_params = vec![
                            ("CallSid".to_string(), sid),
                            ("From".to_string(), "+15595550100".to_string()),
                            ("To".to_string(), "+18669013212".to_string()),
                        ];
                        let step = |path: &str, digits: Option<&str>| {
                            let mut p = base_params.clone();
                            if let Some(d) = digits {
                                p.push(("Digits".to_string(), d.to_string()));
                            }
                            signed(format!("{base}{path}"), p)
                        };
                        send(&client, &step("/voice/incoming", None)).await;
                        send(&client, &step("/voice/input/language", Some("1"))).await;
                        send(&client, &step("/voice/input/main-menu", Some("1"))).await;
                        send(&client, &step("/voice/input/ask-ssn", Some(&ssn(i)))).await;
                        let body =
                            send(&client, &step("/voice/input/ask-par", Some(&par(i)))).await;
                        assert!(body.contains("four hundred fifty dollars"), "{body}");
                        // Then between the two readbacks: 1 at payments (case status),
                        // 1 at case status (payments). Each reads the case and audits.
                        // The clock starts once the call is verified.
                        let deadline = Instant::now() + Duration::from_secs(secs);
                        let to_status = step("/voice/input/payments-paying", Some("1"));
                        let to_payments = step("/voice/input/case-open", Some("1"));
                        let mut latencies = Vec::new();
                        let mut turn = 0;
                        while Instant::now() < deadline {
                            let s = if turn % 2 == 0 {
                                &to_status
                            } else {
                                &to_payments
                            };
                            turn += 1;
                            let t = Instant::now();
                            let body = send(&client, s).await;
                            latencies.push(t.elapsed());
                            assert!(
                                body.contains("Fresno") || body.contains("dollars"),
                                "{body}"
                            );
                        }
                        latencies
                    }));
                }
                let started = Instant::now();
                let mut all = Vec::new();
                for t in tasks {
                    all.extend(t.await.expect("task"));
                }
                Figures::from(all, started.elapsed().as_secs_f64())
            }
        };
        run(1).await;
        run(secs).await
    });
    println!(
        "{}",
        figures.line(&format!("readback step, {n} participants"))
    );
}
