//! The settings' names, in one list, and the refusal of a `caseline.toml` key that is
//! none of them: a misspelt key silently ignored leaves the default in force (a
//! `databse_url` would run on a fresh SQLite file), so it stops the start instead,
//! naming the file, the line and the setting it probably meant.
//!
//! Every read of a setting goes through [`super::load`]'s one reader, which checks
//! (in debug builds, so every test) that the key is listed here; a test there checks
//! that every key listed here is read. The list cannot drift from the reads either way.

use std::path::Path;

use anyhow::anyhow;

/// Every setting, as written in `caseline.toml` (the environment variable is
/// `CASELINE_` and the name in capitals).
pub(super) const KEYS: &[&str] = &[
    "listen",
    "public_url",
    "staff_listen",
    "database_url",
    "database_pool",
    "twilio_auth_token",
    "twilio_shared_key",
    "twilio_account_sid",
    "twilio_api_base",
    "tty_numbers",
    "tty_mode",
    "flows_dir",
    "prompts_dir",
    "voice_en",
    "voice_es",
    "csu_phone",
    "tty_phone",
    "epc_phone",
    "blind_index_key",
    "argon2_memory_kib",
    "argon2_iterations",
    "lockout_failures",
    "lockout_hours",
    "verify_tries",
    "timezone",
    "hours",
    "holidays_file",
    "agencies_file",
    "csu_queue",
    "csu_number",
    "csu_workflow_sid",
    "hold_music_url",
    "queue_long_position",
    "screen_pop_url",
    "screen_pop_secret",
    "trust_proxy",
    "header_timeout_secs",
    "idle_timeout_secs",
    "max_connections",
    "metrics_listen",
    "analytics_days",
    "pay_connector",
    "pay_max",
    "pay_card_fee_percent",
    "callback_from",
    "callback_tick_seconds",
    "callback_max_waiting",
    "callback_attempts",
    "callback_retry_minutes",
    "callback_queue",
    "callback_regions",
    "sms_from",
    "log_format",
];

/// Refuses the keys of the file `text` (at `file`) that are not settings, one line
/// each: `caseline.toml:3: unknown setting 'databse_url' (did you mean 'database_url'?)`.
/// A table (`[pay]`) counts as a key: the settings are all at the top level.
pub(super) fn refuse_unknown(text: &str, file: &Path) -> anyhow::Result<()> {
    let table = toml::de::DeTable::parse(text)
        .map_err(|e| anyhow!("{}: not valid TOML: {e}", file.display()))?;
    let mut refused: Vec<(usize, String)> = table
        .get_ref()
        .iter()
        .filter(|(key, _)| !KEYS.contains(&key.get_ref().as_ref()))
        .map(|(key, _)| {
            let name: &str = key.get_ref().as_ref();
            let line = text[..key.span().start.min(text.len())]
                .matches('\n')
                .count()
                + 1;
            let hint = match nearest(name) {
                Some(known) => format!("did you mean '{known}'?"),
                None => "the settings are listed in the README's Configuration section".into(),
            };
            (
                line,
                format!(
                    "{}:{line}: unknown setting '{name}' ({hint})",
                    file.display()
                ),
            )
        })
        .collect();
    if refused.is_empty() {
        return Ok(());
    }
    refused.sort();
    let lines: Vec<String> = refused.into_iter().map(|(_, l)| l).collect();
    Err(anyhow!("{}", lines.join("\n")))
}

/// The known key closest to `name`, if one is close enough to be what was meant. The
/// name is first read as an environment variable would be written
/// (`CASELINE_DATABASE_URL`, `database-url`), so those forms find their key.
fn nearest(name: &str) -> Option<&'static str> {
    let plain = name.to_ascii_lowercase().replace('-', "_");
    let plain = plain.strip_prefix("caseline_").unwrap_or(&plain);
    KEYS.iter()
        .map(|k| (distance(plain, k), *k))
        .min()
        // Within a third of the name's length (at least 2): further than that, the
        // "nearest" key is a guess that would mislead more than help.
        .filter(|(d, _)| *d <= (plain.len() / 3).max(2))
        .map(|(_, k)| k)
}

/// The edit distance (insertions, deletions, substitutions) between two names.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb))
                .min(above + 1)
                .min(row[j] + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(text: &str) -> String {
        refuse_unknown(text, Path::new("/etc/caseline/caseline.toml"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn a_misspelt_key_is_refused_with_file_line_and_the_key_meant() {
        let said = refusal("listen = \"0.0.0.0:8080\"\n\ndatabse_url = \"postgres://db/x\"\n");
        assert_eq!(
            said,
            "/etc/caseline/caseline.toml:3: unknown setting 'databse_url' \
             (did you mean 'database_url'?)"
        );
    }

    #[test]
    fn environment_spellings_find_their_key() {
        for (written, meant) in [
            ("CASELINE_PUBLIC_URL", "public_url"),
            ("metrics-listen", "metrics_listen"),
            ("staff_listn", "staff_listen"),
            ("log_fromat", "log_format"),
        ] {
            let said = refusal(&format!("{written} = \"x\"\n"));
            assert!(
                said.contains(&format!(
                    "unknown setting '{written}' (did you mean '{meant}'?)"
                )),
                "{written}: {said}"
            );
        }
    }

    #[test]
    fn a_key_like_no_setting_points_to_the_list() {
        let said = refusal("colour = \"blue\"\n");
        assert!(said.contains(":1: unknown setting 'colour'"), "{said}");
        assert!(said.contains("README's Configuration section"), "{said}");
        assert!(!said.contains("did you mean"), "{said}");
    }

    #[test]
    fn every_unknown_key_and_table_is_named_in_file_order() {
        let said = refusal("zeta = 1\nlisten = \"127.0.0.1:1\"\n[pay]\nmax = 5\nalpha = 2\n");
        let lines: Vec<&str> = said.lines().collect();
        assert_eq!(lines.len(), 2, "{said}");
        assert!(lines[0].contains(":1: unknown setting 'zeta'"), "{said}");
        assert!(lines[1].contains(":3: unknown setting 'pay'"), "{said}");
    }

    #[test]
    fn known_keys_pass() {
        let text: String = KEYS.iter().map(|k| format!("{k} = \"\"\n")).collect();
        assert!(refuse_unknown(&text, Path::new("x")).is_ok());
    }

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("listen", "listen"), 0);
        assert_eq!(distance("lsten", "listen"), 1);
        assert_eq!(distance("databse_url", "database_url"), 1);
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
