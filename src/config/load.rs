//! Reading the settings: `caseline.toml` (or the file in `CASELINE_CONFIG`) under the
//! environment, every value checked, each refusal naming its variable.
//!
//! The file is parsed by the `toml` crate into a table; a key's value there is used as
//! text, like the environment's, so one reader ([`Source`]) serves both and the
//! environment wins key by key.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::shipped::{By, Found, HOLIDAYS, HOLIDAYS_FILE};
use super::{PaySettings, Settings, TtyMode, is_e164, keys};
use crate::clock::hours::{self, Hours};

impl Settings {
    /// Reads the settings file if present (the one `CASELINE_CONFIG` names, else
    /// `caseline.toml` in the working directory, else the package's
    /// `/etc/caseline/caseline.toml`), then the environment.
    pub fn load() -> anyhow::Result<Settings> {
        let env: HashMap<String, String> = std::env::vars().collect();
        let file = env
            .get("CASELINE_CONFIG")
            .map(PathBuf::from)
            .unwrap_or_else(|| first_existing(&CONFIG_FILES));
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
        let table = match toml_text {
            Some(t) => {
                let table = toml::from_str(t)
                    .map_err(|e| anyhow!("{}: not valid TOML: {e}", file.display()))?;
                keys::refuse_unknown(t, file)?;
                table
            }
            None => toml::Table::new(),
        };
        Source {
            env,
            table,
            #[cfg(test)]
            asked: Default::default(),
        }
        .settings()
    }
}

/// The settings files read when `CASELINE_CONFIG` names none: the first there. The
/// second is the package's, so a command run by hand reads what the service reads.
const CONFIG_FILES: [&str; 2] = ["caseline.toml", "/etc/caseline/caseline.toml"];

/// The first of `files` that exists, else the first (whose absence means no file).
fn first_existing(files: &[&str]) -> PathBuf {
    files
        .iter()
        .map(PathBuf::from)
        .find(|f| f.exists())
        .unwrap_or_else(|| PathBuf::from(files.first().copied().unwrap_or_default()))
}

/// Where each setting is read: `CASELINE_<KEY>` in the environment, else `<key>` in
/// the file. A blank value counts as unset.
struct Source<'a> {
    env: &'a HashMap<String, String>,
    table: toml::Table,
    /// The keys read, for the test that holds [`keys::KEYS`] to the reads.
    #[cfg(test)]
    asked: std::cell::RefCell<std::collections::BTreeSet<String>>,
}

/// The variable a key is read from, as refusals name it.
fn var(key: &str) -> String {
    format!("CASELINE_{}", key.to_ascii_uppercase())
}

