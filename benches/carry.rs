//! The session a turn URL carries (`call::carried`): how long sealing and opening take
//! and how long the seal is, for a caller at an information menu (the load tester's
//! calls) and for a verified caller with cases. Behind a round-robin balancer every
//! answer seals once and most requests open once, so this is what crossing servers
//! costs a request beyond reading its own copy.
//!
//! `cargo bench --bench carry` (release profile). Settings: BENCH_ITERATIONS (default
//! 200,000).

mod common;

/// The server's allocator (as in `main.rs`), so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

use caseline::call::Carry;
use caseline::session::{CallSid, CaseRef, Role, Session};
use caseline::words::prompts::{Channel, Lang};
use common::env_num;

fn at_a_menu() -> Session {
    let sid = CallSid::parse("CA25f8b550b15d44bc000000000000009d").expect("a CallSid");
    let mut s = Session::new(sid, Channel::Voice, 1_796_683_581);
    s.lang = Some(Lang::En);
    s.step = Some("info-online".into());
    s.awaiting = s.step.clone();
    s.caller = Some("+15595550157".into());
    s.path = "welcome,language,set-english,main-menu,info-menu,info-payments,info-menu,\
              info-online"
        .into();
    s.load_test = true;
    s.turn = 26_478_641_075;
    s
}

fn verified() -> Session {
    let mut s = at_a_menu();
    s.verified = true;
    s.participant = Some(4_100_233);
    s.cases = (0..2)
        .map(|i| CaseRef {
            case_id: 900 + i,
            case_number: format!("BC-2024-00{i}417"),
            role: Role::Custodial,
            county: Some("Kern".into()),
        })
        .collect();
    s.case = s.cases.first().cloned();
    s.heard = vec!["payments".into()];
    s.step = Some("payments-menu".into());
    s.path = "welcome,language,set-english,main-menu,ask-ssn,ask-par-id,verified,payments,\
              payments-menu"
        .into();
    s.load_test = false;
    s
}

fn main() {
    let iterations = env_num("BENCH_ITERATIONS", 200_000);
    let carry = Carry::new("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
        .expect("a key");
    println!("carried sessions, {iterations} seals and opens each");
    for (name, session) in [("at a menu", at_a_menu()), ("verified", verified())] {
        let json = serde_json::to_string(&session).expect("JSON");
        let started = Instant::now();
        let mut sealed = String::new();
        for i in 0..iterations {
            sealed = carry
                .seal(&session, 1_796_683_600 + (i % 7) as i64)
                .expect("sealed");
        }
        let seal = started.elapsed().as_nanos() as f64 / iterations as f64;
        let started = Instant::now();
        for _ in 0..iterations {
            let opened = carry.open(&sealed, session.call_sid.as_str(), session.turn, 0);
            assert!(opened.is_some(), "opens");
        }
        let open = started.elapsed().as_nanos() as f64 / iterations as f64;
        println!(
            "{name:<10} JSON {:>4} bytes, sealed {:>4} characters; seal {:>6.0} ns, open {:>6.0} ns",
            json.len(),
            sealed.len(),
            seal,
            open
        );
    }
}
