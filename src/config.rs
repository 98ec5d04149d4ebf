//! Settings from `CASELINE_*` environment variables and an optional `caseline.toml`
//! (same names, lower case, without the prefix: `public_url = "..."`); the environment
//! wins.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};

#[derive(Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    /// Base URL the provider calls, without a trailing slash. Action URLs and signature
    /// checks are built from it, never from the Host header.
    pub public_url: String,
    pub database_url: String,
    pub auth_token: Option<String>,
    pub shared_key: Option<String>,
    /// Called numbers (E.164) whose calls get the TTY flow.
    pub tty_numbers: Vec<String>,
    pub flows_dir: PathBuf,
    pub prompts_dir: PathBuf,
    pub voice_en: Option<String>,
    pub voice_es: Option<String>,
    /// The agency's main line, as callers should dial it.
    pub csu_phone: String,
    pub tty_phone: String,
    /// EPPICard services, for Electronic Payment Card holders.
    pub epc_phone: String,
    /// Key for the SSN and PAR ID blind indexes (at least 32 characters).
    pub blind_index_key: Option<String>,
    pub hash_cost: HashCost,
    pub lockout: Lockout,
    /// Skip signature checks (demo and local experiments only).
    pub insecure_no_signature: bool,
    /// When the Customer Service Unit answers (`CASELINE_TIMEZONE`, `CASELINE_HOURS`,
    /// `CASELINE_HOLIDAYS_FILE`).
    pub hours: crate::clock::hours::Hours,
    /// Where a caller who asks for a person goes: the number or SIP URI in
    /// `CASELINE_CSU_NUMBER` if set, else the queue `CASELINE_CSU_QUEUE`.
    pub csu_queue: String,
    pub csu_number: Option<String>,
    /// A TaskRouter workflow: with it, `<Enqueue>` carries the caller's context as a
    /// `<Task>`.
    pub csu_workflow_sid: Option<String>,
    /// Hold audio between queue announcements (silence when unset).
    pub hold_music_url: Option<String>,
    /// From this queue position on, the wait is "long": the callback is offered first.
    pub queue_long_position: u32,
    pub screen_pop_url: Option<String>,
    pub screen_pop_secret: Option<String>,
    /// The provider account, for moving live calls (staff transfers).
    pub twilio_account_sid: Option<String>,
    /// The provider's REST API (tests point it at a mock).
    pub twilio_api_base: String,
    /// How long the provider's REST API gets to move a call.
    pub provider_timeout: std::time::Duration,
    /// How long a staff request waits for a flow diagram being drawn (tests shorten
    /// it); under the staff API's own 10-second deadline, so the answer says why.
    pub diagram_deadline: std::time::Duration,
    /// Take the client address from `X-Forwarded-For` (only behind a proxy that sets it).
    pub trust_proxy: bool,
    /// Tries, timeout and backoff for the screen pop (tests shorten them).
    pub screen_pop_retry: RetryPolicy,
    /// How long a client has to send a complete request head before its connection is
    /// closed (silent and slow-drip clients).
    pub header_timeout: std::time::Duration,
    /// How long a keep-alive connection may wait for its next request; longer than a
    /// load balancer's usual 60 s, so the balancer closes first.
    pub idle_timeout: std::time::Duration,
    /// The most connections served at once, whatever the open-file limit allows: each
    /// costs memory, and a hard limit of half a million would let a flood take it all.
    pub max_connections: u32,
    /// Paying by card (`CASELINE_PAY_CONNECTOR`, `CASELINE_PAY_MAX`,
    /// `CASELINE_PAY_CARD_FEE_PERCENT`).
    pub pay: PaySettings,
    /// The agency's number that texts a request's reference number to the caller
    /// (`CASELINE_SMS_FROM`); unset, no text is offered.
    pub sms_from: Option<String>,
    /// How TTY calls are served (`CASELINE_TTY_MODE`).
    pub tty_mode: TtyMode,
    /// The callback dialer (`CASELINE_CALLBACK_*`).
    pub dialer: DialerSettings,
    /// Where the Prometheus metrics are served (`CASELINE_METRICS_LISTEN`); unset, off.
    /// Never the webhook port.
    pub metrics_listen: Option<SocketAddr>,
    /// Days a call's path is kept for the analytics (`CASELINE_ANALYTICS_DAYS`).
    pub analytics_days: u32,
}

