//! Caseline: the IVR behind a child support agency's toll-free line.
//!
//! The folders are the pipeline of a call, top to bottom; a module imports only from
//! its own layer or the ones below it (`tests/api/architecture.rs` holds the rule):
//!
//! - [`cli`] and [`app`]: the commands, and the composition root that builds the
//!   shared [`state`] and the server from the [`config`].
//! - [`http`]: the server loop, the provider's signed webhooks, the TTY media stream;
//!   [`staff`]: the staff API and console.
//! - [`call`]: finds the call's [`session`] and answers the turn.
//! - [`actions`]: the Rust behind each `<Action>` a flow names, over the [`flow`]
//!   engine that walks the compiled call flows.
//! - [`domain`]: verifying callers, reading cases back, payments, requests, callbacks
//!   and the dialer, transfers and the screen pop, the announcement.
//! - [`store`]: sessions and data, SQLite or PostgreSQL.
//! - [`words`]: prompts and speech; [`telephony`]: TwiML, the provider's REST API and
//!   the TTY modem; [`clock`]: time and opening hours; [`ops`]: metrics, logs,
//!   reports and the load tester.

// The commands and the composition root.
pub mod app;
pub mod cli;
pub mod config;
pub mod state;

// Surfaces: what the provider and staff reach.
pub mod http;
pub mod staff;

// A call: its layer, its actions, its flow, its record.
pub mod actions;
pub mod call;
pub mod flow;
pub mod session;

// The domain and its data.
pub mod domain;
pub mod store;

// Beneath everything: words, the provider's vocabulary, time, operations.
pub mod clock;
pub mod ops;
pub mod telephony;
pub mod words;
