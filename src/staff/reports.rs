//! What supervisors read on the console's Reports page: the call analytics for a chosen
//! period (the figures of `caseline report`), their charts, and the flow diagram. The
//! handlers in [`super::api`] only check the role and pass their query on; a report is
//! limited to the agency a staff account works for ([`Asked::for_agency`]).

use std::sync::Arc;

use anyhow::Context;

use super::{Scope, Staff, StaffError};
use crate::domain::agencies::Agencies;
use crate::flow::diagram::Part;
use crate::ops::analytics::chart::Chart;
use crate::ops::analytics::{self, Report};
use crate::state::{AppState, Services};

/// The longest period a report covers, in days: as long as paths are kept by default
/// (`CASELINE_ANALYTICS_DAYS`).
pub const MAX_DAYS: i64 = 400;

/// What a report is asked for: the last `days`, whether the load tester's calls count
/// (`?load_tests=include`; left out by default), and the one local agency whose calls
/// it covers (none: every call).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked {
    pub days: i64,
    pub include_load_tests: bool,
    pub agency: Option<String>,
}

impl Asked {
    /// From `?days=N&load_tests=include|leave-out`, for every agency's calls (see
    /// [`Asked::for_agency`]).
    pub fn parse(days: Option<&str>, load_tests: Option<&str>) -> Result<Asked, StaffError> {
        let include_load_tests = match load_tests.map(str::trim) {
            None | Some("leave-out") => false,
            Some("include") => true,
            Some(_) => {
                return Err(StaffError::BadRequest(
                    "load_tests must be include or leave-out".into(),
                ));
            }
        };
        Ok(Asked {
            days: self::days(days)?,
            include_load_tests,
            agency: None,
        })
    }

    /// Limited to the agency `staff` may read ([`Scope::listing`], as every staff
    /// listing is): a local account's own (another agency's is refused), a statewide
    /// account's `?agency=ID` when given, else every call.
    pub fn for_agency(
        self,
        staff: &Staff,
        asked: Option<&str>,
        agencies: Option<&Agencies>,
    ) -> Result<Asked, StaffError> {
        let agency = Scope::listing(staff, asked, agencies)?
            .agency()
            .map(String::from);
        Ok(Asked { agency, ..self })
    }
}

/// The period asked for in `?days=N`: the last 24 hours when not given.
pub fn days(raw: Option<&str>) -> Result<i64, StaffError> {
    let Some(raw) = raw else {
        return Ok(1);
    };
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|d| (1..=MAX_DAYS).contains(d))
        .ok_or_else(|| {
            StaffError::BadRequest(format!(
                "days must be a whole number of days from 1 to {MAX_DAYS}"
            ))
        })
}

/// How a chart names its period.
fn period(days: i64) -> String {
    if days == 1 {
        "Calls that ended in the last 24 hours".into()
    } else {
        format!("Calls that ended in the last {days} days")
    }
}

/// The figures for the calls that ended in the last `days`.
pub async fn figures(s: &Services, asked: Asked) -> Result<Report, StaffError> {
    let since = s.line.now() - asked.days * 86_400;
    Ok(analytics::report(
        &s.line.store,
        since,
        asked.include_load_tests,
        asked.agency.as_deref(),
    )
    .await?)
}

/// A chart by its file name (`outcomes.svg`, `drop-off.svg`), for the last `days`.
pub async fn chart(s: &Services, file: &str, asked: Asked) -> Result<String, StaffError> {
    let days = asked.days;
    let chart = file
        .strip_suffix(".svg")
        .and_then(Chart::parse)
        .ok_or_else(|| {
            let names: Vec<String> = Chart::ALL.iter().map(|(n, _)| format!("{n}.svg")).collect();
            StaffError::NotFound(format!(
                "no such chart; the charts are {}",
                names.join(", ")
            ))
        })?;
    Ok(chart.svg(&figures(s, asked).await?, &period(days)))
}

/// The flow files a diagram can be limited to (`main` for `main.xml`).
pub fn flow_files(s: &Services) -> Vec<String> {
    s.line.flow.files().into_iter().map(String::from).collect()
}

/// The loaded flows as SVG: all of them, or the steps of one flow file. Drawn once per
/// file ([`crate::flow::diagram::Diagrams`]) on a blocking thread, so the webhooks never wait behind it; a
/// request waits for a drawing at most `Settings::diagram_deadline`, then answers a
/// timeout while the drawing finishes for the next request.
pub async fn diagram(s: &AppState, file: Option<String>) -> Result<String, StaffError> {
    if let Some(svg) = s.diagrams.get(&file) {
        return Ok(svg.to_string());
    }
    if let Some(name) = &file
        && !s.line.flow.files().contains(&name.as_str())
    {
        return Err(StaffError::NotFound(format!(
            "no flow file of that name; the files are {}",
            s.line.flow.files().join(", ")
        )));
    }
    let deadline = tokio::time::Instant::now() + s.line.settings.diagram_deadline;
    let permit = tokio::time::timeout_at(deadline, s.diagrams.drawing.clone().acquire_owned())
        .await
        .map_err(|_| StaffError::TimedOut)?
        .context("the diagram semaphore closed")?;
    // Drawn by the request this one waited behind.
    if let Some(svg) = s.diagrams.get(&file) {
        return Ok(svg.to_string());
    }
    let s = s.clone();
    let drawing = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let part = match &file {
            None => Part::all(&s.line.flow),
            Some(name) => Part::file(&s.line.flow, name).context("a flow file went missing")?,
        };
        s.diagrams.counted();
        let svg: Arc<str> = part.svg()?.into();
        s.diagrams.keep(file, svg.clone());
        anyhow::Ok(svg)
    });
    match tokio::time::timeout_at(deadline, drawing).await {
        Ok(done) => Ok(done
            .context("Failed to draw the flow diagram")??
            .to_string()),
        Err(_) => {
            tracing::warn!("the flow diagram took past its deadline; it is kept when done");
            Err(StaffError::TimedOut)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_default_to_one_and_stay_within_what_is_kept() {
        assert_eq!(days(None).ok(), Some(1));
        assert_eq!(days(Some("7")).ok(), Some(7));
        assert_eq!(days(Some("400")).ok(), Some(400));
        for bad in [
            "0",
            "-1",
            "401",
            "abc",
            "",
            "1.5",
            "7d",
            "99999999999999999999",
        ] {
            match days(Some(bad)) {
                Err(StaffError::BadRequest(m)) => assert!(m.contains("1 to 400"), "{m}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
        assert_eq!(period(1), "Calls that ended in the last 24 hours");
        assert_eq!(period(30), "Calls that ended in the last 30 days");
    }
}