/// The callback dialer's settings.
#[derive(Debug, Clone)]
pub struct DialerSettings {
    /// The agency's number, the caller ID of every callback; unset, the dialer is off.
    pub from: Option<String>,
    pub tick: std::time::Duration,
    /// At most this many callers waiting in the queue for a callback to be dialled.
    pub max_waiting: u32,
    pub attempts: i64,
    /// Seconds between attempts.
    pub retry_secs: i64,
    /// A queue for callbacks, ahead of the callers who have not waited (without a
    /// TaskRouter workflow, whose `<Task>` gets a priority instead).
    pub queue: Option<String>,
    /// The local hours (start, end) a callback may ring, besides the office hours.
    pub ring_hours: (u32, u32),
    /// The +1 countries callbacks may ring (`CASELINE_CALLBACK_REGIONS`, `US` by
    /// default; for example `US,CA`). Texts go to US numbers only, whatever this says.
    pub regions: Vec<phonenumber::country::Id>,
}

impl Default for DialerSettings {
    fn default() -> Self {
        DialerSettings {
            from: None,
            tick: std::time::Duration::from_secs(20),
            max_waiting: 2,
            attempts: 3,
            retry_secs: 15 * 60,
            queue: None,
            ring_hours: (8, 21),
            regions: vec![phonenumber::country::Id::US],
        }
    }
}

/// How the TTY numbers are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TtyMode {
    /// The server is the TTY modem, over the provider's media stream (the default).
    Baudot,
    /// TwiML text turns, for a provider or relay that converts text to TTY tones.
    Text,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets stay out of logs.
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("public_url", &self.public_url)
            .field("database", &redact_url(&self.database_url))
            .field("auth_token", &self.auth_token.as_ref().map(|_| "<set>"))
            .field("shared_key", &self.shared_key.as_ref().map(|_| "<set>"))
            .field(
                "blind_index_key",
                &self.blind_index_key.as_ref().map(|_| "<set>"),
            )
            .field("tty_numbers", &self.tty_numbers)
            .field("flows_dir", &self.flows_dir)
            .field("prompts_dir", &self.prompts_dir)
            .field("hours", &self.hours)
            .field("csu_queue", &self.csu_queue)
            .field("csu_number", &self.csu_number)
            .field("screen_pop_url", &self.screen_pop_url)
            .field(
                "screen_pop_secret",
                &self.screen_pop_secret.as_ref().map(|_| "<set>"),
            )
            .finish_non_exhaustive()
    }
}

/// The URL without its password.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl Default for Settings {
    fn default() -> Self {
        let listen: SocketAddr = ([127, 0, 0, 1], 8080).into();
        Settings {
            listen,
            public_url: format!("http://{listen}"),
            database_url: "sqlite://caseline.db".into(),
            auth_token: None,
            shared_key: None,
            tty_numbers: Vec::new(),
            flows_dir: "call-flows".into(),
            prompts_dir: "prompts".into(),
            voice_en: Some("Polly.Joanna".into()),
            voice_es: Some("Polly.Lupe".into()),
            csu_phone: "866-901-3212".into(),
            tty_phone: "866-399-4096".into(),
            epc_phone: "1-877-777-1617".into(),
            blind_index_key: None,
            hash_cost: HashCost::default(),
            lockout: Lockout::default(),
            insecure_no_signature: false,
            hours: crate::clock::hours::Hours::default(),
            csu_queue: "customer-service".into(),
            csu_number: None,
            csu_workflow_sid: None,
            hold_music_url: None,
            queue_long_position: 5,
            screen_pop_url: None,
            screen_pop_secret: None,
            screen_pop_retry: Default::default(),
            twilio_account_sid: None,
            twilio_api_base: "https://api.twilio.com".into(),
            trust_proxy: false,
            provider_timeout: std::time::Duration::from_secs(5),
            diagram_deadline: std::time::Duration::from_secs(8),
            header_timeout: std::time::Duration::from_secs(5),
            idle_timeout: std::time::Duration::from_secs(75),
            max_connections: 10_000,
            pay: PaySettings::default(),
            sms_from: None,
            tty_mode: TtyMode::Baudot,
            dialer: DialerSettings::default(),
            metrics_listen: None,
            analytics_days: 400,
        }
    }
}