impl Source<'_> {
    fn text(&self, key: &str) -> Option<String> {
        // A setting read here but missing from the list would be refused in the file.
        debug_assert!(
            keys::KEYS.contains(&key),
            "{key} is not in config::keys::KEYS"
        );
        #[cfg(test)]
        self.asked.borrow_mut().insert(key.to_string());
        self.env
            .get(&var(key))
            .cloned()
            .or_else(|| match self.table.get(key) {
                Some(toml::Value::String(s)) => Some(s.clone()),
                Some(other) => Some(other.to_string()),
                None => None,
            })
            .filter(|v| !v.trim().is_empty())
    }

    /// The value parsed; refused as "CASELINE_KEY must be `what`, not '...'".
    fn parsed<T: FromStr>(&self, key: &str, what: &str) -> anyhow::Result<Option<T>> {
        self.text(key)
            .map(|v| {
                v.parse()
                    .map_err(|_| anyhow!("{} must be {what}, not '{v}'", var(key)))
            })
            .transpose()
    }

    /// A whole number (spaces around it allowed), or `default` when unset.
    fn number(&self, key: &str, default: u32) -> anyhow::Result<u32> {
        match self.text(key) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| anyhow!("{} must be a whole number, not '{v}'", var(key))),
        }
    }

    /// A whole number of seconds, at least 1, or `default` when unset.
    fn seconds(&self, key: &str, default: Duration) -> anyhow::Result<Duration> {
        let default = u32::try_from(default.as_secs()).unwrap_or(u32::MAX);
        match self.number(key, default)? {
            0 => bail!("{} must be at least 1", var(key)),
            n => Ok(Duration::from_secs(n.into())),
        }
    }

    /// A decimal number like 5000.00 (spaces around it allowed).
    fn decimal(&self, key: &str) -> anyhow::Result<Option<Decimal>> {
        self.text(key)
            .map(|v| {
                v.trim()
                    .parse::<Decimal>()
                    .map_err(|_| anyhow!("{} must be a number like 5000.00, not '{v}'", var(key)))
            })
            .transpose()
    }

    /// A phone number in E.164 form, refused with `example` as the model.
    fn e164(&self, key: &str, example: &str) -> anyhow::Result<Option<String>> {
        match self.text(key) {
            Some(n) if !is_e164(&n) => {
                bail!("{}: '{n}' is not an E.164 number like {example}", var(key))
            }
            v => Ok(v),
        }
    }

    fn settings(&self) -> anyhow::Result<Settings> {
        let mut s = Settings::default();
        if let Some(v) = self.parsed("listen", "host:port")? {
            s.listen = v;
        }
        s.public_url = match self.text("public_url") {
            Some(v) => {
                if !(v.starts_with("http://") || v.starts_with("https://")) {
                    bail!("CASELINE_PUBLIC_URL must start with http:// or https://");
                }
                v.trim_end_matches('/').to_string()
            }
            None => format!("http://{}", s.listen),
        };
        if let Some(v) = self.text("database_url") {
            s.database_url = v;
        }
        s.database_pool = self.number("database_pool", s.database_pool)?.max(2);
        s.auth_token = self.text("twilio_auth_token");
        s.shared_key = self.text("twilio_shared_key");
        if let Some(v) = self.text("tty_numbers") {
            s.tty_numbers = v
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(String::from)
                .collect();
            if let Some(n) = s.tty_numbers.iter().find(|n| !is_e164(n)) {
                bail!("CASELINE_TTY_NUMBERS: '{n}' is not an E.164 number like +18663994096");
            }
        }
        s.flows_dir = self.text("flows_dir").map(PathBuf::from);
        s.prompts_dir = self.text("prompts_dir").map(PathBuf::from);
        if let Some(v) = self.text("voice_en") {
            s.voice_en = (v != "none").then_some(v);
        }
        if let Some(v) = self.text("voice_es") {
            s.voice_es = (v != "none").then_some(v);
        }
        if let Some(v) = self.text("csu_phone") {
            s.csu_phone = v;
        }
        if let Some(v) = self.text("tty_phone") {
            s.tty_phone = v;
        }
        if let Some(v) = self.text("epc_phone") {
            s.epc_phone = v;
        }
        s.blind_index_key = self.text("blind_index_key");
        s.hash_cost.memory_kib = self.number("argon2_memory_kib", s.hash_cost.memory_kib)?;
        s.hash_cost.iterations = self.number("argon2_iterations", s.hash_cost.iterations)?;
        s.lockout.max_failures = self.number("lockout_failures", s.lockout.max_failures)?;
        s.lockout.lock_secs = i64::from(self.number("lockout_hours", 24)?) * 3600;
        s.lockout.window_secs = s.lockout.lock_secs;
        s.lockout.tries_per_call = self.number("verify_tries", s.lockout.tries_per_call)?;
        (s.hours, s.holidays_from) = self.hours(&s.search)?;
        s.agencies_file = self.text("agencies_file").map(PathBuf::from);
        if let Some(v) = self.text("csu_queue") {
            if v.len() > 64 {
                bail!("CASELINE_CSU_QUEUE: a queue name has at most 64 characters");
            }
            s.csu_queue = v;
        }
        s.csu_number = self.text("csu_number");
        s.csu_workflow_sid = self.text("csu_workflow_sid");
        s.hold_music_url = self.text("hold_music_url");
        s.queue_long_position = self.number("queue_long_position", s.queue_long_position)?;
        s.screen_pop_url = self.text("screen_pop_url");
        s.screen_pop_secret = self.text("screen_pop_secret");
        s.twilio_account_sid = self.text("twilio_account_sid");
        if let Some(v) = self.text("twilio_api_base") {
            s.twilio_api_base = v;
        }
        s.trust_proxy = self
            .text("trust_proxy")
            .is_some_and(|v| v == "true" || v == "1");
        s.header_timeout = self.seconds("header_timeout_secs", s.header_timeout)?;
        s.idle_timeout = self.seconds("idle_timeout_secs", s.idle_timeout)?;
        s.max_connections = self.number("max_connections", s.max_connections)?.max(1);
        s.pay = self.pay()?;
        if let Some(addr) = self.parsed::<SocketAddr>("staff_listen", "host:port")? {
            if addr == s.listen {
                bail!(
                    "CASELINE_STAFF_LISTEN must not be the webhook address (CASELINE_LISTEN): \
                     leave it unset to serve the staff console on the webhook port"
                );
            }
            s.staff_listen = Some(addr);
        }
        if let Some(addr) = self.parsed::<SocketAddr>("metrics_listen", "host:port")? {
            if addr == s.listen {
                bail!("CASELINE_METRICS_LISTEN must not be the webhook address");
            }
            // The same address as the staff's is one listener serving both.
            s.metrics_listen = Some(addr);
        }
        s.analytics_days = self.number("analytics_days", s.analytics_days)?.max(1);
        s.dialer.from = self.e164("callback_from", "+18669013212")?;
        s.dialer.tick = self.seconds("callback_tick_seconds", s.dialer.tick)?;
        s.dialer.max_waiting = self.number("callback_max_waiting", s.dialer.max_waiting)?;
        s.dialer.attempts = i64::from(self.number("callback_attempts", 3)?.max(1));
        s.dialer.retry_secs = i64::from(self.number("callback_retry_minutes", 15)?) * 60;
        s.dialer.queue = self.text("callback_queue");
        if let Some(v) = self.text("callback_regions") {
            s.dialer.regions =
                callback_regions(&v).map_err(|e| anyhow!("CASELINE_CALLBACK_REGIONS: {e}"))?;
        }
        s.tty_mode = match self.text("tty_mode").as_deref() {
            None | Some("baudot") => TtyMode::Baudot,
            Some("text") => TtyMode::Text,
            Some(other) => bail!("CASELINE_TTY_MODE must be baudot or text, not '{other}'"),
        };
        s.sms_from = self.e164("sms_from", "+18669013212")?;
        if let Some(v) = self.text("log_format") {
            s.log_format = v.parse().map_err(|()| {
                anyhow!(
                    "CASELINE_LOG_FORMAT must be {}, not '{v}'",
                    crate::ops::telemetry::LogFormat::WORDS
                )
            })?;
        }
        if s.screen_pop_url.is_some() && s.screen_pop_secret.is_none() {
            bail!(
                "CASELINE_SCREEN_POP_URL is set without CASELINE_SCREEN_POP_SECRET to sign the events"
            );
        }
        Ok(s)
    }

    /// The card payment settings (`CASELINE_PAY_*`).
    fn pay(&self) -> anyhow::Result<PaySettings> {
        let mut pay = PaySettings {
            connector: self.text("pay_connector"),
            ..Default::default()
        };
        if let Some(c) = &pay.connector
            && (c.len() > 64
                || !c
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        {
            bail!(
                "CASELINE_PAY_CONNECTOR: a connector name is letters, digits, - and _ (at most 64)"
            );
        }
        if let Some(max) = self.decimal("pay_max")? {
            if max <= Decimal::ZERO || max > Decimal::from(1_000_000) {
                bail!("CASELINE_PAY_MAX must be more than 0 and at most 1000000");
            }
            pay.max = max.round_dp(2);
        }
        if let Some(fee) = self.decimal("pay_card_fee_percent")? {
            if fee < Decimal::ZERO || fee > Decimal::from(100) {
                bail!("CASELINE_PAY_CARD_FEE_PERCENT must be from 0 to 100");
            }
            pay.fee_percent = fee;
        }
        Ok(pay)
    }

    /// The opening hours (`CASELINE_TIMEZONE`, `CASELINE_HOURS`,
    /// `CASELINE_HOLIDAYS_FILE`), and where the holidays were read.
    fn hours(&self, search: &[PathBuf]) -> anyhow::Result<(Hours, Option<Found>)> {
        let tz: chrono_tz::Tz = match self.text("timezone") {
            Some(v) => v.parse().map_err(|_| {
                anyhow!("CASELINE_TIMEZONE: '{v}' is not a time zone name like America/Los_Angeles")
            })?,
            None => chrono_tz::America::Los_Angeles,
        };
        let spec = self
            .text("hours")
            .unwrap_or_else(|| hours::DEFAULT_HOURS.to_string());
        let (days, from) = holidays(self.text("holidays_file").as_deref(), search)?;
        let hours = Hours::new(tz, &spec, days).map_err(|e| anyhow!("CASELINE_HOURS: {e:#}"))?;
        Ok((hours, from))
    }
}

