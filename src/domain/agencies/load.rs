//! Reading the agencies file and checking it whole: every problem found, each with its
//! file and line, not only the first, so one run of `caseline agencies check` lists all
//! there is to fix. The format is documented in the shipped file's header and in
//! `agencies/README.md`.
//!
//! Refused (errors): a file that is not TOML or has an unknown key; an agency without an
//! id, with an id given twice, without a name in English and Spanish, serving no county,
//! with no way to reach it, with bad hours or a holidays file that cannot be read or
//! parsed; an unknown county; a county in two agencies; a California county in none; a
//! bad ZIP table. Warned (the file still loads): an agency whose `reach` is still
//! `TO-BE-FILLED`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::Deserialize;
use toml::Spanned;

use super::{Agencies, Agency, County, Reach, ZipTable};
use crate::clock::hours::{self, Hours};
use crate::config::is_e164;
use crate::domain::transfer::Destination;

/// The marker for a value the agency has not given yet.
pub const TO_BE_FILLED: &str = "TO-BE-FILLED";

/// Whether a problem refuses the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One thing wrong in the file (or in a file it names), where it is and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    /// None for what has no line of its own (a county no agency lists).
    pub line: Option<usize>,
    pub severity: Severity,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if self.severity == Severity::Warning {
            write!(f, ": warning")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// What checking a file found: the agencies when nothing refused them, and every
/// problem in the order of the file.
#[derive(Debug)]
pub struct Checked {
    pub agencies: Option<Agencies>,
    pub problems: Vec<Problem>,
}

impl Checked {
    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Problem> {
        self.problems
            .iter()
            .filter(|p| p.severity == Severity::Warning)
    }

    /// The agencies, or every error, one a line.
    pub fn into_result(self) -> anyhow::Result<Agencies> {
        match self.agencies {
            Some(a) => Ok(a),
            None => {
                let lines: Vec<String> = self.errors().map(ToString::to_string).collect();
                Err(anyhow::anyhow!(lines.join("\n")))
            }
        }
    }
}

/// Reads and checks the agencies file at `path`.
pub fn check(path: &Path) -> Checked {
    match std::fs::read_to_string(path) {
        Ok(text) => check_text(&text, path),
        Err(e) => Checked {
            agencies: None,
            problems: vec![Problem {
                file: path.to_path_buf(),
                line: None,
                severity: Severity::Error,
                message: format!("cannot read the agencies file: {e}"),
            }],
        },
    }
}

/// Checks the text of an agencies file; `path` names it in messages, and relative paths
/// in it (holidays, the ZIP table) are read from its folder.
pub fn check_text(text: &str, path: &Path) -> Checked {
    let mut run = Run {
        text,
        file: path.to_path_buf(),
        dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
        problems: Vec::new(),
        holidays: HashMap::new(),
    };
    let agencies = run.agencies();
    let agencies = agencies.filter(|_| !run.problems.iter().any(|p| p.severity == Severity::Error));
    Checked {
        agencies,
        problems: run.problems,
    }
}

/// The file as written: every value optional and spanned, so a missing one is refused
/// in words with the line of its agency, and a bad one with its own line.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    timezone: Option<Spanned<String>>,
    zips: Option<Spanned<String>>,
    #[serde(default)]
    agency: Vec<Spanned<RawAgency>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgency {
    id: Option<Spanned<String>>,
    name_en: Option<Spanned<String>>,
    name_es: Option<Spanned<String>>,
    counties: Option<Spanned<Vec<Spanned<String>>>>,
    reach: Option<Spanned<String>>,
    hours: Option<Spanned<String>>,
    holidays: Option<Spanned<String>>,
    tty_phone: Option<Spanned<String>>,
    callback_from: Option<Spanned<String>>,
    callback_max_waiting: Option<Spanned<i64>>,
}

/// One check of one file.
struct Run<'a> {
    text: &'a str,
    file: PathBuf,
    dir: PathBuf,
    problems: Vec<Problem>,
    /// Each holidays file read once, however many agencies name it.
    holidays: HashMap<PathBuf, Result<BTreeMap<NaiveDate, String>, String>>,
}