impl Settings {
    /// Reads `caseline.toml` (or the file in `CASELINE_CONFIG`) if present, then the
    /// environment.
    pub fn load() -> anyhow::Result<Settings> {
        let env: HashMap<String, String> = std::env::vars().collect();
        let file = env
            .get("CASELINE_CONFIG")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("caseline.toml"));
        let toml = if file.exists() {
            Some(std::fs::read_to_string(&file).with_context(|| format!("{}", file.display()))?)
        } else if env.contains_key("CASELINE_CONFIG") {
            bail!(
                "{}: CASELINE_CONFIG names a file that does not exist",
                file.display()
            );
        } else {
            None
        };
        Self::from_sources(&env, toml.as_deref(), &file)
    }

    /// Builds settings from an environment map and optional TOML text.
    pub fn from_sources(
        env: &HashMap<String, String>,
        toml_text: Option<&str>,
        file: &Path,
    ) -> anyhow::Result<Settings> {
        let table: toml::Table = match toml_text {
            Some(t) => {
                toml::from_str(t).map_err(|e| anyhow!("{}: not valid TOML: {e}", file.display()))?
            }
            None => toml::Table::new(),
        };
        let get = |key: &str| -> Option<String> {
            let env_key = format!("CASELINE_{}", key.to_ascii_uppercase());
            env.get(&env_key)
                .cloned()
                .or_else(|| match table.get(key) {
                    Some(toml::Value::String(s)) => Some(s.clone()),
                    Some(other) => Some(other.to_string()),
                    None => None,
                })
                .filter(|v| !v.trim().is_empty())
        };
        let mut s = Settings::default();
        if let Some(v) = get("listen") {
            s.listen = v
                .parse()
                .map_err(|_| anyhow!("CASELINE_LISTEN must be host:port, not '{v}'"))?;
        }
        s.public_url = match get("public_url") {
            Some(v) => {
                if !(v.starts_with("http://") || v.starts_with("https://")) {
                    bail!("CASELINE_PUBLIC_URL must start with http:// or https://");
                }
                v.trim_end_matches('/').to_string()
            }
            None => format!("http://{}", s.listen),
        };
        if let Some(v) = get("database_url") {
            s.database_url = v;
        }
        s.auth_token = get("twilio_auth_token");
        s.shared_key = get("twilio_shared_key");
        if let Some(v) = get("tty_numbers") {
            s.tty_numbers = v
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(String::from)
                .collect();
            for n in &s.tty_numbers {
                if !is_e164(n) {
                    bail!("CASELINE_TTY_NUMBERS: '{n}' is not an E.164 number like +18663994096");
                }
            }
        }
        if let Some(v) = get("flows_dir") {
            s.flows_dir = v.into();
        }
        if let Some(v) = get("prompts_dir") {
            s.prompts_dir = v.into();
        }
        if let Some(v) = get("voice_en") {
            s.voice_en = (v != "none").then_some(v);
        }
        if let Some(v) = get("voice_es") {
            s.voice_es = (v != "none").then_some(v);
        }
        if let Some(v) = get("csu_phone") {
            s.csu_phone = v;
        }
        if let Some(v) = get("tty_phone") {
            s.tty_phone = v;
        }
        if let Some(v) = get("epc_phone") {
            s.epc_phone = v;
        }
        s.blind_index_key = get("blind_index_key");
        let number = |key: &str, default: u32| -> anyhow::Result<u32> {
            match get(key) {
                None => Ok(default),
                Some(v) => v.trim().parse().map_err(|_| {
                    anyhow!(
                        "CASELINE_{} must be a whole number, not '{v}'",
                        key.to_ascii_uppercase()
                    )
                }),
            }
        };
        s.hash_cost.memory_kib = number("argon2_memory_kib", s.hash_cost.memory_kib)?;
        s.hash_cost.iterations = number("argon2_iterations", s.hash_cost.iterations)?;
        s.lockout.max_failures = number("lockout_failures", s.lockout.max_failures)?;
        s.lockout.lock_secs = i64::from(number("lockout_hours", 24)?) * 3600;
        s.lockout.window_secs = s.lockout.lock_secs;
        s.lockout.tries_per_call = number("verify_tries", s.lockout.tries_per_call)?;
        s.hours = hours(&get)?;
        if let Some(v) = get("csu_queue") {
            if v.len() > 64 {
                bail!("CASELINE_CSU_QUEUE: a queue name has at most 64 characters");
            }
            s.csu_queue = v;
        }
        s.csu_number = get("csu_number");
        s.csu_workflow_sid = get("csu_workflow_sid");
        s.hold_music_url = get("hold_music_url");
        s.queue_long_position = number("queue_long_position", s.queue_long_position)?;
        s.screen_pop_url = get("screen_pop_url");
        s.screen_pop_secret = get("screen_pop_secret");
        s.twilio_account_sid = get("twilio_account_sid");
        if let Some(v) = get("twilio_api_base") {
            s.twilio_api_base = v;
        }
        s.trust_proxy = get("trust_proxy").is_some_and(|v| v == "true" || v == "1");
        let seconds = |key: &str, default: std::time::Duration| -> anyhow::Result<_> {
            let default = u32::try_from(default.as_secs()).unwrap_or(u32::MAX);
            match number(key, default)? {
                0 => bail!("CASELINE_{} must be at least 1", key.to_ascii_uppercase()),
                n => Ok(std::time::Duration::from_secs(n.into())),
            }
        };
        s.header_timeout = seconds("header_timeout_secs", s.header_timeout)?;
        s.idle_timeout = seconds("idle_timeout_secs", s.idle_timeout)?;
        s.max_connections = number("max_connections", s.max_connections)?.max(1);
        s.pay = pay_settings(&get)?;
        s.sms_from = get("sms_from");
        if let Some(v) = get("metrics_listen") {
            let addr: SocketAddr = v
                .parse()
                .map_err(|_| anyhow!("CASELINE_METRICS_LISTEN must be host:port, not '{v}'"))?;
            if addr == s.listen {
                bail!("CASELINE_METRICS_LISTEN must not be the webhook address");
            }
            s.metrics_listen = Some(addr);
        }
        s.analytics_days = number("analytics_days", s.analytics_days)?.max(1);
        s.dialer.from = get("callback_from");
        if let Some(n) = &s.dialer.from
            && !is_e164(n)
        {
            bail!("CASELINE_CALLBACK_FROM: '{n}' is not an E.164 number like +18669013212");
        }
        s.dialer.tick = seconds("callback_tick_seconds", s.dialer.tick)?;
        s.dialer.max_waiting = number("callback_max_waiting", s.dialer.max_waiting)?;
        s.dialer.attempts = i64::from(number("callback_attempts", 3)?.max(1));
        s.dialer.retry_secs = i64::from(number("callback_retry_minutes", 15)?) * 60;
        s.dialer.queue = get("callback_queue");
        if let Some(v) = get("callback_regions") {
            s.dialer.regions =
                callback_regions(&v).map_err(|e| anyhow!("CASELINE_CALLBACK_REGIONS: {e}"))?;
        }
        s.tty_mode = match get("tty_mode").as_deref() {
            None | Some("baudot") => TtyMode::Baudot,
            Some("text") => TtyMode::Text,
            Some(other) => bail!("CASELINE_TTY_MODE must be baudot or text, not '{other}'"),
        };
        if let Some(n) = &s.sms_from
            && !is_e164(n)
        {
            bail!("CASELINE_SMS_FROM: '{n}' is not an E.164 number like +18669013212");
        }
        if s.screen_pop_url.is_some() && s.screen_pop_secret.is_none() {
            bail!(
                "CASELINE_SCREEN_POP_URL is set without CASELINE_SCREEN_POP_SECRET to sign the events"
            );
        }
        Ok(s)
    }
}

