//! Parsing the extract: the JSON read and checked whole, every error listed with its
//! JSON path, before anything is written. None echoes an SSN or a PAR ID.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, NaiveDate};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

use crate::domain::cases::{CaseStatus, Method, Role, Source, Stage};
use crate::domain::verify::{ParId, Ssn};
use crate::words::prompts::Lang;

#[derive(Debug)]
pub struct Extract {
    pub participants: Vec<ParticipantIn>,
    pub cases: Vec<CaseIn>,
}

#[derive(Debug)]
pub struct ParticipantIn {
    pub par: ParId,
    pub ssn: Ssn,
    pub first_name: String,
    pub last_name: String,
    pub language: Lang,
}

#[derive(Debug)]
pub struct CaseIn {
    pub case_number: String,
    pub county: String,
    pub status: CaseStatus,
    pub stage: Stage,
    pub caseworker: Option<String>,
    pub members: Vec<(ParId, Role)>,
    pub monthly_support: Option<Decimal>,
    pub medical_support: Option<bool>,
    pub next_due: Option<NaiveDate>,
    pub arrears: Option<Decimal>,
    pub next_hearing: Option<DateTime<FixedOffset>>,
    pub next_appointment: Option<DateTime<FixedOffset>>,
    pub payments: Vec<(NaiveDate, Decimal, Source)>,
    pub disbursements: Vec<(NaiveDate, Decimal, ParId, Method)>,
}

/// Collects errors with their paths.
struct Check {
    errors: Vec<String>,
}

impl Check {
    fn err(&mut self, path: &str, msg: &str) {
        self.errors.push(format!("{path}: {msg}"));
    }

    fn object<'v>(&mut self, v: &'v Value, path: &str) -> Option<&'v Map<String, Value>> {
        match v.as_object() {
            Some(o) => Some(o),
            None => {
                self.err(path, "must be an object");
                None
            }
        }
    }

    fn unknown_keys(&mut self, o: &Map<String, Value>, path: &str, known: &[&str]) {
        for k in o.keys() {
            if !known.contains(&k.as_str()) {
                self.err(&format!("{path}.{k}"), "unknown field");
            }
        }
    }

    /// A string field; `None` when absent or null (an error if required).
    fn string(
        &mut self,
        o: &Map<String, Value>,
        key: &str,
        path: &str,
        required: bool,
    ) -> Option<String> {
        match o.get(key) {
            None | Some(Value::Null) => {
                if required {
                    self.err(&format!("{path}.{key}"), "is required");
                }
                None
            }
            Some(Value::String(s)) if s.trim().is_empty() && required => {
                self.err(&format!("{path}.{key}"), "must not be empty");
                None
            }
            Some(Value::String(s)) => Some(s.trim().to_string()),
            Some(_) => {
                self.err(&format!("{path}.{key}"), "must be a string");
                None
            }
        }
    }

    fn word<T>(
        &mut self,
        o: &Map<String, Value>,
        key: &str,
        path: &str,
        parse: fn(&str) -> Option<T>,
        words: String,
    ) -> Option<T> {
        let s = self.string(o, key, path, true)?;
        let v = parse(&s);
        if v.is_none() {
            self.err(
                &format!("{path}.{key}"),
                &format!("'{s}' is not one of: {words}"),
            );
        }
        v
    }

    fn money(
        &mut self,
        o: &Map<String, Value>,
        key: &str,
        path: &str,
        required: bool,
    ) -> Option<Decimal> {
        let s = self.string(o, key, path, required)?;
        match Decimal::from_str(&s) {
            Ok(d) if d.scale() <= 2 => Some(d),
            _ => {
                self.err(
                    &format!("{path}.{key}"),
                    "must be an amount like \"450.00\" (a string, at most 2 decimals)",
                );
                None
            }
        }
    }

    fn date(
        &mut self,
        o: &Map<String, Value>,
        key: &str,
        path: &str,
        required: bool,
    ) -> Option<NaiveDate> {
        let s = self.string(o, key, path, required)?;
        match NaiveDate::parse_from_str(&s, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                self.err(&format!("{path}.{key}"), "must be a date YYYY-MM-DD");
                None
            }
        }
    }

    fn datetime(
        &mut self,
        o: &Map<String, Value>,
        key: &str,
        path: &str,
    ) -> Option<DateTime<FixedOffset>> {
        let s = self.string(o, key, path, false)?;
        match DateTime::parse_from_rfc3339(&s) {
            Ok(d) => Some(d),
            Err(_) => {
                self.err(
                    &format!("{path}.{key}"),
                    "must be a date and time with its offset, like 2027-01-14T09:30:00-08:00",
                );
                None
            }
        }
    }

    fn array<'v>(&mut self, o: &'v Map<String, Value>, key: &str, path: &str) -> &'v [Value] {
        match o.get(key) {
            None | Some(Value::Null) => &[],
            Some(Value::Array(a)) => a,
            Some(_) => {
                self.err(&format!("{path}.{key}"), "must be a list");
                &[]
            }
        }
    }

    fn par(&mut self, o: &Map<String, Value>, key: &str, path: &str) -> Option<ParId> {
        let s = self.string(o, key, path, true)?;
        let p = ParId::parse(&s);
        if p.is_none() {
            // The value itself is never repeated: it may be a real identifier.
            self.err(
                &format!("{path}.{key}"),
                "must be a participant ID of 4 to 16 digits",
            );
        }
        p
    }
}

