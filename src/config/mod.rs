//! The settings: what the server and the commands are told, from `CASELINE_*`
//! environment variables and an optional `caseline.toml` (same names, lower case,
//! without the prefix: `public_url = "..."`); the environment wins. Here the settings
//! and their defaults; [`load`] reads and checks them.

use std::net::SocketAddr;
use std::path::PathBuf;

mod keys;

/// Every key `caseline.toml` may hold (each `CASELINE_<KEY>` in lower case).
pub const KEYS: &[&str] = keys::KEYS;
mod load;
pub mod shipped;

/// Connections to PostgreSQL a server keeps, unless `CASELINE_DATABASE_POOL` says
/// otherwise. Few:
/// on this two-core machine, with the database beside the servers, 16 connections a
/// server served 11,000-12,700 requests a second on one server and 7,900-8,200 on two
/// round-robin; 6 served 13,800-14,300 and 9,600-9,800; 3 served 16,000 and 10,100 but
/// leaves a webhook little room beside an import or a report (`benches/balance`, issue
/// 27). Each connection is a database process: more of them than the database has
/// cores only take turns, and with several servers they add up.
pub const DEFAULT_DATABASE_POOL: u32 = 6;

#[derive(Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    /// Base URL the provider calls, without a trailing slash. Action URLs and signature
    /// checks are built from it, never from the Host header.
    pub public_url: String,
    pub database_url: String,
    /// Connections each server keeps to PostgreSQL ([`DEFAULT_DATABASE_POOL`]).
    pub database_pool: u32,
    pub auth_token: Option<String>,
    pub shared_key: Option<String>,
    /// Called numbers (E.164) whose calls get the TTY flow.
    pub tty_numbers: Vec<String>,
    /// The call-flow folder (`CASELINE_FLOWS_DIR`); unset, looked for (see
    /// [`shipped`]), and the built-in flows when none is found.
    pub flows_dir: Option<PathBuf>,
    /// The prompt folder (`CASELINE_PROMPTS_DIR`), found the same way.
    pub prompts_dir: Option<PathBuf>,
    /// Where the folders no setting names are looked for ([`shipped::default_search`]);
    /// not a setting: tests search elsewhere.
    pub search: Vec<PathBuf>,
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
    /// Where the holidays in [`Settings::hours`] were read (`flows check` says); `None`
    /// for none (`CASELINE_HOLIDAYS_FILE=none`, or settings built in code).
    pub holidays_from: Option<shipped::Found>,
    /// The local agencies file (`CASELINE_AGENCIES_FILE`): set, a verified caller who
    /// asks for a person goes to the agency of their case's county; unset, the line is
    /// one unit.
    pub agencies_file: Option<PathBuf>,
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
    /// Where the staff console and API are served (`CASELINE_STAFF_LISTEN`), apart from
    /// the webhooks, so the port the provider reaches through the public proxy has no
    /// `/staff`; unset, they share the webhook port.
    pub staff_listen: Option<SocketAddr>,
    /// Text or JSON log lines (`CASELINE_LOG_FORMAT`).
    pub log_format: crate::ops::telemetry::LogFormat,
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
            .field("staff_listen", &self.staff_listen)
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
            .field("agencies_file", &self.agencies_file)
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
            database_pool: DEFAULT_DATABASE_POOL,
            auth_token: None,
            shared_key: None,
            tty_numbers: Vec::new(),
            flows_dir: None,
            prompts_dir: None,
            search: shipped::default_search(),
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
            holidays_from: None,
            agencies_file: None,
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
            staff_listen: None,
            log_format: crate::ops::telemetry::LogFormat::Text,
        }
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

/// A number as the provider writes it: `+` and 7 to 15 digits.
pub fn is_e164(n: &str) -> bool {
    n.starts_with('+') && (8..=16).contains(&n.len()) && n[1..].bytes().all(|b| b.is_ascii_digit())
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