/// The card payment settings (`CASELINE_PAY_*`).
#[derive(Debug, Clone)]
pub struct PaySettings {
    /// The provider's payment connector; without one, callers hear the other ways to pay.
    pub connector: Option<String>,
    /// The most one payment may be.
    pub max: rust_decimal::Decimal,
    /// The card processor's fee, a percentage of the amount, said before the card is
    /// asked for (the processor charges it, not the agency).
    pub fee_percent: rust_decimal::Decimal,
}

impl Default for PaySettings {
    fn default() -> Self {
        PaySettings {
            connector: None,
            max: rust_decimal::Decimal::new(500_000, 2),
            fee_percent: rust_decimal::Decimal::new(19, 1),
        }
    }
}

/// Parses `CASELINE_CALLBACK_REGIONS`: comma-separated codes of +1 countries.
fn callback_regions(v: &str) -> Result<Vec<phonenumber::country::Id>, String> {
    let mut regions = Vec::new();
    for code in v.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let id: phonenumber::country::Id = code
            .to_ascii_uppercase()
            .parse()
            .map_err(|_| format!("'{code}' is not a two-letter country code like US or CA"))?;
        let plus_one = phonenumber::metadata::DATABASE
            .by_id(id.as_ref())
            .is_some_and(|m| m.country_code() == 1);
        if !plus_one {
            return Err(format!(
                "'{code}' is not a +1 country: callbacks are dialled as +1 and ten digits"
            ));
        }
        regions.push(id);
    }
    if regions.is_empty() {
        return Err("name at least one country, such as US".into());
    }
    Ok(regions)
}