impl Run<'_> {
    /// The line of a byte offset in the file (1-based).
    fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    }

    fn at<T>(&self, value: &Spanned<T>) -> usize {
        self.line(value.span().start)
    }

    fn error(&mut self, line: Option<usize>, message: String) {
        self.problems.push(Problem {
            file: self.file.clone(),
            line,
            severity: Severity::Error,
            message,
        });
    }

    fn warning(&mut self, line: usize, message: String) {
        self.problems.push(Problem {
            file: self.file.clone(),
            line: Some(line),
            severity: Severity::Warning,
            message,
        });
    }

    /// The agencies, when the file parses at all (errors may still have been found).
    fn agencies(&mut self) -> Option<Agencies> {
        let raw: RawFile = match toml::from_str(self.text) {
            Ok(r) => r,
            Err(e) => {
                let line = e.span().map(|s| self.line(s.start));
                self.error(line, format!("not valid: {}", e.message().trim()));
                return None;
            }
        };
        let tz = match &raw.timezone {
            None => chrono_tz::America::Los_Angeles,
            Some(t) => match t.get_ref().parse::<Tz>() {
                Ok(tz) => tz,
                Err(_) => {
                    let line = self.at(t);
                    self.error(
                        Some(line),
                        format!(
                            "timezone: '{}' is not a time zone (like America/Los_Angeles)",
                            t.get_ref()
                        ),
                    );
                    chrono_tz::America::Los_Angeles
                }
            },
        };
        let zips = raw.zips.as_ref().and_then(|z| self.zip_table(z));
        let mut agencies = Vec::new();
        let mut ids: HashMap<String, usize> = HashMap::new();
        let mut served: BTreeMap<County, (String, usize)> = BTreeMap::new();
        for raw in &raw.agency {
            if let Some(a) = self.agency(raw, tz, &mut ids, &mut served) {
                agencies.push(a);
            }
        }
        for county in County::all().filter(|c| !served.contains_key(c)) {
            self.error(
                None,
                format!(
                    "{county} is in no agency: add it to the counties of the agency that serves it"
                ),
            );
        }
        let by_county = County::all()
            .map(|c| {
                served
                    .get(&c)
                    .and_then(|(id, _)| agencies.iter().position(|a: &Agency| &a.id == id))
            })
            .collect::<Option<Vec<usize>>>()?;
        Some(Agencies {
            file: self.file.clone(),
            agencies,
            by_county,
            zips,
        })
    }

    /// One `[[agency]]`: checked whole, every problem said; the agency when it is sound.
    fn agency(
        &mut self,
        raw: &Spanned<RawAgency>,
        tz: Tz,
        ids: &mut HashMap<String, usize>,
        served: &mut BTreeMap<County, (String, usize)>,
    ) -> Option<Agency> {
        let line = self.at(raw);
        let r = raw.get_ref();
        let errors_before = self.error_count();
        let id = match &r.id {
            None => {
                self.error(Some(line), "an agency needs an id (id = \"fresno\")".into());
                String::new()
            }
            Some(id) => {
                let (at, id) = (self.at(id), id.get_ref().trim().to_string());
                if !valid_id(&id) {
                    self.error(
                        Some(at),
                        format!("id '{id}': lowercase letters, digits and hyphens, at most 40 (like central-sierra)"),
                    );
                } else if let Some(first) = ids.get(&id) {
                    self.error(
                        Some(at),
                        format!("id '{id}' is already the id of the agency at line {first}"),
                    );
                } else {
                    ids.insert(id.clone(), line);
                }
                id
            }
        };
        let who = if id.is_empty() {
            "this agency".to_string()
        } else {
            format!("agency '{id}'")
        };
        let name_en = self.required_text(&r.name_en, line, &who, "name_en", "its name in English");
        let name_es = self.required_text(&r.name_es, line, &who, "name_es", "its name in Spanish");
        let counties = self.counties(r, line, &id, &who, served);
        let reach = self.reach(r, line, &who);
        let (hours, holidays_file) = self.hours(r, line, &who, tz);
        let tty_phone = self.tty_phone(r);
        let callback_from = self.callback_from(r);
        let callback_max_waiting = self.callback_max_waiting(r);
        if self.error_count() > errors_before {
            return None;
        }
        Some(Agency {
            id,
            name_en,
            name_es,
            counties,
            reach: reach?,
            hours: hours?,
            holidays_file: holidays_file?,
            tty_phone,
            callback_from,
            callback_max_waiting,
            line,
        })
    }

    fn error_count(&self) -> usize {
        self.problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
            .count()
    }

    fn required_text(
        &mut self,
        value: &Option<Spanned<String>>,
        line: usize,
        who: &str,
        key: &str,
        what: &str,
    ) -> String {
        match value {
            Some(v) if !v.get_ref().trim().is_empty() => v.get_ref().trim().to_string(),
            Some(v) => {
                let at = self.at(v);
                self.error(Some(at), format!("{who}: {key} is empty: give {what}"));
                String::new()
            }
            None => {
                self.error(Some(line), format!("{who} has no {key}: give {what}"));
                String::new()
            }
        }
    }

    fn counties(
        &mut self,
        r: &RawAgency,
        line: usize,
        id: &str,
        who: &str,
        served: &mut BTreeMap<County, (String, usize)>,
    ) -> Vec<County> {
        let Some(list) = &r.counties else {
            self.error(
                Some(line),
                format!("{who} has no counties: list the counties it serves"),
            );
            return Vec::new();
        };
        if list.get_ref().is_empty() {
            let at = self.at(list);
            self.error(
                Some(at),
                format!("{who} serves no county: list the counties it serves"),
            );
        }
        let mut out = Vec::new();
        for name in list.get_ref() {
            let at = self.at(name);
            let Some(county) = County::parse(name.get_ref()) else {
                self.error(
                    Some(at),
                    format!("'{}' is not a California county", name.get_ref().trim()),
                );
                continue;
            };
            match served.get(&county) {
                Some((other, first)) if other == id => {
                    let first = *first;
                    self.error(
                        Some(at),
                        format!("{county} is listed twice in {who} (first at line {first})"),
                    );
                }
                Some((other, first)) => {
                    let msg = format!(
                        "{county} is in two agencies: {who} and agency '{other}' (line {first})"
                    );
                    self.error(Some(at), msg);
                }
                None => {
                    served.insert(county, (id.to_string(), at));
                    out.push(county);
                }
            }
        }
        out
    }

    fn reach(&mut self, r: &RawAgency, line: usize, who: &str) -> Option<Reach> {
        let Some(value) = r.reach.as_ref().filter(|v| !v.get_ref().trim().is_empty()) else {
            self.error(
                Some(line),
                format!(
                    "{who} has no way to reach it: give reach = queue:NAME, tel:+1..., sip:..., \
                     client:..., workflow:WW... (or {TO_BE_FILLED} until the agency gives one)"
                ),
            );
            return None;
        };
        let at = self.at(value);
        match parse_reach(value.get_ref()) {
            Ok(Reach::ToBeFilled) => {
                self.warning(
                    at,
                    format!(
                        "{who}: reach is {TO_BE_FILLED}; the agency fills in its queue or number"
                    ),
                );
                Some(Reach::ToBeFilled)
            }
            Ok(reach) => Some(reach),
            Err(why) => {
                self.error(Some(at), format!("{who}: reach {why}"));
                None
            }
        }
    }

    /// The hours with their holidays, and the holidays file as resolved.
    fn hours(
        &mut self,
        r: &RawAgency,
        line: usize,
        who: &str,
        tz: Tz,
    ) -> (Option<Hours>, Option<PathBuf>) {
        let holidays = match &r.holidays {
            None => {
                self.error(
                    Some(line),
                    format!("{who} has no holidays file: give holidays = \"../holidays/california.txt\" or its own"),
                );
                None
            }
            Some(h) => {
                let at = self.at(h);
                let path = self.dir.join(h.get_ref().trim());
                let read = self
                    .holidays
                    .entry(path.clone())
                    .or_insert_with(|| hours::load_holidays(&path).map_err(|e| format!("{e:#}")))
                    .clone();
                match read {
                    Ok(days) => Some((path, days)),
                    Err(why) => {
                        self.error(Some(at), format!("{who}: holidays: {why}"));
                        None
                    }
                }
            }
        };
        let Some(spec) = &r.hours else {
            self.error(
                Some(line),
                format!(
                    "{who} has no hours: give hours = \"mon-fri 08:00-17:00\" (as CASELINE_HOURS)"
                ),
            );
            return (None, holidays.map(|(p, _)| p));
        };
        let at = self.at(spec);
        let (file, days) = match holidays {
            Some((p, d)) => (Some(p), d),
            None => (None, BTreeMap::new()),
        };
        match Hours::new(tz, spec.get_ref(), days) {
            Ok(h) => (Some(h), file),
            Err(e) => {
                self.error(Some(at), format!("{who}: hours: {e:#}"));
                (None, file)
            }
        }
    }

    fn tty_phone(&mut self, r: &RawAgency) -> Option<String> {
        let value = r.tty_phone.as_ref()?;
        let phone = value.get_ref().trim();
        if phone == TO_BE_FILLED {
            return None;
        }
        if matches!(Destination::parse(phone), Ok(Destination::Number(_))) {
            return Some(phone.to_string());
        }
        let at = self.at(value);
        self.error(
            Some(at),
            format!("tty_phone '{phone}' is not a phone number (like 866-399-4096)"),
        );
        None
    }

    fn callback_from(&mut self, r: &RawAgency) -> Option<String> {
        let value = r.callback_from.as_ref()?;
        let number = value.get_ref().trim();
        if number == TO_BE_FILLED {
            return None;
        }
        if is_e164(number) {
            return Some(number.to_string());
        }
        let at = self.at(value);
        self.error(
            Some(at),
            format!("callback_from '{number}' is not an E.164 number (like +18669013212)"),
        );
        None
    }

    /// The most callers waiting in the agency's own queue for a callback to be placed.
    fn callback_max_waiting(&mut self, r: &RawAgency) -> Option<u32> {
        let value = r.callback_max_waiting.as_ref()?;
        match u32::try_from(*value.get_ref()) {
            Ok(n) if n <= 1000 => Some(n),
            _ => {
                let at = self.at(value);
                self.error(
                    Some(at),
                    format!(
                        "callback_max_waiting {} is not a number of callers from 0 to 1000",
                        value.get_ref()
                    ),
                );
                None
            }
        }
    }

    /// The ZIP table the file names; its bad lines are problems of its own file.
    fn zip_table(&mut self, name: &Spanned<String>) -> Option<ZipTable> {
        let at = self.at(name);
        let path = self.dir.join(name.get_ref().trim());
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                self.error(
                    Some(at),
                    format!("zips: cannot read {}: {e}", path.display()),
                );
                return None;
            }
        };
        match ZipTable::parse(&text) {
            Ok(t) => Some(t),
            Err(errors) => {
                for (line, why) in errors {
                    self.problems.push(Problem {
                        file: path.clone(),
                        line: Some(line),
                        severity: Severity::Error,
                        message: why,
                    });
                }
                None
            }
        }
    }
}

