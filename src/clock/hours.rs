//! When the Customer Service Unit answers: weekly hours (`CASELINE_HOURS`, such as
//! `mon-sun 08:00-16:00`) in the agency's time zone, less the holidays in
//! `CASELINE_HOLIDAYS_FILE`. Daylight saving is chrono-tz's job: rules are local
//! wall-clock times, so 8 a.m. stays 8 a.m. on the days the clocks change.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The reference pages: 8 a.m. to 4 p.m. every day.
pub const DEFAULT_HOURS: &str = "mon-sun 08:00-16:00";
/// How far ahead [`Hours::next_open`] looks before deciding the office never opens.
const LOOKAHEAD_DAYS: i64 = 400;

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// One `DAYS HH:MM-HH:MM` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    /// Monday first.
    days: [bool; 7],
    open: NaiveTime,
    close: NaiveTime,
}

#[derive(Debug, Clone)]
pub struct Hours {
    pub tz: Tz,
    rules: Vec<Rule>,
    holidays: BTreeMap<NaiveDate, String>,
}

impl Default for Hours {
    fn default() -> Self {
        Hours {
            tz: chrono_tz::America::Los_Angeles,
            rules: parse_rules(DEFAULT_HOURS).unwrap_or_default(),
            holidays: BTreeMap::new(),
        }
    }
}

impl Hours {
    /// `spec` in the `CASELINE_HOURS` syntax; `holidays` from [`parse_holidays`].
    pub fn new(tz: Tz, spec: &str, holidays: BTreeMap<NaiveDate, String>) -> anyhow::Result<Hours> {
        Ok(Hours {
            tz,
            rules: parse_rules(spec)?,
            holidays,
        })
    }

    /// The weekly rules as configured, in order: the days (Monday first), opening and
    /// closing time. What callers are told the hours are.
    pub fn weekly(&self) -> Vec<([bool; 7], NaiveTime, NaiveTime)> {
        self.rules
            .iter()
            .map(|r| (r.days, r.open, r.close))
            .collect()
    }

    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        let local = now.with_timezone(&self.tz).naive_local();
        self.periods_on(local.date())
            .any(|(open, close)| local >= open && local < close)
    }

    /// The holiday's name when `now` falls on one, in `lang` when the file gives it
    /// (`name | nombre`), else as written.
    pub fn holiday(&self, now: DateTime<Utc>, lang: crate::words::prompts::Lang) -> Option<&str> {
        let day = now.with_timezone(&self.tz).date_naive();
        let name = self.holidays.get(&day)?;
        let (en, es) = name.split_once('|').unwrap_or((name, name));
        Some(match lang {
            crate::words::prompts::Lang::En => en.trim(),
            crate::words::prompts::Lang::Es => es.trim(),
        })
    }

    /// The next moment the office opens after `now` (local wall-clock time), or `None`
    /// when the hours say `closed` or the next opening is more than a year away.
    pub fn next_open(&self, now: DateTime<Utc>) -> Option<NaiveDateTime> {
        let local = now.with_timezone(&self.tz).naive_local();
        (0..LOOKAHEAD_DAYS)
            .filter_map(|d| local.date().checked_add_signed(Duration::days(d)))
            .flat_map(|day| {
                let mut opens: Vec<NaiveDateTime> = self.periods_on(day).map(|(o, _)| o).collect();
                opens.sort();
                opens
            })
            .find(|open| *open > local)
            // A wall-clock time skipped by a spring-forward gap is not a real moment;
            // chrono-tz would refuse it. Opening hours never sit in that gap in practice.
            .filter(|open| self.tz.from_local_datetime(open).earliest().is_some())
    }

    /// Opening periods on a local date (none on a holiday).
    fn periods_on(&self, day: NaiveDate) -> impl Iterator<Item = (NaiveDateTime, NaiveDateTime)> {
        let weekday = day.weekday().num_days_from_monday() as usize;
        let holiday = self.holidays.contains_key(&day);
        self.rules
            .iter()
            .filter(move |r| !holiday && r.days[weekday])
            .map(move |r| (day.and_time(r.open), day.and_time(r.close)))
    }
}

