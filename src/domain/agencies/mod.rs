//! The local child support agencies behind one statewide line: who serves which county,
//! how each is reached and when a person answers there. California runs child support
//! by county and regional agencies, and a caller's questions belong with the agency of
//! their county; this module holds that map as data (`agencies/california.toml`) so a
//! state changes it without a release.
//!
//! The server loads it when `CASELINE_AGENCIES_FILE` names it (refusing to start on a
//! broken file): a verified caller who asks for a person then goes to the agency of the
//! case they chose, with that agency's hours. Without the file the line is one unit, as
//! before. `caseline agencies check` runs the same checks and prints every problem.
//!
//! - [`load`]: reading the file, every refusal with its file and line;
//! - [`zip`]: the ZIP-code-to-county table that routes a caller who has not verified.

pub mod load;
pub mod zip;

use std::path::{Path, PathBuf};

use crate::clock::hours::Hours;
use crate::domain::transfer::{self, Context, Destination};
use crate::telephony::twiml::Element;
use crate::words::prompts::Lang;

pub use load::{Checked, Problem, Severity};
pub use zip::ZipTable;

/// The 58 counties of California, in alphabetical order: the names the agencies file,
/// the ZIP table and the case data use.
const COUNTIES: [&str; 58] = [
    "Alameda",
    "Alpine",
    "Amador",
    "Butte",
    "Calaveras",
    "Colusa",
    "Contra Costa",
    "Del Norte",
    "El Dorado",
    "Fresno",
    "Glenn",
    "Humboldt",
    "Imperial",
    "Inyo",
    "Kern",
    "Kings",
    "Lake",
    "Lassen",
    "Los Angeles",
    "Madera",
    "Marin",
    "Mariposa",
    "Mendocino",
    "Merced",
    "Modoc",
    "Mono",
    "Monterey",
    "Napa",
    "Nevada",
    "Orange",
    "Placer",
    "Plumas",
    "Riverside",
    "Sacramento",
    "San Benito",
    "San Bernardino",
    "San Diego",
    "San Francisco",
    "San Joaquin",
    "San Luis Obispo",
    "San Mateo",
    "Santa Barbara",
    "Santa Clara",
    "Santa Cruz",
    "Shasta",
    "Sierra",
    "Siskiyou",
    "Solano",
    "Sonoma",
    "Stanislaus",
    "Sutter",
    "Tehama",
    "Trinity",
    "Tulare",
    "Tuolumne",
    "Ventura",
    "Yolo",
    "Yuba",
];

/// One of the 58 California counties. Only [`County::parse`] makes one, so a county
/// name that is not California's cannot reach the routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct County(u8);

impl County {
    /// All 58, in alphabetical order.
    pub fn all() -> impl Iterator<Item = County> {
        (0..COUNTIES.len() as u8).map(County)
    }

    /// The county of that name, in any case, with or without a trailing " County"
    /// (`fresno`, `Fresno County`).
    pub fn parse(name: &str) -> Option<County> {
        let name = name.trim();
        let name = match name.len().checked_sub(" county".len()) {
            Some(cut)
                if name.is_char_boundary(cut) && name[cut..].eq_ignore_ascii_case(" county") =>
            {
                name[..cut].trim_end()
            }
            _ => name,
        };
        COUNTIES
            .iter()
            .position(|c| c.eq_ignore_ascii_case(name))
            .map(|i| County(i as u8))
    }

    pub fn name(self) -> &'static str {
        COUNTIES[usize::from(self.0)]
    }

    fn index(self) -> usize {
        usize::from(self.0)
    }
}

