//! The provider's REST API, for what Caseline asks of it: move a live call to new TwiML
//! (`POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json` with `Url` and
//! `Method`), fetch and delete a caller's recording (`Recordings/{Sid}`), and text a
//! reference number (`Messages.json`). Always with the account's credentials; errors
//! come back sorted by what a staff member can do about them.

use std::time::Duration;

/// Why the provider did not move the call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    #[error("Caseline has no provider account configured (CASELINE_TWILIO_ACCOUNT_SID)")]
    NotConfigured,
    #[error("the provider refused our credentials")]
    Unauthorized,
    #[error("the provider has no such call or recording (it may have ended or been deleted)")]
    CallNotFound,
    #[error("the provider is limiting requests; try again in a moment")]
    RateLimited,
    #[error("the provider could not do it (status {0}); try again")]
    Unavailable(u16),
    #[error("the provider did not answer in time; the call may or may not have moved")]
    Timeout,
    #[error("the provider could not be reached")]
    Unreachable,
    #[error("the provider refused the request (status {0})")]
    Refused(u16),
    /// The provider will not call that number (invalid, unreachable, not permitted).
    #[error("the provider will not call that number (error {0})")]
    NumberRefused(u32),
}

/// The provider's errors about a call's `To` number: invalid (21211), not reachable
/// (21214), not permitted by the geographic settings (21215), blocked (21216), not a
/// valid phone number (21217).
const NUMBER_ERRORS: [u32; 5] = [21211, 21214, 21215, 21216, 21217];

/// How long a recording may take to arrive, body included.
const RECORDING_TIMEOUT: Duration = Duration::from_secs(60);

/// The whole REST client: it moves live calls, so only staff transfers hold it; the
/// rest of the server holds one of the narrower handles below.
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
        let (account, token) = self.account()?;
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
            Ok(r) => Err(refusal(r).await),
            Err(e) => Err(unsent(&e)),
        }
    }

    fn account(&self) -> Result<(&str, &str), ProviderError> {
        match (&self.account_sid, &self.auth_token) {
            (Some(a), Some(t)) => Ok((a, t)),
            _ => Err(ProviderError::NotConfigured),
        }
    }

    /// The recording `sid` as audio (MP3), for a staff member to hear through the
    /// server: the answer's body is read as it streams.
    async fn recording(&self, sid: &str) -> Result<reqwest::Response, ProviderError> {
        let (account, token) = self.account()?;
        let endpoint = format!(
            "{}/2010-04-01/Accounts/{account}/Recordings/{sid}.mp3",
            self.api_base
        );
        // A minute of audio may take longer than a REST call: its own, longer deadline.
        match self
            .client
            .get(&endpoint)
            .basic_auth(account, Some(token))
            .timeout(RECORDING_TIMEOUT)
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => Ok(r),
            Ok(r) => Err(refusal(r).await),
            Err(e) => Err(unsent(&e)),
        }
    }

    /// Deletes the recording `sid` at the provider; one already gone counts as deleted.
    async fn delete_recording(&self, sid: &str) -> Result<(), ProviderError> {
        let (account, token) = self.account()?;
        let endpoint = format!(
            "{}/2010-04-01/Accounts/{account}/Recordings/{sid}.json",
            self.api_base
        );
        match self
            .client
            .delete(&endpoint)
            .basic_auth(account, Some(token))
            .send()
            .await
        {
            Ok(r) if r.status().is_success() || r.status().as_u16() == 404 => Ok(()),
            Ok(r) => Err(refusal(r).await),
            Err(e) => Err(unsent(&e)),
        }
    }

    /// Places an outbound call (`POST .../Calls.json` with `form`); answers its CallSid.
    async fn place_call(&self, form: &[(&str, &str)]) -> Result<String, ProviderError> {
        let (account, token) = self.account()?;
        let endpoint = format!("{}/2010-04-01/Accounts/{account}/Calls.json", self.api_base);
        match self
            .client
            .post(&endpoint)
            .basic_auth(account, Some(token))
            .form(form)
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => {
                let text = r.text().await.unwrap_or_default();
                let body: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                Ok(body["sid"].as_str().unwrap_or_default().to_string())
            }
            Ok(r) if r.status().as_u16() == 400 => {
                let text = r.text().await.unwrap_or_default();
                let body: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                let code = body["code"].as_u64().and_then(|c| u32::try_from(c).ok());
                Err(match code {
                    Some(c) if NUMBER_ERRORS.contains(&c) => ProviderError::NumberRefused(c),
                    _ => ProviderError::Refused(400),
                })
            }
            Ok(r) => Err(refusal(r).await),
            Err(e) => Err(unsent(&e)),
        }
    }

    /// Sends a text message `body` from `from` to `to`.
    async fn send_sms(&self, to: &str, from: &str, body: &str) -> Result<(), ProviderError> {
        let (account, token) = self.account()?;
        let endpoint = format!(
            "{}/2010-04-01/Accounts/{account}/Messages.json",
            self.api_base
        );
        match self
            .client
            .post(&endpoint)
            .basic_auth(account, Some(token))
            .form(&[("To", to), ("From", from), ("Body", body)])
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(refusal(r).await),
            Err(e) => Err(unsent(&e)),
        }
    }
}