/// The holidays: the file `CASELINE_HOLIDAYS_FILE` names (`none`: no holidays); unset,
/// `holidays/california.txt` in the first place searched that has a `holidays` folder,
/// else the built-in copy. Also where they were read.
fn holidays(
    set: Option<&str>,
    search: &[PathBuf],
) -> anyhow::Result<(BTreeMap<NaiveDate, String>, Option<Found>)> {
    match set {
        Some("none") => Ok((BTreeMap::new(), None)),
        Some(file) => {
            let days = hours::load_holidays(Path::new(file))
                .map_err(|e| anyhow!("CASELINE_HOLIDAYS_FILE: {e:#}"))?;
            let from = Found::Disk {
                path: file.into(),
                by: By::Setting,
            };
            Ok((days, Some(from)))
        }
        None => match HOLIDAYS.find(None, search)? {
            Found::Disk { path, by } => {
                let file = path.join(HOLIDAYS_FILE);
                let days = hours::load_holidays(&file);
                let from = Found::Disk { path: file, by };
                let days = days
                    .map_err(|e| anyhow!("{e:#}\n{}", HOLIDAYS.hint(&from).unwrap_or_default()))?;
                Ok((days, Some(from)))
            }
            Found::BuiltIn => {
                let text = HOLIDAYS.built_in(HOLIDAYS_FILE).unwrap_or_default();
                let days = hours::parse_holidays(text)
                    .with_context(|| format!("holidays/{HOLIDAYS_FILE} (built in)"))?;
                Ok((days, Some(Found::BuiltIn)))
            }
        },
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::redact_url;

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
        assert_eq!(s.database_pool, super::super::DEFAULT_DATABASE_POOL);
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
            (
                "CASELINE_METRICS_LISTEN",
                "9090",
                "CASELINE_METRICS_LISTEN must be host:port, not '9090'",
            ),
            (
                "CASELINE_STAFF_LISTEN",
                "8081",
                "CASELINE_STAFF_LISTEN must be host:port, not '8081'",
            ),
            (
                "CASELINE_STAFF_LISTEN",
                "127.0.0.1:8080",
                "CASELINE_STAFF_LISTEN must not be the webhook address",
            ),
            (
                "CASELINE_LOG_FORMAT",
                "logfmt",
                "CASELINE_LOG_FORMAT must be text or json, not 'logfmt'",
            ),
            (
                "CASELINE_LOCKOUT_FAILURES",
                "many",
                "CASELINE_LOCKOUT_FAILURES must be a whole number, not 'many'",
            ),
            (
                "CASELINE_PAY_MAX",
                "lots",
                "CASELINE_PAY_MAX must be a number like 5000.00, not 'lots'",
            ),
            (
                "CASELINE_SMS_FROM",
                "5551234",
                "CASELINE_SMS_FROM: '5551234' is not an E.164 number like +18669013212",
            ),
            (
                "CASELINE_CALLBACK_FROM",
                "+1 866",
                "CASELINE_CALLBACK_FROM: '+1 866' is not an E.164 number",
            ),
        ] {
            let err = Settings::from_sources(&env(&[(k, v)]), None, Path::new("x"))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(want), "{k}={v}: {err}");
        }
    }

    /// Every listed key is read (so none is stale), and every read key is listed (the
    /// reader's own check, which a read of an unlisted key would trip here).
    #[test]
    fn the_known_keys_are_exactly_the_keys_read() {
        let env = env(&[]);
        let source = Source {
            env: &env,
            table: toml::Table::new(),
            asked: Default::default(),
        };
        source.settings().unwrap();
        let asked = source.asked.into_inner();
        let listed: std::collections::BTreeSet<String> =
            keys::KEYS.iter().map(|k| k.to_string()).collect();
        assert_eq!(asked, listed);
        assert_eq!(listed.len(), keys::KEYS.len(), "a key listed twice");
    }

    #[test]
    fn an_unknown_key_in_the_file_stops_the_start() {
        let toml = "public_url = \"https://ivr.example\"\nmetrics_lisen = \"127.0.0.1:9464\"\n";
        let err = Settings::from_sources(&env(&[]), Some(toml), Path::new("caseline.toml"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(
            err,
            "caseline.toml:2: unknown setting 'metrics_lisen' (did you mean 'metrics_listen'?)"
        );
    }

    #[test]
    fn holidays_come_from_the_setting_else_the_first_folder_found_else_built_in() {
        let root = tempfile::tempdir().unwrap();
        let [work, etc] = ["work", "etc"].map(|p| root.path().join(p));
        let search = vec![work.clone(), etc.clone()];
        let (days, from) = holidays(None, &search).unwrap();
        assert_eq!(from, Some(Found::BuiltIn));
        assert!(
            days.values().any(|n| n.starts_with("Christmas Day")),
            "{days:?}"
        );

        std::fs::create_dir_all(etc.join("holidays")).unwrap();
        let file = etc.join("holidays/california.txt");
        std::fs::write(&file, "2026-03-31 Cesar Chavez Day\n").unwrap();
        let (days, from) = holidays(None, &search).unwrap();
        assert_eq!(days.len(), 1);
        assert_eq!(
            from,
            Some(Found::Disk {
                path: file.clone(),
                by: By::Search
            })
        );

        // A holidays folder found without the file is an error naming the setting.
        std::fs::create_dir_all(work.join("holidays")).unwrap();
        let err = format!("{:#}", holidays(None, &search).unwrap_err());
        assert!(err.contains("cannot read the holidays file"), "{err}");
        assert!(err.contains("CASELINE_HOLIDAYS_FILE"), "{err}");

        let own = root.path().join("ours.txt");
        std::fs::write(&own, "2026-01-02 Day After New Year\n2026-01-03 Another\n").unwrap();
        let (days, from) = holidays(own.to_str(), &search).unwrap();
        assert_eq!(days.len(), 2);
        assert_eq!(
            from,
            Some(Found::Disk {
                path: own,
                by: By::Setting
            })
        );
        let (days, from) = holidays(Some("none"), &search).unwrap();
        assert!(days.is_empty() && from.is_none());
    }

    #[test]
    fn the_settings_file_is_the_working_directorys_else_the_packages() {
        let root = tempfile::tempdir().unwrap();
        let here = root.path().join("caseline.toml");
        let etc = root.path().join("etc-caseline.toml");
        let files = [here.to_str().unwrap(), etc.to_str().unwrap()];
        assert_eq!(first_existing(&files), here, "neither: the first, absent");
        std::fs::write(&etc, "").unwrap();
        assert_eq!(first_existing(&files), etc);
        std::fs::write(&here, "").unwrap();
        assert_eq!(first_existing(&files), here);
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
