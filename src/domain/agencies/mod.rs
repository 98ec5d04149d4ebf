//! The local child support agencies behind one statewide line: who serves which county,
//! how each is reached and when a person answers there. California runs child support
//! by county and regional agencies, and a caller's questions belong with the agency of
//! their county; this module holds that map as data (`agencies/california.toml`) so a
//! state changes it without a release.
//!
//! Nothing in the server loads it yet (routing callers by it is to come): without the
//! file the line is one unit, as before. [`Agencies::load`] is what the server will call;
//! `caseline agencies check` runs the same checks and prints every problem.
//!
//! - [`load`]: reading the file, every refusal with its file and line;
//! - [`zip`]: the ZIP-code-to-county table that routes a caller who has not verified.

pub mod load;
pub mod zip;

use std::path::{Path, PathBuf};

use crate::clock::hours::Hours;
use crate::domain::transfer::Destination;

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
    /// Where the agency starts in the file, for messages about it.
    pub line: usize,
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

    /// The counties a ZIP code lies in (none outside California, or without a table).
    pub fn counties_for_zip(&self, zip: &str) -> &[County] {
        self.zips.as_ref().map_or(&[], |t| t.counties_for_zip(zip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
