//! The screen pop: when a caller goes to a representative, a signed JSON event to the
//! agency's CRM (`CASELINE_SCREEN_POP_URL`) so the caller's context is on screen when
//! the call is answered. Sent in the background: a slow or broken CRM never delays or
//! changes what the caller hears. A few quick tries, then the failure is logged.

use hmac::{KeyInit, Mac};
use serde::Serialize;

use crate::config::RetryPolicy;
use crate::domain::transfer::Context;

/// The header carrying `sha256=<hex HMAC-SHA256 of the body>`.
pub const SIGNATURE_HEADER: &str = "X-Caseline-Signature";

/// The event's JSON body.
#[derive(Debug, Serialize)]
pub struct Event<'a> {
    /// Always `transfer` for now.
    pub event: &'static str,
    /// RFC 3339, UTC.
    pub sent_at: String,
    /// Where the caller was sent (`queue:customer-service`, a number or SIP URI).
    pub destination: String,
    #[serde(flatten)]
    pub context: &'a Context,
}

#[derive(Clone)]
pub struct ScreenPop {
    client: reqwest::Client,
    url: String,
    secret: String,
    policy: RetryPolicy,
}

/// Why a delivery was given up.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("the CRM refused the event with status {0}")]
    Refused(u16),
    #[error("no success after {attempts} attempts (last: {last})")]
    GaveUp { attempts: u32, last: String },
}

impl ScreenPop {
    pub fn new(url: String, secret: String, policy: RetryPolicy) -> anyhow::Result<ScreenPop> {
        let client = reqwest::Client::builder()
            .timeout(policy.timeout)
            .connect_timeout(policy.timeout)
            .build()?;
        Ok(ScreenPop {
            client,
            url,
            secret,
            policy,
        })
    }

    /// Sends the event in the background; returns at once.
    pub fn send(&self, context: &Context, destination: String) {
        let event = Event {
            event: "transfer",
            sent_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            destination,
            context,
        };
        let body = match serde_json::to_vec(&event) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "screen pop not sent: cannot encode the event");
                return;
            }
        };
        let this = self.clone();
        let call_sid = context.call_sid.clone();
        tokio::spawn(async move {
            match this.deliver(body).await {
                Ok(attempts) => {
                    crate::ops::metrics::count_by(
                        "caseline_screen_pops_total",
                        "result",
                        "delivered",
                    );
                    tracing::info!(call_sid, attempts, "screen pop delivered")
                }
                Err(e) => {
                    crate::ops::metrics::count_by("caseline_screen_pops_total", "result", "failed");
                    tracing::warn!(call_sid, error = %e, "screen pop not delivered")
                }
            }
        });
    }

    /// Posts the body, retrying timeouts, connection failures, 429 and 5xx answers;
    /// answers how many attempts it took.
    pub async fn deliver(&self, body: Vec<u8>) -> Result<u32, DeliveryError> {
        let signature = sign(&self.secret, &body);
        let mut last = String::new();
        let mut pause = self.policy.backoff;
        for attempt in 1..=self.policy.attempts.max(1) {
            if attempt > 1 {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            let sent = self
                .client
                .post(&self.url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(SIGNATURE_HEADER, &signature)
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => return Ok(attempt),
                Ok(r) if r.status().is_server_error() || r.status().as_u16() == 429 => {
                    last = format!("status {}", r.status().as_u16());
                }
                Ok(r) => return Err(DeliveryError::Refused(r.status().as_u16())),
                Err(e) if e.is_timeout() => last = "timed out".into(),
                Err(e) => last = format!("{e}"),
            }
        }
        Err(DeliveryError::GaveUp {
            attempts: self.policy.attempts.max(1),
            last,
        })
    }
}

/// `sha256=` and the hex HMAC-SHA256 of `body` under `secret`: what a receiver
/// recomputes and compares (in constant time) before trusting the event.
pub fn sign(secret: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length, so the error arm is never taken.
    match <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(body);
            let hex: String = mac
                .finalize()
                .into_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            format!("sha256={hex}")
        }
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hex_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            sign("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
