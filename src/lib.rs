//! Caseline: the IVR behind a child support agency's toll-free line.
//!
//! A call, top to bottom: a request comes in ([`http`]: the server loop, the provider's
//! signed webhooks); the call layer finds the call's session and answers ([`call`]); the
//! flow engine walks the call flow ([`flow`]); actions do the domain work ([`actions`],
//! then [`verify`], [`readback`], [`callbacks`], [`transfer`]...); prompts and words
//! turn values into speech ([`prompts`], [`speech`]); TwiML goes out ([`twiml`]).
//! Sessions and data live in the [`store`]. Staff have their own surface ([`staff`]).
//! [`app`] wires it all together over the shared [`state`]; [`config`] is the settings.

// Wiring and shared state.
pub mod app;
pub mod config;
pub mod state;

// A request comes in, a call is answered, the flow is walked, actions run.
pub mod actions;
pub mod call;
pub mod flow;
pub mod http;

// The domain: who the caller is, their cases, reaching a person.
pub mod analytics;
pub mod announcement;
pub mod callbacks;
pub mod cases;
pub mod hours;
pub mod outbound;
pub mod pay;
pub mod provider;
pub mod readback;
pub mod requests;
pub mod screenpop;
pub mod session;
pub mod transfer;
pub mod tty;
pub mod verify;

// Words and TwiML out.
pub mod prompts;
pub mod speech;
pub mod twiml;

// Data.
pub mod store;

// Customer service staff: accounts, the API, the console.
pub mod staff;

// Around the edges.
pub mod clock;
pub mod demo;
pub mod dialer;
pub mod loadtest;
pub mod observe;
pub mod telemetry;
