//! Call analytics: each call's path through the IVR is kept compactly when it ends
//! (steps in order, language, channel, verified or not, how it ended, the step it ended
//! on), and `caseline report` reads the figures an IVR is judged by from them.
//!
//! Definitions: *contained* = ended in the IVR after hearing at least one self-service
//! answer (a readback, an information prompt, a request or payment confirmed) with no
//! transfer and no callback request; *transferred* = sent to a person; *callbacks* =
//! ended with a callback request; *abandoned* = hung up before any of those.
//!
//! [`chart`] draws the figures for the staff console.

pub mod chart;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::session::{Session, VerifyOutcome};
use crate::store::call_paths::Path;
use crate::store::{CallPathRow, Store};
use crate::words::prompts::Channel;

/// How a call ended, by the definitions above.
pub fn outcome(session: &Session) -> &'static str {
    if session.transferred {
        "transferred"
    } else if session.callback_left {
        "callback"
    } else if self_served(session) {
        "contained"
    } else {
        "abandoned"
    }
}

/// Whether the caller got an answer from the IVR itself.
fn self_served(session: &Session) -> bool {
    !session.heard.is_empty()
        || session.path.split(',').any(|s| {
            (s.starts_with("info-") && s != "info-menu")
                || s.starts_with("request-done")
                || s == "request-texted"
                || s == "pay-done"
        })
}

/// Stores the ended call's path (once: a repeated status callback adds nothing).
pub async fn record(
    store: &Store,
    blind: &crate::domain::verify::BlindIndex,
    now: i64,
    session: &Session,
    caller: Option<&str>,
    agency: Option<String>,
) -> anyhow::Result<()> {
    let row = CallPathRow {
        call_sid: session.call_sid.as_str().to_string(),
        started_at: session.started_at,
        ended_at: now,
        lang: session.lang.map_or("none", |l| l.code()),
        channel: match session.channel {
            Channel::Voice => "voice",
            Channel::Tty => "tty",
        },
        verified: i64::from(session.verified),
        verify_attempts: i64::from(session.verify_failures) + i64::from(session.verified),
        verify_locked: i64::from(session.verify_outcome == Some(VerifyOutcome::Locked)),
        outcome: outcome(session),
        ended_on: session.step.clone().unwrap_or_default(),
        steps: session.path.clone(),
        caller_hash: caller.map(|c| blind.caller(c)),
        load_test: i64::from(session.load_test),
        agency,
    };
    store.keep_call_path(row).await
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verification {
    pub attempts: i64,
    pub succeeded: i64,
    pub locked: i64,
}

/// The figures, with exactly the keys `caseline report --format json` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub calls: i64,
    pub contained: i64,
    pub transferred: i64,
    pub callbacks: i64,
    pub abandoned: i64,
    /// Contained calls over all calls (0 when there were none).
    pub containment_rate: f64,
    /// Abandoned calls by the step they ended on.
    pub drop_off: BTreeMap<String, i64>,
    pub verification: Verification,
    /// Callers (by a keyed hash of the number) who called more than once within 24 hours.
    pub repeat_callers_24h: i64,
    pub by_language: BTreeMap<String, i64>,
    pub by_channel: BTreeMap<String, i64>,
    /// The average time a call spent in the IVR, in seconds.
    pub average_ivr_seconds: f64,
    /// Calls `caseline loadtest` placed in the period: left out of every figure above
    /// unless `load_tests_included`.
    pub load_test_calls: i64,
    pub load_tests_included: bool,
}

/// Deletes paths that ended before `before`.
pub async fn forget_before(store: &Store, before: i64) -> anyhow::Result<u64> {
    store.call_paths().forget_before(before).await
}

/// The report for the calls that ended from `since` (Unix seconds) on; the load
/// tester's calls only when `include_load_tests` (they are counted either way).
pub async fn report(store: &Store, since: i64, include_load_tests: bool) -> anyhow::Result<Report> {
    let all = store.call_paths().since(since).await?;
    let load_test_calls = all.iter().filter(|p| p.load_test != 0).count() as i64;
    let paths: Vec<Path> = if include_load_tests {
        all
    } else {
        all.into_iter().filter(|p| p.load_test == 0).collect()
    };
    Ok(Report {
        load_test_calls,
        load_tests_included: include_load_tests,
        ..figures(&paths)
    })
}