/// A number as the provider writes it: `+` and 7 to 15 digits.
pub fn is_e164(n: &str) -> bool {
    n.starts_with('+') && (8..=16).contains(&n.len()) && n[1..].bytes().all(|b| b.is_ascii_digit())
}

fn pay_settings(get: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<PaySettings> {
    use rust_decimal::Decimal;
    let mut pay = PaySettings {
        connector: get("pay_connector"),
        ..Default::default()
    };
    if let Some(c) = &pay.connector
        && (c.len() > 64
            || !c
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    {
        bail!("CASELINE_PAY_CONNECTOR: a connector name is letters, digits, - and _ (at most 64)");
    }
    let decimal = |key: &str| -> anyhow::Result<Option<Decimal>> {
        get(key)
            .map(|v| {
                v.trim().parse::<Decimal>().map_err(|_| {
                    anyhow!(
                        "CASELINE_{} must be a number like 5000.00, not '{v}'",
                        key.to_ascii_uppercase()
                    )
                })
            })
            .transpose()
    };
    if let Some(max) = decimal("pay_max")? {
        if max <= Decimal::ZERO || max > Decimal::from(1_000_000) {
            bail!("CASELINE_PAY_MAX must be more than 0 and at most 1000000");
        }
        pay.max = max.round_dp(2);
    }
    if let Some(fee) = decimal("pay_card_fee_percent")? {
        if fee < Decimal::ZERO || fee > Decimal::from(100) {
            bail!("CASELINE_PAY_CARD_FEE_PERCENT must be from 0 to 100");
        }
        pay.fee_percent = fee;
    }
    Ok(pay)
}

/// The shipped holidays, used when `CASELINE_HOLIDAYS_FILE` is not set and the file is
/// there (running from the project folder).
pub const DEFAULT_HOLIDAYS_FILE: &str = "holidays/california.txt";

fn hours(get: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<crate::clock::hours::Hours> {
    let tz: chrono_tz::Tz = match get("timezone") {
        Some(v) => v.parse().map_err(|_| {
            anyhow!("CASELINE_TIMEZONE: '{v}' is not a time zone name like America/Los_Angeles")
        })?,
        None => chrono_tz::America::Los_Angeles,
    };
    let spec = get("hours").unwrap_or_else(|| crate::clock::hours::DEFAULT_HOURS.to_string());
    let holidays = match get("holidays_file") {
        Some(f) if f == "none" => Default::default(),
        Some(f) => crate::clock::hours::load_holidays(Path::new(&f))
            .map_err(|e| anyhow!("CASELINE_HOLIDAYS_FILE: {e:#}"))?,
        None if Path::new(DEFAULT_HOLIDAYS_FILE).exists() => {
            crate::clock::hours::load_holidays(Path::new(DEFAULT_HOLIDAYS_FILE))?
        }
        None => Default::default(),
    };
    crate::clock::hours::Hours::new(tz, &spec, holidays)
        .map_err(|e| anyhow!("CASELINE_HOURS: {e:#}"))
}

/// argon2id settings for PAR ID hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashCost {
    pub memory_kib: u32,
    pub iterations: u32,
}

impl Default for HashCost {
    /// OWASP's minimum for argon2id (19 MiB, 2 passes, 1 lane).
    fn default() -> Self {
        HashCost {
            memory_kib: 19_456,
            iterations: 2,
        }
    }
}

/// How many failures lock an SSN, over what window, for how long.
#[derive(Debug, Clone, Copy)]
pub struct Lockout {
    pub max_failures: u32,
    pub window_secs: i64,
    pub lock_secs: i64,
    /// Tries per call before the caller is offered a person.
    pub tries_per_call: u32,
}

impl Default for Lockout {
    fn default() -> Self {
        Lockout {
            max_failures: 5,
            window_secs: 24 * 3600,
            lock_secs: 24 * 3600,
            tries_per_call: 3,
        }
    }
}

/// How hard to try. The defaults give up within about ten seconds, well before a
/// representative could answer and need the screen.
/// The screen pop's tries (see [`crate::domain::transfer::screenpop`]).
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    /// Per attempt, connect to last byte.
    pub timeout: std::time::Duration,
    /// Before the second attempt; doubled for each one after.
    pub backoff: std::time::Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            timeout: std::time::Duration::from_secs(2),
            backoff: std::time::Duration::from_millis(250),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_then_file_then_environment() {
        let s = Settings::from_sources(&env(&[]), None, Path::new("x")).unwrap();
        assert_eq!(s.public_url, "http://127.0.0.1:8080");
        assert_eq!(s.database_url, "sqlite://caseline.db");
        let toml = "public_url = \"https://file.example/\"\nlisten = \"0.0.0.0:9000\"\n";
        let s = Settings::from_sources(&env(&[]), Some(toml), Path::new("x")).unwrap();
        assert_eq!(s.public_url, "https://file.example");
        assert_eq!(s.listen.port(), 9000);
        let e = env(&[("CASELINE_PUBLIC_URL", "https://env.example")]);
        let s = Settings::from_sources(&e, Some(toml), Path::new("x")).unwrap();
        assert_eq!(s.public_url, "https://env.example");
    }

    #[test]
    fn connection_timeouts_default_and_are_read_in_seconds() {
        let s = Settings::from_sources(&env(&[]), None, Path::new("x")).unwrap();
        assert_eq!(s.header_timeout, std::time::Duration::from_secs(5));
        assert_eq!(s.idle_timeout, std::time::Duration::from_secs(75));
        let e = env(&[
            ("CASELINE_HEADER_TIMEOUT_SECS", "2"),
            ("CASELINE_IDLE_TIMEOUT_SECS", "30"),
        ]);
        let s =
            Settings::from_sources(&e, Some("idle_timeout_secs = 90\n"), Path::new("x")).unwrap();
        assert_eq!(s.header_timeout, std::time::Duration::from_secs(2));
        assert_eq!(s.idle_timeout, std::time::Duration::from_secs(30));
        let s = Settings::from_sources(&env(&[]), Some("idle_timeout_secs = 90\n"), Path::new("x"))
            .unwrap();
        assert_eq!(s.idle_timeout, std::time::Duration::from_secs(90));
    }

    #[test]
    fn bad_values_are_refused_with_the_variable_named() {
        for (k, v, want) in [
            ("CASELINE_LISTEN", "nope", "CASELINE_LISTEN"),
            ("CASELINE_PUBLIC_URL", "ftp://x", "CASELINE_PUBLIC_URL"),
            ("CASELINE_TTY_NUMBERS", "+1866, 555", "CASELINE_TTY_NUMBERS"),
            ("CASELINE_HOURS", "mon-fri 9-5", "CASELINE_HOURS"),
            ("CASELINE_TIMEZONE", "Pacific", "CASELINE_TIMEZONE"),
            (
                "CASELINE_HEADER_TIMEOUT_SECS",
                "5s",
                "CASELINE_HEADER_TIMEOUT_SECS",
            ),
            (
                "CASELINE_IDLE_TIMEOUT_SECS",
                "0",
                "CASELINE_IDLE_TIMEOUT_SECS",
            ),
            (
                "CASELINE_HOLIDAYS_FILE",
                "/nonexistent",
                "CASELINE_HOLIDAYS_FILE",
            ),
            (
                "CASELINE_SCREEN_POP_URL",
                "http://crm",
                "CASELINE_SCREEN_POP_SECRET",
            ),
        ] {
            let err = Settings::from_sources(&env(&[(k, v)]), None, Path::new("x"))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(want), "{k}={v}: {err}");
        }
    }

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:secret@db/x"),
            "postgres://u:***@db/x"
        );
        assert_eq!(redact_url("sqlite://caseline.db"), "sqlite://caseline.db");
    }

    #[test]
    fn regions_must_be_plus_one_countries() {
        assert!(callback_regions("GB").is_err());
        assert!(callback_regions("XX").is_err());
        assert!(callback_regions(" , ").is_err());
        assert_eq!(
            callback_regions("US").unwrap(),
            vec![phonenumber::country::Id::US]
        );
    }
}