/// An id staff, reports and logs can name an agency by: `central-sierra`.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 40
        && !id.starts_with('-')
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// `queue:NAME`, `tel:+1...`, `sip:...`, `client:...`, `workflow:WW...` or the
/// to-be-filled marker; the error finishes "reach ...".
fn parse_reach(value: &str) -> Result<Reach, String> {
    let value = value.trim();
    if value == TO_BE_FILLED {
        return Ok(Reach::ToBeFilled);
    }
    if let Some(name) = value.strip_prefix("queue:") {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        return if ok {
            Ok(Reach::Queue(name.to_string()))
        } else {
            Err(format!(
                "'{value}': a queue name is 1 to 64 letters, digits, '-', '_' or '.'"
            ))
        };
    }
    if let Some(sid) = value.strip_prefix("workflow:") {
        let ok = sid.len() == 34
            && sid.starts_with("WW")
            && sid[2..].bytes().all(|b| b.is_ascii_hexdigit());
        return if ok {
            Ok(Reach::Workflow(sid.to_string()))
        } else {
            Err(format!(
                "'{value}': a TaskRouter workflow is WW and 32 hex digits"
            ))
        };
    }
    if let Some(number) = value.strip_prefix("tel:") {
        return match Destination::parse(number) {
            Ok(d @ Destination::Number(_)) => Ok(Reach::Dial(d)),
            _ => Err(format!("'{value}': not a phone number (tel:+18665551234)")),
        };
    }
    if value.starts_with("sip:") || value.starts_with("client:") {
        return Destination::parse(value)
            .map(Reach::Dial)
            .map_err(|e| format!("'{value}': {e}"));
    }
    Err(format!(
        "'{value}' is not a way to reach an agency: queue:NAME, tel:+1..., sip:..., client:..., \
         workflow:WW..., or {TO_BE_FILLED}"
    ))
}

#[cfg(test)]
mod tests;