impl std::fmt::Display for County {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The id of the agency a call's records belong to ([`Agencies::of_call`]); `None`
/// without an agencies file.
pub fn of_call(agencies: Option<&Agencies>, session: &crate::session::Session) -> Option<String> {
    agencies?.of_call(session).map(|a| a.id.clone())
}

/// How an agency's callers reach a person there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// A provider queue by name (`queue:fresno-csu`).
    Queue(String),
    /// A number, SIP URI or softphone client (`tel:+1...`, `sip:...`, `client:...`).
    Dial(Destination),
    /// A TaskRouter workflow SID (`workflow:WW` and 32 hex digits).
    Workflow(String),
    /// Not given yet: the agency fills it in. The check warns; until then the agency has
    /// no line of its own and its callers belong on the statewide queue.
    ToBeFilled,
}

impl Reach {
    /// Whether the agency can be reached on its own.
    pub fn is_filled(&self) -> bool {
        !matches!(self, Reach::ToBeFilled)
    }
}

/// One local child support agency, county or regional.
#[derive(Debug, Clone)]
pub struct Agency {
    /// Short, stable, lowercase (`fresno`, `central-sierra`): what staff accounts,
    /// reports and logs will name it by.
    pub id: String,
    pub name_en: String,
    pub name_es: String,
    /// The counties it serves, in the order the file gives them.
    pub counties: Vec<County>,
    pub reach: Reach,
    /// When a person answers there, less its holidays.
    pub hours: Hours,
    /// The holidays file, as resolved (relative paths from the agencies file's folder).
    pub holidays_file: PathBuf,
    /// Its TTY number as callers are told it, when it has its own.
    pub tty_phone: Option<String>,
    /// The caller ID of its callbacks (E.164), when it has its own.
    pub callback_from: Option<String>,
    /// The most callers waiting in its own queue for the dialer to place its callbacks
    /// (a small county's queue may take fewer than the unit's); none: the unit's limit
    /// (`CASELINE_CALLBACK_MAX_WAITING`).
    pub callback_max_waiting: Option<u32>,
    /// Where the agency starts in the file, for messages about it.
    pub line: usize,
}

impl Agency {
    /// The TwiML handing a caller to this agency's own line, and where they went (for the
    /// screen pop): a queue (through the TaskRouter `workflow` when one is configured),
    /// its workflow, or a number, SIP address or client. `None` while it is
    /// `TO-BE-FILLED`: the statewide unit takes its callers.
    pub fn hand_over(
        &self,
        workflow: Option<&str>,
        ctx: &Context,
        after: String,
        wait: String,
    ) -> anyhow::Result<Option<(Element, String)>> {
        Ok(Some(match &self.reach {
            Reach::Dial(dest) => (dest.dial(ctx, after), transfer::dial_target(dest)),
            Reach::Queue(queue) => (
                transfer::enqueue(queue, workflow, ctx, after, wait)?,
                format!("queue:{queue}"),
            ),
            // The workflow routes by the task's attributes: the agency's id stands for
            // the queue's name there.
            Reach::Workflow(sid) => (
                transfer::enqueue(&self.id, Some(sid), ctx, after, wait)?,
                format!("workflow:{sid}"),
            ),
            Reach::ToBeFilled => return Ok(None),
        }))
    }

    /// The name of the queue its callers wait in, when they wait in one of its own: a
    /// `queue:` reach's name, or for a workflow the agency's id (the name its tasks give).
    /// Its wait URL says it (`?queue=NAME`), so the dialer counts each agency's queue
    /// apart.
    pub fn queue(&self) -> Option<&str> {
        match &self.reach {
            Reach::Queue(name) => Some(name),
            Reach::Workflow(_) => Some(&self.id),
            Reach::Dial(_) | Reach::ToBeFilled => None,
        }
    }

    /// Its name in `lang`, as the line says it.
    pub fn name(&self, lang: Lang) -> &str {
        match lang {
            Lang::En => &self.name_en,
            Lang::Es => &self.name_es,
        }
    }
}

/// Every agency of the line, each county served by exactly one of them.
#[derive(Debug, Clone)]
pub struct Agencies {
    file: PathBuf,
    agencies: Vec<Agency>,
    /// For each county (by its index), the position of its agency in `agencies`.
    by_county: Vec<usize>,
    zips: Option<ZipTable>,
}

