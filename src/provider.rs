//! The provider's REST API, for the one thing Caseline asks of it: move a live call to
//! new TwiML (`POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json` with `Url`
//! and `Method`). Errors come back sorted by what a staff member can do about them.

use std::time::Duration;

/// Why the provider did not move the call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    #[error("Caseline has no provider account configured (CASELINE_TWILIO_ACCOUNT_SID)")]
    NotConfigured,
    #[error("the provider refused our credentials")]
    Unauthorized,
    #[error("the provider has no live call with that id (it may have ended)")]
    CallNotFound,
    #[error("the provider is limiting requests; try again in a moment")]
    RateLimited,
    #[error("the provider could not move the call (status {0}); try again")]
    Unavailable(u16),
    #[error("the provider did not answer in time; the call may or may not have moved")]
    Timeout,
    #[error("the provider could not be reached")]
    Unreachable,
    #[error("the provider refused the request (status {0})")]
    Refused(u16),
}

#[derive(Clone)]
pub struct Provider {
    client: reqwest::Client,
    api_base: String,
    account_sid: Option<String>,
    auth_token: Option<String>,
}

impl Provider {
    pub fn new(
        api_base: &str,
        account_sid: Option<String>,
        auth_token: Option<String>,
        timeout: Duration,
    ) -> anyhow::Result<Provider> {
        Ok(Provider {
            client: reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(timeout)
                .build()?,
            api_base: api_base.trim_end_matches('/').to_string(),
            account_sid,
            auth_token,
        })
    }

    /// Points the live call `call_sid` at `url` (the provider then POSTs there).
    pub async fn redirect_call(&self, call_sid: &str, url: &str) -> Result<(), ProviderError> {
        let (Some(account), Some(token)) = (&self.account_sid, &self.auth_token) else {
            return Err(ProviderError::NotConfigured);
        };
        let endpoint = format!(
            "{}/2010-04-01/Accounts/{account}/Calls/{call_sid}.json",
            self.api_base
        );
        let sent = self
            .client
            .post(&endpoint)
            .basic_auth(account, Some(token))
            .form(&[("Url", url), ("Method", "POST")])
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(match r.status().as_u16() {
                401 | 403 => ProviderError::Unauthorized,
                404 => ProviderError::CallNotFound,
                // Twilio answers 400 with error 21220 for a call that is no longer live.
                400 if r.text().await.is_ok_and(|b| b.contains("21220")) => {
                    ProviderError::CallNotFound
                }
                429 => ProviderError::RateLimited,
                s @ 500..=599 => ProviderError::Unavailable(s),
                s => ProviderError::Refused(s),
            }),
            Err(e) if e.is_timeout() => Err(ProviderError::Timeout),
            Err(_) => Err(ProviderError::Unreachable),
        }
    }
}
