//! Call analytics: each call's path through the IVR is kept compactly when it ends
//! (steps in order, language, channel, verified or not, how it ended, the step it ended
//! on), and `caseline report` reads the figures an IVR is judged by from them.
//!
//! Definitions: *contained* = ended in the IVR after hearing at least one self-service
//! answer (a readback, an information prompt, a request or payment confirmed) with no
//! transfer and no callback request; *transferred* = sent to a person; *callbacks* =
//! ended with a callback request; *abandoned* = hung up before any of those.
//!
//! With local agencies (`CASELINE_AGENCIES_FILE`) each path names the agency the call
//! was routed to or whose county its verified case is in: the report counts each
//! agency's calls, can be limited to one agency, and follows the ZIP code question
//! (the `agency-zip` and `agency-county` steps of the shipped flow) to where callers
//! left it.
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
    /// The one agency the report is limited to (its id); none: every call.
    pub agency: Option<String>,
    /// Calls by the agency they belong to, the statewide unit's (no agency) first.
    pub by_agency: Vec<AgencyCalls>,
    /// What callers did when asked their ZIP code.
    pub zip_step: ZipStep,
}

/// The calls that belong to one agency: routed to it, or whose verified case is in one
/// of its counties.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgencyCalls {
    /// Its id in the agencies file; none: the statewide unit's calls.
    pub agency: Option<String>,
    pub calls: i64,
    pub contained: i64,
    pub transferred: i64,
    pub callbacks: i64,
    pub abandoned: i64,
}

/// The steps of the shipped flow (`call-flows/main.xml`) that ask a caller who has not
/// verified their ZIP code, the county when it spans several, and tell one outside the
/// state who to call; the step after a ZIP code in one county.
const ZIP_STEP: &str = "agency-zip";
const COUNTY_STEP: &str = "agency-county";
const OUTSIDE_STEP: &str = "agency-outside";
const ONE_COUNTY_NEXT: &str = "representative-hours";

/// The ZIP code question's drop-off. A call asked more than once (outside the state,
/// then again) counts by its last answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ZipStep {
    /// Calls asked their ZIP code.
    pub asked: i64,
    /// Gave a California ZIP code in one county.
    pub in_california: i64,
    /// Gave one that spans counties, so were asked which.
    pub spanning_counties: i64,
    /// Gave one outside California.
    pub outside_california: i64,
    /// Ended at the ZIP code question.
    pub hung_up_at_zip: i64,
    /// Ended at the county question.
    pub hung_up_at_county: i64,
}

impl ZipStep {
    fn count(&mut self, p: &Path) {
        let steps: Vec<&str> = p.steps.split(',').collect();
        let Some(last) = steps.iter().rposition(|s| *s == ZIP_STEP) else {
            return;
        };
        self.asked += 1;
        match steps.get(last + 1).copied() {
            Some(ONE_COUNTY_NEXT) => self.in_california += 1,
            Some(COUNTY_STEP) => self.spanning_counties += 1,
            Some(OUTSIDE_STEP) => self.outside_california += 1,
            _ => {}
        }
        match p.ended_on.as_str() {
            ZIP_STEP => self.hung_up_at_zip += 1,
            COUNTY_STEP => self.hung_up_at_county += 1,
            _ => {}
        }
    }
}

/// Deletes paths that ended before `before`.
pub async fn forget_before(store: &Store, before: i64) -> anyhow::Result<u64> {
    store.call_paths().forget_before(before).await
}

/// The report for the calls that ended from `since` (Unix seconds) on, of one agency's
/// calls when `agency` names it; the load tester's calls only when
/// `include_load_tests` (they are counted either way).
pub async fn report(
    store: &Store,
    since: i64,
    include_load_tests: bool,
    agency: Option<&str>,
) -> anyhow::Result<Report> {
    let all = store.call_paths().since(since, agency).await?;
    let load_test_calls = all.iter().filter(|p| p.load_test != 0).count() as i64;
    let paths: Vec<Path> = if include_load_tests {
        all
    } else {
        all.into_iter().filter(|p| p.load_test == 0).collect()
    };
    Ok(Report {
        load_test_calls,
        load_tests_included: include_load_tests,
        agency: agency.map(str::to_string),
        ..figures(&paths)
    })
}

