//! When the Customer Service Unit answers: 8 a.m. to 4 p.m. every day, in the agency's
//! time zone (daylight saving handled by chrono-tz).

use chrono::{DateTime, NaiveTime, Timelike, Utc};
use chrono_tz::Tz;

#[derive(Debug, Clone)]
pub struct Hours {
    pub tz: Tz,
    pub open: NaiveTime,
    pub close: NaiveTime,
}

impl Default for Hours {
    fn default() -> Self {
        Hours {
            tz: chrono_tz::America::Los_Angeles,
            open: NaiveTime::from_hms_opt(8, 0, 0).unwrap_or_default(),
            close: NaiveTime::from_hms_opt(16, 0, 0).unwrap_or_default(),
        }
    }
}

impl Hours {
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        let local = now.with_timezone(&self.tz).time();
        let local = local.with_nanosecond(0).unwrap_or(local);
        local >= self.open && local < self.close
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn open_eight_to_four_pacific_across_daylight_saving() {
        let h = Hours::default();
        // 2026-07-01 15:00 UTC = 08:00 PDT.
        assert!(h.is_open(Utc.with_ymd_and_hms(2026, 7, 1, 15, 0, 0).unwrap()));
        assert!(!h.is_open(Utc.with_ymd_and_hms(2026, 7, 1, 14, 59, 0).unwrap()));
        // 2026-12-01 16:00 UTC = 08:00 PST; 23:59 UTC = 15:59 PST; 00:00 UTC = 16:00.
        assert!(h.is_open(Utc.with_ymd_and_hms(2026, 12, 1, 16, 0, 0).unwrap()));
        assert!(h.is_open(Utc.with_ymd_and_hms(2026, 12, 1, 23, 59, 0).unwrap()));
        assert!(!h.is_open(Utc.with_ymd_and_hms(2026, 12, 2, 0, 0, 0).unwrap()));
    }
}