/// Parses and checks a whole extract. Errors come back all together, each with its
/// JSON path (`cases[2].payments[0].amount: ...`).
pub fn parse(text: &str) -> Result<Extract, Vec<String>> {
    let root: Value = serde_json::from_str(text).map_err(|e| {
        vec![format!(
            "line {} column {}: not valid JSON ({})",
            e.line(),
            e.column(),
            match e.classify() {
                serde_json::error::Category::Eof => "it ends too early",
                serde_json::error::Category::Syntax => "a syntax error",
                serde_json::error::Category::Data => "unexpected data",
                serde_json::error::Category::Io => "could not be read",
            }
        )]
    })?;
    let mut c = Check { errors: Vec::new() };
    let Some(top) = c.object(&root, "$") else {
        return Err(c.errors);
    };
    c.unknown_keys(top, "$", &["participants", "cases"]);

    let mut participants = Vec::new();
    let mut seen_par: HashMap<ParId, String> = HashMap::new();
    let mut seen_ssn: HashMap<Ssn, String> = HashMap::new();
    for (i, v) in c.array(top, "participants", "$").iter().enumerate() {
        let path = format!("participants[{i}]");
        let Some(o) = c.object(v, &path) else {
            continue;
        };
        c.unknown_keys(
            o,
            &path,
            &["par_id", "ssn", "first_name", "last_name", "language"],
        );
        let par = c.par(o, "par_id", &path);
        let ssn = match c.string(o, "ssn", &path, true) {
            Some(s) => {
                let parsed = Ssn::parse(&s);
                if parsed.is_none() {
                    c.err(
                        &format!("{path}.ssn"),
                        "must be 9 digits, with or without dashes",
                    );
                }
                parsed
            }
            None => None,
        };
        let first = c.string(o, "first_name", &path, true);
        let last = c.string(o, "last_name", &path, true);
        let language = match c.string(o, "language", &path, false) {
            None => Some(Lang::En),
            Some(l) => {
                let lang = Lang::parse(&l);
                if lang.is_none() {
                    c.err(
                        &format!("{path}.language"),
                        &format!("'{l}' is not one of: en, es"),
                    );
                }
                lang
            }
        };
        if let Some(p) = &par
            && let Some(prev) = seen_par.insert(p.clone(), path.clone())
        {
            c.err(
                &format!("{path}.par_id"),
                &format!("the same participant ID as {prev}"),
            );
        }
        if let Some(s) = &ssn
            && let Some(prev) = seen_ssn.insert(s.clone(), path.clone())
        {
            c.err(&format!("{path}.ssn"), &format!("the same SSN as {prev}"));
        }
        if let (Some(par), Some(ssn), Some(first_name), Some(last_name), Some(language)) =
            (par, ssn, first, last, language)
        {
            participants.push(ParticipantIn {
                par,
                ssn,
                first_name,
                last_name,
                language,
            });
        }
    }

    let mut cases = Vec::new();
    let mut seen_case: HashSet<String> = HashSet::new();
    for (i, v) in c.array(top, "cases", "$").iter().enumerate() {
        let path = format!("cases[{i}]");
        let Some(o) = c.object(v, &path) else {
            continue;
        };
        c.unknown_keys(
            o,
            &path,
            &[
                "case_number",
                "county",
                "status",
                "stage",
                "caseworker",
                "members",
                "order",
                "arrears_balance",
                "next_hearing",
                "next_appointment",
                "payments",
                "disbursements",
            ],
        );
        let case_number = c.string(o, "case_number", &path, true);
        if let Some(n) = &case_number {
            if n.len() < 4 || n.len() > 32 || !n.bytes().all(|b| b.is_ascii_alphanumeric()) {
                c.err(
                    &format!("{path}.case_number"),
                    "must be 4 to 32 letters or digits",
                );
            } else if !seen_case.insert(n.clone()) {
                c.err(&format!("{path}.case_number"), "appears twice in this file");
            }
        }
        let county = c.string(o, "county", &path, true);
        let status = c.word(o, "status", &path, CaseStatus::parse, CaseStatus::words());
        let stage = c.word(o, "stage", &path, Stage::parse, Stage::words());
        let caseworker = c.string(o, "caseworker", &path, false);
        let mut members = Vec::new();
        for (j, m) in c.array(o, "members", &path).iter().enumerate() {
            let mpath = format!("{path}.members[{j}]");
            let Some(mo) = c.object(m, &mpath) else {
                continue;
            };
            c.unknown_keys(mo, &mpath, &["par_id", "role"]);
            let par = c.par(mo, "par_id", &mpath);
            let role = c.word(mo, "role", &mpath, Role::parse, Role::words());
            if let Some(p) = &par
                && !seen_par.contains_key(p)
            {
                c.err(
                    &format!("{mpath}.par_id"),
                    "is not a participant in this file",
                );
            }
            if let (Some(p), Some(r)) = (par, role) {
                members.push((p, r));
            }
        }
        if members.is_empty()
            && o.get("members")
                .is_some_and(|m| m.as_array().is_some_and(|a| a.is_empty()))
        {
            c.err(
                &format!("{path}.members"),
                "a case needs at least one member",
            );
        }
        let (mut monthly_support, mut medical_support, mut next_due) = (None, None, None);
        match o.get("order") {
            None | Some(Value::Null) => {}
            Some(order) => {
                let opath = format!("{path}.order");
                if let Some(oo) = c.object(order, &opath) {
                    c.unknown_keys(
                        oo,
                        &opath,
                        &["monthly_support", "medical_support", "next_due"],
                    );
                    monthly_support = c.money(oo, "monthly_support", &opath, true);
                    medical_support = match oo.get("medical_support") {
                        None | Some(Value::Null) => None,
                        Some(Value::Bool(b)) => Some(*b),
                        Some(_) => {
                            c.err(&format!("{opath}.medical_support"), "must be true or false");
                            None
                        }
                    };
                    next_due = c.date(oo, "next_due", &opath, false);
                }
            }
        }
        let arrears = c.money(o, "arrears_balance", &path, false);
        let next_hearing = c.datetime(o, "next_hearing", &path);
        let next_appointment = c.datetime(o, "next_appointment", &path);
        let mut payments = Vec::new();
        for (j, p) in c.array(o, "payments", &path).iter().enumerate() {
            let ppath = format!("{path}.payments[{j}]");
            let Some(po) = c.object(p, &ppath) else {
                continue;
            };
            c.unknown_keys(po, &ppath, &["received_on", "amount", "source"]);
            let on = c.date(po, "received_on", &ppath, true);
            let amount = c.money(po, "amount", &ppath, true);
            let source = c.word(po, "source", &ppath, Source::parse, Source::words());
            if let (Some(a), Some(b), Some(s)) = (on, amount, source) {
                payments.push((a, b, s));
            }
        }
        let mut disbursements = Vec::new();
        for (j, d) in c.array(o, "disbursements", &path).iter().enumerate() {
            let dpath = format!("{path}.disbursements[{j}]");
            let Some(dobj) = c.object(d, &dpath) else {
                continue;
            };
            c.unknown_keys(dobj, &dpath, &["paid_on", "amount", "to_par_id", "method"]);
            let on = c.date(dobj, "paid_on", &dpath, true);
            let amount = c.money(dobj, "amount", &dpath, true);
            let to = c.par(dobj, "to_par_id", &dpath);
            let method = c.word(dobj, "method", &dpath, Method::parse, Method::words());
            if let Some(t) = &to
                && !members.iter().any(|(p, _)| p == t)
            {
                c.err(
                    &format!("{dpath}.to_par_id"),
                    "is not a member of this case",
                );
            }
            if let (Some(a), Some(b), Some(t), Some(m)) = (on, amount, to, method) {
                disbursements.push((a, b, t, m));
            }
        }
        if let (Some(case_number), Some(county), Some(status), Some(stage)) =
            (case_number, county, status, stage)
        {
            cases.push(CaseIn {
                case_number,
                county,
                status,
                stage,
                caseworker,
                members,
                monthly_support,
                medical_support,
                next_due,
                arrears,
                next_hearing,
                next_appointment,
                payments,
                disbursements,
            });
        }
    }
    if c.errors.is_empty() {
        Ok(Extract {
            participants,
            cases,
        })
    } else {
        Err(c.errors)
    }
}

