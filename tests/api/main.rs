//! The integration tests: one binary, a module per area of the product, sharing
//! [`helpers`] (a real router on a fresh database each, a phone that sends signed
//! webhooks). Scenarios that need what a machine may lack (PostgreSQL, a browser) are
//! `#[ignore]`d with the reason, so `cargo test` says they did not run; `.ci/run` runs
//! them with `--include-ignored`, and there they fail if what they need is missing.

#[macro_use]
mod helpers;

mod agency_staff;
mod architecture;
mod balancing;
mod calls;
mod cli;
mod connections;
mod console;
mod deploying;
mod dialer;
mod docs;
mod hardening;
mod loadtest;
mod operating;
mod outbound;
mod packaged;
mod paying;
mod reaching;
mod reports;
mod requests;
mod robustness;
mod routing;
mod speaking;
mod staff;
mod statements;
mod tty;
mod tty_peer;
mod twiml_schema;
mod verified;