impl Agencies {
    /// Reads and checks the agencies file (and the ZIP table it names): the agencies, or
    /// every error as `file:line: why`, one a line. Warnings (agencies still
    /// `TO-BE-FILLED`) do not refuse the file.
    pub fn load(path: &Path) -> anyhow::Result<Agencies> {
        load::check(path).into_result()
    }

    /// The file it was read from.
    pub fn file(&self) -> &Path {
        &self.file
    }

    pub fn iter(&self) -> impl Iterator<Item = &Agency> {
        self.agencies.iter()
    }

    pub fn len(&self) -> usize {
        self.agencies.len()
    }

    pub fn is_empty(&self) -> bool {
        self.agencies.is_empty()
    }

    /// The agency that serves a county: there is always one, the loader sees to it.
    pub fn for_county(&self, county: County) -> &Agency {
        &self.agencies[self.by_county[county.index()]]
    }

    pub fn by_id(&self, id: &str) -> Option<&Agency> {
        self.agencies.iter().find(|a| a.id == id)
    }

    /// The ZIP table the file names, if it names one.
    pub fn zips(&self) -> Option<&ZipTable> {
        self.zips.as_ref()
    }

    /// The agency of a case, by the county the case data gives (`Fresno`, `Fresno
    /// County`): `None` for a county that is not California's, whose caller then goes to
    /// the statewide unit rather than nowhere.
    pub fn for_case_county(&self, county: &str) -> Option<&Agency> {
        County::parse(county).map(|c| self.for_county(c))
    }

    /// The agency whose own line takes a caller of agency `id`: only one that has a
    /// `reach` of its own. An agency still `TO-BE-FILLED`, or an id no longer in the file
    /// (a call that began before a restart), is `None`: the statewide unit answers, with
    /// its hours, as it did before the agencies file.
    pub fn answering(&self, id: &str) -> Option<&Agency> {
        self.by_id(id).filter(|a| a.reach.is_filled())
    }

    /// The agency a call's records belong to (its callback request, requests, payments,
    /// path): the one it was routed to, else its verified case's county's, whether or not
    /// that agency has a line of its own yet. `None`: the statewide unit's.
    pub fn of_call(&self, session: &crate::session::Session) -> Option<&Agency> {
        if let Some(id) = session.agency.as_deref() {
            return self.by_id(id);
        }
        let county = session
            .case
            .as_ref()
            .filter(|_| session.verified)?
            .county
            .as_deref()?;
        self.for_case_county(county)
    }