/// Parses `CASELINE_HOURS`: comma-separated `DAYS HH:MM-HH:MM` rules, DAYS a day
/// (`mon`) or a range (`mon-fri`, `sat-sun`, wrapping like `fri-mon`), or `closed`.
fn parse_rules(spec: &str) -> anyhow::Result<Vec<Rule>> {
    let spec = spec.trim();
    if spec.eq_ignore_ascii_case("closed") {
        return Ok(Vec::new());
    }
    spec.split(',')
        .map(|rule| {
            parse_rule(rule.trim()).with_context(|| format!("in the rule '{}'", rule.trim()))
        })
        .collect()
}

fn parse_rule(rule: &str) -> anyhow::Result<Rule> {
    let (days, times) = rule
        .split_once(char::is_whitespace)
        .ok_or_else(|| anyhow!("expected DAYS HH:MM-HH:MM, like mon-fri 08:00-16:00"))?;
    let (open, close) = times
        .trim()
        .split_once('-')
        .ok_or_else(|| anyhow!("expected a time range like 08:00-16:00"))?;
    let time = |t: &str| {
        NaiveTime::parse_from_str(t.trim(), "%H:%M")
            .map_err(|_| anyhow!("'{}' is not a time (HH:MM, 24-hour)", t.trim()))
    };
    let (open, close) = (time(open)?, time(close)?);
    if close <= open {
        bail!("the office must close after it opens");
    }
    Ok(Rule {
        days: parse_days(days)?,
        open,
        close,
    })
}

fn parse_days(days: &str) -> anyhow::Result<[bool; 7]> {
    let day = |d: &str| {
        DAYS.iter()
            .position(|n| n.eq_ignore_ascii_case(d.trim()))
            .ok_or_else(|| {
                anyhow!(
                    "'{}' is not a day (mon, tue, wed, thu, fri, sat, sun)",
                    d.trim()
                )
            })
    };
    let mut set = [false; 7];
    match days.split_once('-') {
        Some((from, to)) => {
            let (from, to) = (day(from)?, day(to)?);
            let mut d = from;
            loop {
                set[d] = true;
                if d == to {
                    break;
                }
                d = (d + 1) % 7;
            }
        }
        None => set[day(days)?] = true,
    }
    Ok(set)
}

/// Parses a holidays file: one `YYYY-MM-DD name` a line, the name optionally followed
/// by `| nombre` in Spanish; blank lines and `#` comments are skipped. Errors name the
/// line.
pub fn parse_holidays(text: &str) -> anyhow::Result<BTreeMap<NaiveDate, String>> {
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (date, name) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let date = NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .map_err(|_| anyhow!("line {}: '{date}' is not a date (YYYY-MM-DD)", n + 1))?;
        let name = name.trim();
        if name.is_empty() {
            bail!("line {}: the holiday needs a name after the date", n + 1);
        }
        out.insert(date, name.to_string());
    }
    Ok(out)
}