/// Each agency's calls by outcome.
fn by_agency(paths: &[Path]) -> Vec<AgencyCalls> {
    let mut by: BTreeMap<Option<&str>, AgencyCalls> = BTreeMap::new();
    for p in paths {
        let row = by
            .entry(p.agency.as_deref())
            .or_insert_with(|| AgencyCalls {
                agency: p.agency.clone(),
                calls: 0,
                contained: 0,
                transferred: 0,
                callbacks: 0,
                abandoned: 0,
            });
        row.calls += 1;
        match p.outcome.as_str() {
            "contained" => row.contained += 1,
            "transferred" => row.transferred += 1,
            "callback" => row.callbacks += 1,
            _ => row.abandoned += 1,
        }
    }
    by.into_values().collect()
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
        agency: None,
        by_agency: by_agency(paths),
        zip_step: paths.iter().fold(ZipStep::default(), |mut z, p| {
            z.count(p);
            z
        }),
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
        line("agency", self.agency.clone().unwrap_or_default());
        for a in &self.by_agency {
            let id = a.agency.as_deref().unwrap_or(STATEWIDE);
            for (k, v) in a.figures() {
                line(&format!("by_agency.{id}.{k}"), v.to_string());
            }
        }
        for (k, v) in self.zip_step.figures() {
            line(&format!("zip_step.{k}"), v.to_string());
        }
        out
    }

    /// For a person reading a terminal.
    pub fn text(&self) -> String {
        let mut out = match &self.agency {
            Some(id) => format!("agency {id}\n"),
            None => String::new(),
        };
        out.push_str(&format!(
            "calls {}: contained {}, transferred {}, callbacks {}, abandoned {}\n\
             containment rate {:.1}%\n",
            self.calls,
            self.contained,
            self.transferred,
            self.callbacks,
            self.abandoned,
            self.containment_rate * 100.0
        ));
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
        if !self.by_agency.is_empty() {
            out.push_str("calls by agency (contained, transferred, callbacks, abandoned):\n");
            for a in &self.by_agency {
                out.push_str(&format!(
                    "  {}: {} ({}, {}, {}, {})\n",
                    a.agency.as_deref().unwrap_or(STATEWIDE),
                    a.calls,
                    a.contained,
                    a.transferred,
                    a.callbacks,
                    a.abandoned
                ));
            }
        }
        let z = &self.zip_step;
        if z.asked > 0 {
            out.push_str(&format!(
                "asked their ZIP code: {}: in California {}, spanning counties {}, \
                 outside California {}; hung up at the ZIP code {}, at the county {}\n",
                z.asked,
                z.in_california,
                z.spanning_counties,
                z.outside_california,
                z.hung_up_at_zip,
                z.hung_up_at_county
            ));
        }
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

/// How the CSV and the text name the calls of no agency.
const STATEWIDE: &str = "statewide";

impl AgencyCalls {
    fn figures(&self) -> [(&'static str, i64); 5] {
        [
            ("calls", self.calls),
            ("contained", self.contained),
            ("transferred", self.transferred),
            ("callbacks", self.callbacks),
            ("abandoned", self.abandoned),
        ]
    }
}

impl ZipStep {
    fn figures(&self) -> [(&'static str, i64); 6] {
        [
            ("asked", self.asked),
            ("in_california", self.in_california),
            ("spanning_counties", self.spanning_counties),
            ("outside_california", self.outside_california),
            ("hung_up_at_zip", self.hung_up_at_zip),
            ("hung_up_at_county", self.hung_up_at_county),
        ]
    }
}

fn join(m: &BTreeMap<String, i64>) -> String {
    m.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}