fn figures(paths: &[Path]) -> Report {
    let count = |o: &str| paths.iter().filter(|p| p.outcome == o).count() as i64;
    let calls = paths.len() as i64;
    let contained = count("contained");
    let mut drop_off = BTreeMap::new();
    for p in paths.iter().filter(|p| p.outcome == "abandoned") {
        *drop_off.entry(p.ended_on.clone()).or_insert(0) += 1;
    }
    let mut by_language = BTreeMap::new();
    let mut by_channel = BTreeMap::new();
    for p in paths {
        *by_language.entry(p.lang.clone()).or_insert(0) += 1;
        *by_channel.entry(p.channel.clone()).or_insert(0) += 1;
    }
    let mut by_caller: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for p in paths {
        if let Some(h) = &p.caller_hash {
            by_caller.entry(h).or_default().push(p.started_at);
        }
    }
    let repeat_callers_24h = by_caller
        .values_mut()
        .map(|times| {
            times.sort_unstable();
            times.windows(2).any(|w| w[1] - w[0] <= 86_400)
        })
        .filter(|repeat| *repeat)
        .count() as i64;
    let total_secs: i64 = paths
        .iter()
        .map(|p| (p.ended_at - p.started_at).max(0))
        .sum();
    Report {
        calls,
        contained,
        transferred: count("transferred"),
        callbacks: count("callback"),
        abandoned: count("abandoned"),
        containment_rate: if calls == 0 {
            0.0
        } else {
            contained as f64 / calls as f64
        },
        drop_off,
        verification: Verification {
            attempts: paths.iter().map(|p| p.verify_attempts).sum(),
            succeeded: paths.iter().map(|p| p.verified).sum(),
            locked: paths.iter().map(|p| p.verify_locked).sum(),
        },
        repeat_callers_24h,
        by_language,
        by_channel,
        average_ivr_seconds: if calls == 0 {
            0.0
        } else {
            total_secs as f64 / calls as f64
        },
        load_test_calls: 0,
        load_tests_included: false,
    }
}

impl Report {
    /// `key,value` lines; nested figures as `drop_off.main-menu`.
    pub fn csv(&self) -> String {
        let mut out = String::from("key,value\n");
        let mut line = |k: &str, v: String| out.push_str(&format!("{k},{v}\n"));
        line("calls", self.calls.to_string());
        line("contained", self.contained.to_string());
        line("transferred", self.transferred.to_string());
        line("callbacks", self.callbacks.to_string());
        line("abandoned", self.abandoned.to_string());
        line("containment_rate", format!("{:.4}", self.containment_rate));
        for (k, v) in &self.drop_off {
            line(&format!("drop_off.{k}"), v.to_string());
        }
        line(
            "verification.attempts",
            self.verification.attempts.to_string(),
        );
        line(
            "verification.succeeded",
            self.verification.succeeded.to_string(),
        );
        line("verification.locked", self.verification.locked.to_string());
        line("repeat_callers_24h", self.repeat_callers_24h.to_string());
        for (k, v) in &self.by_language {
            line(&format!("by_language.{k}"), v.to_string());
        }
        for (k, v) in &self.by_channel {
            line(&format!("by_channel.{k}"), v.to_string());
        }
        line(
            "average_ivr_seconds",
            format!("{:.1}", self.average_ivr_seconds),
        );
        line("load_test_calls", self.load_test_calls.to_string());
        line("load_tests_included", self.load_tests_included.to_string());
        out
    }

    /// For a person reading a terminal.
    pub fn text(&self) -> String {
        let mut out = format!(
            "calls {}: contained {}, transferred {}, callbacks {}, abandoned {}\n\
             containment rate {:.1}%\n",
            self.calls,
            self.contained,
            self.transferred,
            self.callbacks,
            self.abandoned,
            self.containment_rate * 100.0
        );
        out.push_str("abandoned calls by the step they ended on:\n");
        for (k, v) in &self.drop_off {
            out.push_str(&format!("  {k}: {v}\n"));
        }
        out.push_str(&format!(
            "verification: {} attempts, {} succeeded, {} locked\n\
             repeat callers within 24 hours: {}\n\
             by language: {}\nby channel: {}\n\
             average time in the IVR: {:.0} s\n",
            self.verification.attempts,
            self.verification.succeeded,
            self.verification.locked,
            self.repeat_callers_24h,
            join(&self.by_language),
            join(&self.by_channel),
            self.average_ivr_seconds
        ));
        if self.load_test_calls > 0 {
            let how = if self.load_tests_included {
                "included above"
            } else {
                "left out; --include-load-tests counts them"
            };
            out.push_str(&format!(
                "load-test calls: {} ({how})\n",
                self.load_test_calls
            ));
        }
        out
    }
}

fn join(m: &BTreeMap<String, i64>) -> String {
    m.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}