/// Reads the holidays file.
pub fn load_holidays(path: &Path) -> anyhow::Result<BTreeMap<NaiveDate, String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the holidays file", path.display()))?;
    parse_holidays(&text).with_context(|| format!("{}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    fn local(y: i32, m: u32, d: u32, h: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, 0, 0)
            .unwrap()
    }

    #[test]
    fn open_eight_to_four_pacific_across_daylight_saving() {
        let h = Hours::default();
        // 2026-07-01 15:00 UTC = 08:00 PDT.
        assert!(h.is_open(utc(2026, 7, 1, 15, 0)));
        assert!(!h.is_open(utc(2026, 7, 1, 14, 59)));
        // 2026-12-01 16:00 UTC = 08:00 PST; 23:59 UTC = 15:59 PST; 00:00 UTC = 16:00.
        assert!(h.is_open(utc(2026, 12, 1, 16, 0)));
        assert!(h.is_open(utc(2026, 12, 1, 23, 59)));
        assert!(!h.is_open(utc(2026, 12, 2, 0, 0)));
        // The change days: 2026-03-08 (spring forward) and 2026-11-01 (fall back).
        assert!(
            h.is_open(utc(2026, 3, 8, 15, 0)),
            "08:00 PDT on spring-forward day"
        );
        assert!(!h.is_open(utc(2026, 3, 8, 14, 59)));
        assert!(
            h.is_open(utc(2026, 11, 1, 16, 0)),
            "08:00 PST on fall-back day"
        );
        assert!(!h.is_open(utc(2026, 11, 1, 15, 30)));
    }

    #[test]
    fn rules_days_ranges_and_closed() {
        let tz = chrono_tz::America::Los_Angeles;
        let h = Hours::new(tz, "mon-fri 08:00-17:00, sat 09:00-12:00", BTreeMap::new()).unwrap();
        // 2026-11-21 is a Saturday; 17:30 UTC = 09:30 PST.
        assert!(h.is_open(utc(2026, 11, 21, 17, 30)));
        assert!(!h.is_open(utc(2026, 11, 21, 21, 0)), "13:00 Saturday");
        assert!(!h.is_open(utc(2026, 11, 22, 18, 0)), "Sunday");
        assert_eq!(
            h.next_open(utc(2026, 11, 22, 18, 0)),
            Some(local(2026, 11, 23, 8))
        );
        let wrap = Hours::new(tz, "fri-mon 10:00-14:00", BTreeMap::new()).unwrap();
        assert!(wrap.is_open(utc(2026, 11, 22, 19, 0)), "Sunday 11:00");
        assert!(!wrap.is_open(utc(2026, 11, 24, 19, 0)), "Tuesday 11:00");
        let closed = Hours::new(tz, "closed", BTreeMap::new()).unwrap();
        assert!(!closed.is_open(utc(2026, 11, 23, 19, 0)));
        assert_eq!(closed.next_open(utc(2026, 11, 23, 19, 0)), None);
    }

    #[test]
    fn bad_rules_say_what_is_wrong() {
        for (spec, want) in [
            ("mon-fry 08:00-16:00", "'fry' is not a day"),
            ("mon 8-16", "'8' is not a time"),
            ("mon 16:00-08:00", "close after it opens"),
            ("every day", "time range"),
            ("mon", "expected DAYS"),
        ] {
            let err = format!("{:#}", parse_rules(spec).unwrap_err());
            assert!(err.contains(want), "{spec}: {err}");
        }
    }

    #[test]
    fn holidays_close_the_office_and_move_the_next_opening() {
        let text = "# comment\n\n2026-11-26 Thanksgiving Day\n2026-11-27 Day after Thanksgiving\n";
        let days = parse_holidays(text).unwrap();
        let h = Hours::new(chrono_tz::America::Los_Angeles, DEFAULT_HOURS, days).unwrap();
        // Thanksgiving 10:00 PST.
        let now = utc(2026, 11, 26, 18, 0);
        assert!(!h.is_open(now));
        assert_eq!(
            h.holiday(now, crate::words::prompts::Lang::En),
            Some("Thanksgiving Day")
        );
        assert_eq!(
            h.holiday(now, crate::words::prompts::Lang::Es),
            Some("Thanksgiving Day"),
            "no Spanish name given: as written"
        );
        assert_eq!(h.next_open(now), Some(local(2026, 11, 28, 8)));
        // Before opening on an ordinary day: today at 8.
        assert_eq!(
            h.next_open(utc(2026, 11, 25, 14, 0)),
            Some(local(2026, 11, 25, 8))
        );
        assert!(
            parse_holidays("2026-13-01 Nope")
                .unwrap_err()
                .to_string()
                .contains("line 1")
        );
        assert!(
            parse_holidays("\n2026-12-25")
                .unwrap_err()
                .to_string()
                .contains("line 2")
        );
    }

    #[test]
    fn the_shipped_california_file_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("holidays/california.txt");
        let days = load_holidays(&path).unwrap();
        assert!(days.len() >= 24);
        let christmas = NaiveDate::from_ymd_opt(2027, 12, 25).unwrap();
        let h = Hours::new(chrono_tz::America::Los_Angeles, DEFAULT_HOURS, days).unwrap();
        let noon = christmas.and_hms_opt(20, 0, 0).unwrap().and_utc();
        assert_eq!(
            h.holiday(noon, crate::words::prompts::Lang::En),
            Some("Christmas Day")
        );
        assert_eq!(
            h.holiday(noon, crate::words::prompts::Lang::Es),
            Some("la Navidad")
        );
    }
}