impl Provider {
    /// The handle that texts and does nothing else (the texted reference).
    pub fn texts(&self) -> Texts {
        Texts(self.clone())
    }

    /// The handle that fetches and deletes recordings and does nothing else.
    pub fn recordings(&self) -> Recordings {
        Recordings(self.clone())
    }

    /// The handle that places calls and does nothing else (the dialer's callbacks).
    pub fn dialing(&self) -> Dialing {
        Dialing(self.clone())
    }
}

/// Texting through the provider: what a call's actions may ask of it.
#[derive(Clone)]
pub struct Texts(Provider);

impl Texts {
    /// Sends a text message `body` from `from` to `to`.
    pub async fn send(&self, to: &str, from: &str, body: &str) -> Result<(), ProviderError> {
        self.0.send_sms(to, from, body).await
    }
}

/// A caller's recordings at the provider: heard by staff through the server, deleted
/// when no request keeps them.
#[derive(Clone)]
pub struct Recordings(Provider);

impl Recordings {
    /// The recording `sid` as audio (MP3), read as it streams.
    pub async fn fetch(&self, sid: &str) -> Result<reqwest::Response, ProviderError> {
        self.0.recording(sid).await
    }

    /// Deletes the recording `sid`; one already gone counts as deleted.
    pub async fn delete(&self, sid: &str) -> Result<(), ProviderError> {
        self.0.delete_recording(sid).await
    }
}

/// Placing outbound calls: the dialer's handle.
#[derive(Clone)]
pub struct Dialing(Provider);

impl Dialing {
    /// Places an outbound call (`POST .../Calls.json` with `form`); answers its CallSid.
    pub async fn place(&self, form: &[(&str, &str)]) -> Result<String, ProviderError> {
        self.0.place_call(form).await
    }
}

/// What a refusal means for the one who asked.
async fn refusal(r: reqwest::Response) -> ProviderError {
    match r.status().as_u16() {
        401 | 403 => ProviderError::Unauthorized,
        404 => ProviderError::CallNotFound,
        // Twilio answers 400 with error 21220 for a call that is no longer live.
        400 if r.text().await.is_ok_and(|b| b.contains("21220")) => ProviderError::CallNotFound,
        429 => ProviderError::RateLimited,
        s @ 500..=599 => ProviderError::Unavailable(s),
        s => ProviderError::Refused(s),
    }
}

fn unsent(e: &reqwest::Error) -> ProviderError {
    if e.is_timeout() {
        ProviderError::Timeout
    } else {
        ProviderError::Unreachable
    }
}
