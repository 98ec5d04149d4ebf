//! Caseline: the IVR behind a child support agency's toll-free line.
//!
//! A webhook arrives ([`webhook`]), its logic runs ([`call`]), the flow engine decides
//! the next step ([`flow`]), prompts turn values into words ([`prompts`], [`speech`]),
//! TwiML goes out ([`twiml`]). Sessions and data live in the [`store`].

pub mod actions;
pub mod announcement;
pub mod app;
pub mod call;
pub mod callbacks;
pub mod cases;
pub mod clock;
pub mod config;
pub mod demo;
pub mod flow;
pub mod health;
pub mod hours;
pub mod prompts;
pub mod provider;
pub mod queue;
pub mod readback;
pub mod screenpop;
pub mod server;
pub mod session;
pub mod signature;
pub mod speech;
pub mod staff;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod transfer;
pub mod twiml;
pub mod verify;
pub mod webhook;