    /// The counties a ZIP code lies in (none outside California, or without a table).
    pub fn counties_for_zip(&self, zip: &str) -> &[County] {
        self.zips.as_ref().map_or(&[], |t| t.counties_for_zip(zip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fresno alone with a queue of its own, Kern alone still to be filled in, one more
    /// agency for the other 56 counties.
    fn agencies(dir: &Path) -> Agencies {
        std::fs::write(dir.join("h.txt"), "2026-12-25 Christmas Day\n").unwrap();
        let rest: Vec<String> = County::all()
            .filter(|c| !["Fresno", "Kern"].contains(&c.name()))
            .map(|c| format!("\"{c}\""))
            .collect();
        let agency = |id: &str, counties: &str, reach: &str| {
            format!(
                "[[agency]]\nid = \"{id}\"\nname_en = \"{id} en\"\nname_es = \"{id} es\"\n\
                 counties = [{counties}]\nreach = \"{reach}\"\nhours = \"mon-fri 08:00-17:00\"\n\
                 holidays = \"h.txt\"\n"
            )
        };
        let text = [
            agency("fresno", "\"Fresno\"", "queue:fresno-csu"),
            agency("kern", "\"Kern\"", load::TO_BE_FILLED),
            agency("rest", &rest.join(", "), "tel:+18669013212"),
        ]
        .join("\n");
        load::check_text(&text, &dir.join("agencies.toml"))
            .into_result()
            .unwrap()
    }

    #[test]
    fn a_case_goes_to_its_countys_agency_and_an_unfilled_one_to_the_statewide_unit() {
        let dir = tempfile::tempdir().unwrap();
        let a = agencies(dir.path());
        let fresno = a.for_case_county("Fresno County").map(|a| a.id.as_str());
        assert_eq!(fresno, Some("fresno"));
        assert_eq!(
            a.for_case_county("kern").map(|a| a.id.as_str()),
            Some("kern")
        );
        assert_eq!(
            a.for_case_county("Alpine").map(|a| a.id.as_str()),
            Some("rest")
        );
        // Case data from outside the state's 58 names no agency: the statewide unit.
        assert!(a.for_case_county("Washoe").is_none());
        assert!(a.for_case_county("").is_none());
        // Only an agency with a way to reach it answers its callers itself.
        assert_eq!(
            a.answering("fresno").map(|a| a.reach.clone()),
            Some(Reach::Queue("fresno-csu".into()))
        );
        assert!(a.answering("kern").is_none(), "TO-BE-FILLED: statewide");
        assert!(
            a.answering("gone").is_none(),
            "an id not in the file: statewide"
        );
    }

    #[test]
    fn an_agency_hands_over_to_its_own_reach_naming_itself_and_no_more() {
        let dir = tempfile::tempdir().unwrap();
        let a = agencies(dir.path());
        let mut session = crate::session::Session::new(
            crate::session::CallSid::parse("CA1").unwrap(),
            crate::words::prompts::Channel::Voice,
            0,
        );
        session.agency = Some("fresno".into());
        let ctx = Context::of(&session);
        let xml = |el: Element| {
            let mut r = crate::telephony::twiml::Response::new();
            r.push(el);
            r.to_xml()
        };
        let fresno = a.by_id("fresno").unwrap();
        let (el, to) = fresno
            .hand_over(
                None,
                &ctx,
                "https://x/after".into(),
                "https://x/wait".into(),
            )
            .unwrap()
            .unwrap();
        assert_eq!(to, "queue:fresno-csu");
        let queued = xml(el);
        assert!(queued.contains(">fresno-csu</Enqueue>"), "{queued}");
        // Through a TaskRouter workflow: the task names the agency's queue and the agency.
        let (el, _) = fresno
            .hand_over(Some("WW1"), &ctx, "a".into(), "w".into())
            .unwrap()
            .unwrap();
        let task = xml(el);
        assert!(task.contains("workflowSid=\"WW1\""), "{task}");
        assert!(task.contains("\"queue\":\"fresno-csu\""), "{task}");
        assert!(task.contains("\"agency\":\"fresno\""), "{task}");
        // A number: dialled, the context as it can carry it.
        let (el, to) = a
            .by_id("rest")
            .unwrap()
            .hand_over(None, &ctx, "a".into(), "w".into())
            .unwrap()
            .unwrap();
        assert_eq!(to, "+18669013212");
        assert!(xml(el).contains("<Number>+18669013212</Number>"));
        // Still to be filled in: nothing of its own, the statewide unit takes the caller.
        let kern = a.by_id("kern").unwrap();
        assert!(
            kern.hand_over(None, &ctx, "a".into(), "w".into())
                .unwrap()
                .is_none()
        );
        assert_eq!(kern.name(Lang::Es), "kern es");
    }

    #[test]
    fn counties_parse_in_any_case_with_or_without_county() {
        assert_eq!(County::all().count(), 58);
        assert_eq!(County::parse("Fresno").map(County::name), Some("Fresno"));
        assert_eq!(
            County::parse("san luis obispo county").map(County::name),
            Some("San Luis Obispo")
        );
        assert_eq!(
            County::parse(" Del Norte ").map(County::name),
            Some("Del Norte")
        );
        for bad in ["", "County", "Santa Clarita", "Washoe", "Fresno Cnty"] {
            assert_eq!(County::parse(bad), None, "{bad}");
        }
        let names: Vec<&str> = County::all().map(County::name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted, "COUNTIES is in alphabetical order");
    }
}
