//! The emergency announcement: English and Spanish text, and an optional window, played
//! right after the welcome on every server within a second (it lives in the database;
//! each server reads it at most once a second, see `store::announcements`). Checked
//! here so the command line and the staff API refuse the same mistakes.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::store::Announcement;

/// The longest text accepted: about a minute of speech.
pub const MAX_CHARS: usize = 600;

/// Builds an announcement from what staff typed; the error says what to fix. A time is
/// RFC 3339 (`2026-12-24T17:00:00-08:00`), or the agency's own clock time without an
/// offset (`2026-12-24T17:00`, as a browser's date-time picker gives it), read in `tz`.
pub fn build(
    en: &str,
    es: &str,
    from: Option<&str>,
    until: Option<&str>,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<Announcement, String> {
    let text = |t: &str, which: &str| {
        let t = t.trim();
        if t.is_empty() {
            return Err(format!(
                "the {which} text is empty: callers of both languages must hear it"
            ));
        }
        if t.chars().count() > MAX_CHARS {
            return Err(format!(
                "the {which} text is longer than {MAX_CHARS} characters"
            ));
        }
        if t.chars().any(|c| c.is_control()) {
            return Err(format!("the {which} text holds control characters"));
        }
        Ok(t.to_string())
    };
    let time = |t: Option<&str>, which: &str| -> Result<Option<i64>, String> {
        t.map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| at(t, tz, which))
            .transpose()
    };
    let a = Announcement {
        text_en: text(en, "English")?,
        text_es: text(es, "Spanish")?,
        starts_at: time(from, "from")?,
        ends_at: time(until, "until")?,
    };
    if let (Some(s), Some(e)) = (a.starts_at, a.ends_at)
        && e <= s
    {
        return Err("the announcement must end after it starts".into());
    }
    if a.ends_at.is_some_and(|e| e <= now.timestamp()) {
        return Err("that end time has already passed".into());
    }
    Ok(a)
}

/// A time as RFC 3339, or as the agency's clock time (`YYYY-MM-DDTHH:MM`, seconds
/// optional). A clock time the zone skips (the spring change) is refused; one it repeats
/// (the autumn change) is the first.
fn at(t: &str, tz: Tz, which: &str) -> Result<i64, String> {
    use chrono::TimeZone;
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Ok(d.timestamp());
    }
    let local = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(t, f).ok())
        .ok_or_else(|| {
            format!(
                "'{t}' ({which}) is not a time: give the agency's time like 2026-12-24T17:00, \
                 or RFC 3339 like 2026-12-24T17:00:00-08:00"
            )
        })?;
    tz.from_local_datetime(&local)
        .earliest()
        .map(|d| d.timestamp())
        .ok_or_else(|| format!("'{t}' ({which}) does not occur in {tz}: the clocks skip it"))
}

/// A few lines for a person: the texts, the window in the agency's time, and whether
/// callers hear it now.
pub fn describe(a: &Announcement, tz: Tz, now: DateTime<Utc>) -> String {
    let when = |t: Option<i64>, none: &str| match t.and_then(|t| DateTime::from_timestamp(t, 0)) {
        Some(d) => d.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string(),
        None => none.to_string(),
    };
    let n = now.timestamp();
    let live = a.starts_at.is_none_or(|s| s <= n) && a.ends_at.is_none_or(|e| e > n);
    format!(
        "English: {}\nSpanish: {}\nfrom:    {}\nuntil:   {}\nplaying now: {}",
        a.text_en,
        a.text_es,
        when(a.starts_at, "(now)"),
        when(a.ends_at, "(until cleared)"),
        if live { "yes" } else { "no" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn mistakes_are_refused_with_a_reason() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
        let la = chrono_tz::America::Los_Angeles;
        assert!(build("Closed", "Cerrado", None, None, la, now).is_ok());
        for (en, es, from, until, want) in [
            ("", "Cerrado", None, None, "English text is empty"),
            ("Closed", " ", None, None, "Spanish text is empty"),
            (
                "Closed",
                "Cerrado",
                Some("tomorrow"),
                None,
                "agency's time like",
            ),
            (
                "Closed",
                "Cerrado",
                Some("2027-03-14T02:30"),
                None,
                "does not occur in America/Los_Angeles",
            ),
            (
                "Closed",
                "Cerrado",
                Some("2026-12-02T10:00:00Z"),
                Some("2026-12-02T09:00:00Z"),
                "end after",
            ),
            (
                "Closed",
                "Cerrado",
                None,
                Some("2026-11-30T09:00:00Z"),
                "already passed",
            ),
        ] {
            let err = build(en, es, from, until, la, now).unwrap_err();
            assert!(err.contains(want), "{err}");
        }
        let a = build(
            "Closed",
            "Cerrado",
            Some("2026-12-02T08:00:00-08:00"),
            None,
            la,
            now,
        )
        .unwrap();
        // The agency's clock time, as a date-time picker sends it, is the same moment.
        let picked = build("Closed", "Cerrado", Some("2026-12-02T08:00"), None, la, now).unwrap();
        assert_eq!(picked.starts_at, a.starts_at);
        let text = describe(&a, la, now);
        assert!(
            text.contains("2026-12-02 08:00 PST") && text.contains("playing now: no"),
            "{text}"
        );
    }
}