/// The parser's refusals: each bad input is named by its path and why, and nothing
/// comes back but the errors.
#[cfg(test)]
mod parse_errors {
    use super::parse;

    fn errors(json: &str) -> String {
        match parse(json) {
            Ok(_) => String::new(),
            Err(e) => e.join("\n"),
        }
    }

    const PERSON: &str =
        r#"{"par_id": "4820193756", "ssn": "900-12-3456", "first_name": "A", "last_name": "B"}"#;

    #[test]
    fn each_bad_input_is_named_by_its_path() {
        let member = r#"{"par_id": "4820193756", "role": "custodial"}"#;
        let case = |extra: &str| {
            format!(
                r#"{{"participants": [{PERSON}], "cases": [{{"case_number": "190000123456", "county": "Fresno", "status": "open", "stage": "enforcement", "members": [{member}]{extra}}}]}}"#
            )
        };
        let table: Vec<(String, &str)> = vec![
            ("{".into(), "line 1 column 1: not valid JSON (it ends too early)"),
            ("[]".into(), "$: must be an object"),
            (r#"{"participants": [], "cases": [], "extra": 1}"#.into(), "$.extra: unknown field"),
            (
                r#"{"participants": [{"par_id": "12", "ssn": "900-12-3456", "first_name": "A", "last_name": "B"}], "cases": []}"#.into(),
                "participants[0].par_id",
            ),
            (
                r#"{"participants": [{"par_id": "4820193756", "ssn": "9001", "first_name": "A", "last_name": "B"}], "cases": []}"#.into(),
                "participants[0].ssn: must be 9 digits",
            ),
            (
                format!(r#"{{"participants": [{PERSON}, {PERSON}], "cases": []}}"#),
                "participants[1].par_id: the same participant ID as participants[0]",
            ),
            (
                r#"{"participants": [{"par_id": "4820193756", "ssn": "900-12-3456", "first_name": "A", "last_name": "B", "language": "fr"}], "cases": []}"#.into(),
                "participants[0].language: 'fr' is not one of: en, es",
            ),
            (
                r#"{"participants": [{"par_id": "4820193756", "ssn": "900-12-3456", "last_name": "B"}], "cases": []}"#.into(),
                "participants[0].first_name: is required",
            ),
            (case(r#", "arrears_balance": "lots""#), "cases[0].arrears_balance"),
            (
                case(r#", "payments": [{"received_on": "2026-13-01", "amount": "1.00", "source": "direct_payment"}]"#),
                "cases[0].payments[0].received_on: must be a date YYYY-MM-DD",
            ),
            (
                case(r#", "disbursements": [{"paid_on": "2026-11-03", "amount": "1.00", "to_par_id": "5512908899", "method": "check"}]"#),
                "cases[0].disbursements[0].to_par_id",
            ),
            (case(r#", "members": "nobody""#), "cases[0]"),
        ];
        for (json, want) in &table {
            let got = errors(json);
            assert!(got.contains(want), "for {json}\nwanted '{want}' in:\n{got}");
        }
    }

    #[test]
    fn errors_never_echo_an_ssn_or_par_id() {
        let got = errors(
            r#"{"participants": [{"par_id": "4820193756", "ssn": "900-12-345x", "first_name": "A", "last_name": "B"}], "cases": []}"#,
        );
        assert!(got.contains("participants[0].ssn"), "{got}");
        assert!(
            !got.contains("900-12-345") && !got.contains("4820193756"),
            "{got}"
        );
    }

    #[test]
    fn a_good_file_parses() {
        let ok = parse(&format!(r#"{{"participants": [{PERSON}], "cases": []}}"#));
        assert!(ok.is_ok(), "{:?}", ok.err());
    }
}
