//! Where a request comes in: the server loop ([`server`]: connections, timeouts), the
//! provider's webhooks ([`webhook`]: signature check by [`signature`], TwiML out), and
//! the load balancer's health check ([`health`]). The staff API is in
//! [`crate::staff::api`].

pub mod server;
pub mod signature;
pub mod stream;
pub mod webhook;
