//! The ZIP-code-to-county table (`agencies/california-zip-counties.csv`): a caller who
//! has not verified says or keys a ZIP code, and the line finds the county, hence the
//! agency. Data, not code: `agencies/zip/generate.py` writes it from a published source
//! (its header names which), and an agency may add lines by hand.
//!
//! The format: `#` comments and blank lines skipped, an optional `zip,county` header,
//! then one `ZIP,County` line per ZIP code; a ZIP code across a county line lists its
//! counties with `;` (`95620,Solano;Yolo`), and the routing asks such a caller which.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context;

use super::County;

/// ZIP code (as a number) to the counties it lies in.
#[derive(Debug, Clone, Default)]
pub struct ZipTable {
    zips: HashMap<u32, Vec<County>>,
}

impl ZipTable {
    /// Reads the table; an error names the file and line of each bad line.
    pub fn load(path: &Path) -> anyhow::Result<ZipTable> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read the ZIP table", path.display()))?;
        ZipTable::parse(&text).map_err(|errors| {
            let lines: Vec<String> = errors
                .iter()
                .map(|(line, why)| format!("{}:{line}: {why}", path.display()))
                .collect();
            anyhow::anyhow!(lines.join("\n"))
        })
    }

    /// Parses the table's text, or every bad line as (line number, why).
    pub fn parse(text: &str) -> Result<ZipTable, Vec<(usize, String)>> {
        let mut zips = HashMap::new();
        let mut errors = Vec::new();
        for (n, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())) {
            if line.is_empty() || line.starts_with('#') || line.eq_ignore_ascii_case("zip,county") {
                continue;
            }
            match parse_line(line) {
                Ok((zip, counties)) => {
                    if zips.insert(zip, counties).is_some() {
                        errors.push((n, format!("ZIP code {zip:05} is listed twice")));
                    }
                }
                Err(why) => errors.push((n, why)),
            }
        }
        if errors.is_empty() {
            Ok(ZipTable { zips })
        } else {
            Err(errors)
        }
    }

    /// How many ZIP codes the table holds.
    pub fn len(&self) -> usize {
        self.zips.len()
    }

    pub fn is_empty(&self) -> bool {
        self.zips.is_empty()
    }

    /// How many ZIP codes lie in more than one county.
    pub fn spanning(&self) -> usize {
        self.zips.values().filter(|c| c.len() > 1).count()
    }

    /// The counties a ZIP code lies in: none for a ZIP code outside California (or not
    /// in the table), several for one across a county line. Takes `95814`,
    /// `95814-1234` or `958141234`; anything else answers none.
    pub fn counties_for_zip(&self, zip: &str) -> &[County] {
        let digits: String = zip.trim().chars().filter(|c| *c != '-').collect();
        if !(digits.len() == 5 || digits.len() == 9) || !digits.bytes().all(|b| b.is_ascii_digit())
        {
            return &[];
        }
        digits[..5]
            .parse::<u32>()
            .ok()
            .and_then(|z| self.zips.get(&z))
            .map_or(&[], Vec::as_slice)
    }
}

fn parse_line(line: &str) -> Result<(u32, Vec<County>), String> {
    let (zip, counties) = line
        .split_once(',')
        .ok_or_else(|| format!("'{line}': expected ZIP,County"))?;
    let zip = zip.trim();
    if zip.len() != 5 || !zip.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("'{zip}' is not a ZIP code (5 digits)"));
    }
    let counties = counties
        .split(';')
        .map(|c| {
            County::parse(c).ok_or_else(|| format!("'{}' is not a California county", c.trim()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let zip = zip
        .parse()
        .map_err(|_| format!("'{zip}' is not a ZIP code"))?;
    Ok((zip, counties))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn county(name: &str) -> County {
        County::parse(name).unwrap()
    }

    #[test]
    fn a_zip_in_one_county_answers_it_and_one_outside_california_answers_none() {
        let t = ZipTable::parse("# c\nzip,county\n93721,Fresno\n95620,Solano;Yolo\n").unwrap();
        assert_eq!(t.counties_for_zip("93721"), [county("Fresno")]);
        assert_eq!(t.counties_for_zip(" 93721-0001 "), [county("Fresno")]);
        assert_eq!(
            t.counties_for_zip("95620"),
            [county("Solano"), county("Yolo")]
        );
        assert_eq!(t.spanning(), 1);
        for outside in ["89501", "10001", "9372", "abcde", "937211", ""] {
            assert!(t.counties_for_zip(outside).is_empty(), "{outside}");
        }
    }

    #[test]
    fn bad_lines_are_each_named_by_line() {
        let errors = ZipTable::parse(
            "zip,county\n9372,Fresno\n93721,Washoe\n93721\n93722,Fresno\n93722,Kern\n",
        )
        .unwrap_err();
        let got: Vec<(usize, bool)> = errors
            .iter()
            .map(|(n, why)| (*n, !why.is_empty()))
            .collect();
        assert_eq!(got, [(2, true), (3, true), (4, true), (6, true)]);
        assert!(errors[0].1.contains("not a ZIP code"), "{errors:?}");
        assert!(errors[1].1.contains("'Washoe' is not a California county"));
        assert!(errors[2].1.contains("expected ZIP,County"));
        assert!(errors[3].1.contains("listed twice"));
    }

    #[test]
    fn the_shipped_table_covers_every_county_and_answers_known_zips() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("agencies/california-zip-counties.csv");
        let t = ZipTable::load(&path).unwrap();
        assert!(t.len() > 2500, "{} ZIP codes", t.len());
        // Fresno's downtown, Beverly Hills, Bishop, Yreka.
        assert_eq!(t.counties_for_zip("93721"), [county("Fresno")]);
        assert_eq!(t.counties_for_zip("90210"), [county("Los Angeles")]);
        assert_eq!(t.counties_for_zip("93514"), [county("Inyo")]);
        assert_eq!(t.counties_for_zip("96097"), [county("Siskiyou")]);
        // Reno, Nevada; Medford, Oregon; New York.
        for outside in ["89501", "97501", "10001"] {
            assert!(t.counties_for_zip(outside).is_empty(), "{outside}");
        }
        let mut covered: Vec<County> = t.zips.values().flatten().copied().collect();
        covered.sort();
        covered.dedup();
        assert_eq!(covered.len(), 58, "every county has a ZIP code");
    }
}
