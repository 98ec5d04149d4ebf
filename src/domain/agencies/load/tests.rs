use super::*;

/// A sound file: `first` serves the named counties, `rest` every other county.
fn file_with(first: &str, rest_reach: &str) -> String {
    let rest: Vec<String> = County::all()
        .filter(|c| !["Alpine", "Amador"].contains(&c.name()))
        .map(|c| format!("\"{c}\""))
        .collect();
    format!(
        "# agencies\n\
         [[agency]]\n\
         {first}\n\
         \n\
         [[agency]]\n\
         id = \"rest\"\n\
         name_en = \"The rest\"\n\
         name_es = \"El resto\"\n\
         counties = [{}]\n\
         reach = \"{rest_reach}\"\n\
         hours = \"mon-fri 08:00-17:00\"\n\
         holidays = \"h.txt\"\n",
        rest.join(", ")
    )
}

const SIERRA: &str = "id = \"central-sierra\"\n\
                      name_en = \"Central Sierra\"\n\
                      name_es = \"Sierra Central\"\n\
                      counties = [\"Alpine\", \"Amador\"]\n\
                      reach = \"queue:central-sierra\"\n\
                      hours = \"mon-fri 08:00-17:00\"\n\
                      holidays = \"h.txt\"";

/// Checks `text` as `dir/agencies.toml`, with a good `h.txt` beside it.
fn check_in(dir: &Path, text: &str) -> Checked {
    std::fs::write(dir.join("h.txt"), "2026-12-25 Christmas Day | la Navidad\n").unwrap();
    check_text(text, &dir.join("agencies.toml"))
}

/// The errors as (line, message).
fn errors(c: &Checked) -> Vec<(Option<usize>, String)> {
    c.errors().map(|p| (p.line, p.message.clone())).collect()
}

/// The one error that contains `want`, with its line.
fn one_error(c: &Checked, want: &str) -> Option<usize> {
    let found: Vec<_> = errors(c)
        .into_iter()
        .filter(|(_, m)| m.contains(want))
        .collect();
    assert_eq!(found.len(), 1, "'{want}' in {:#?}", errors(c));
    assert!(c.agencies.is_none(), "an error refuses the file");
    found[0].0
}

#[test]
fn a_sound_file_loads_with_lookups_by_county_and_id() {
    let dir = tempfile::tempdir().unwrap();
    let c = check_in(dir.path(), &file_with(SIERRA, "tel:+18669013212"));
    assert_eq!(errors(&c), []);
    assert_eq!(c.warnings().count(), 0);
    let a = c.agencies.unwrap();
    assert_eq!(a.len(), 2);
    let alpine = County::parse("Alpine").unwrap();
    let sierra = a.for_county(alpine);
    assert_eq!(sierra.id, "central-sierra");
    assert_eq!(sierra.line, 2, "the [[agency]] line");
    assert_eq!(sierra.reach, Reach::Queue("central-sierra".into()));
    assert_eq!(a.for_county(County::parse("Fresno").unwrap()).id, "rest");
    assert_eq!(
        a.by_id("rest").map(|r| r.reach.clone()),
        Some(Reach::Dial(Destination::Number("+18669013212".into())))
    );
    assert!(a.by_id("nope").is_none());
    // Its holidays close it: Christmas 2026, 10:00 Pacific.
    let christmas = chrono::DateTime::parse_from_rfc3339("2026-12-25T18:00:00Z")
        .unwrap()
        .to_utc();
    assert!(!sierra.hours.is_open(christmas));
    assert!(sierra.hours.is_open(christmas + chrono::Duration::days(3)));
    assert!(a.counties_for_zip("93721").is_empty(), "no ZIP table named");
}

#[test]
fn to_be_filled_is_a_warning_with_its_line_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let c = check_in(dir.path(), &file_with(SIERRA, TO_BE_FILLED));
    assert_eq!(errors(&c), []);
    let warnings: Vec<_> = c.warnings().map(|p| (p.line, p.message.clone())).collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].0, Some(16));
    assert!(
        warnings[0]
            .1
            .contains("agency 'rest': reach is TO-BE-FILLED")
    );
    let a = c.agencies.unwrap();
    assert!(!a.by_id("rest").unwrap().reach.is_filled());
}

#[test]
fn each_refusal_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let with = |from: &str, to: &str| {
        assert!(SIERRA.contains(from), "{from}");
        check_in(
            dir.path(),
            &file_with(&SIERRA.replace(from, to), "queue:rest"),
        )
    };
    // The first agency's lines: [[agency]] 2, id 3, name_en 4, name_es 5,
    // counties 6, reach 7, hours 8, holidays 9.
    let cases: &[(&str, &str, &str, Option<usize>)] = &[
        (
            "\"Amador\"",
            "\"Amador\", \"Fresno\"",
            "Fresno is in two agencies",
            Some(15),
        ),
        (
            "\"Amador\"",
            "\"Amadore\"",
            "'Amadore' is not a California county",
            Some(6),
        ),
        (
            "\"Amador\"",
            "\"Alpine\"",
            "Alpine is listed twice",
            Some(6),
        ),
        (
            "\"Alpine\", \"Amador\"",
            "\"Alpine\"",
            "Amador is in no agency",
            None,
        ),
        (
            "reach = \"queue:central-sierra\"\n",
            "",
            "has no way to reach it",
            Some(2),
        ),
        (
            "queue:central-sierra",
            "",
            "has no way to reach it",
            Some(2),
        ),
        (
            "queue:central-sierra",
            "tel:911",
            "not a phone number",
            Some(7),
        ),
        (
            "queue:central-sierra",
            "fax:5551234",
            "not a way to reach an agency",
            Some(7),
        ),
        (
            "queue:central-sierra",
            "workflow:WW12",
            "WW and 32 hex digits",
            Some(7),
        ),
        (
            "mon-fri 08:00-17:00",
            "mon-fry 08:00-17:00",
            "'fry' is not a day",
            Some(8),
        ),
        ("mon-fri 08:00-17:00", "weekdays", "expected DAYS", Some(8)),
        ("h.txt", "missing.txt", "holidays: ", Some(9)),
        (
            "id = \"central-sierra\"",
            "id = \"rest\"",
            "already the id of the agency at line 2",
            Some(12),
        ),
        (
            "id = \"central-sierra\"",
            "id = \"Central Sierra\"",
            "lowercase letters",
            Some(3),
        ),
        (
            "name_es = \"Sierra Central\"\n",
            "",
            "has no name_es",
            Some(2),
        ),
        (
            "counties = [\"Alpine\", \"Amador\"]",
            "counties = []",
            "serves no county",
            Some(6),
        ),
        (
            "holidays = \"h.txt\"",
            "holidays = \"h.txt\"\ntty_phone = \"911\"",
            "tty_phone '911'",
            Some(10),
        ),
        (
            "holidays = \"h.txt\"",
            "holidays = \"h.txt\"\ncallback_from = \"866\"",
            "not an E.164",
            Some(10),
        ),
        (
            "holidays = \"h.txt\"",
            "holidays = \"h.txt\"\ncallback_max_waiting = -1",
            "callback_max_waiting -1 is not a number of callers",
            Some(10),
        ),
        ("hours =", "houres =", "unknown field `houres`", Some(8)),
        (
            "hours = \"mon-fri 08:00-17:00\"",
            "hours = mon-fri",
            "not valid",
            Some(8),
        ),
    ];
    for (from, to, want, line) in cases {
        let c = with(from, to);
        assert_eq!(one_error(&c, want), *line, "{want}: {:#?}", errors(&c));
    }
}

#[test]
fn a_bad_holidays_file_is_refused_with_its_own_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.txt"), "# x\n2026-13-01 Nope\n").unwrap();
    let c = check_in(
        dir.path(),
        &file_with(&SIERRA.replace("h.txt", "bad.txt"), "queue:rest"),
    );
    let line = one_error(&c, "bad.txt: line 2: '2026-13-01' is not a date");
    assert_eq!(line, Some(9));
}

#[test]
fn every_error_is_reported_not_only_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let text = file_with(
        &SIERRA
            .replace("\"Amador\"", "\"Amadore\"")
            .replace("mon-fri 08:00", "mon-fri 8"),
        "nowhere",
    );
    let c = check_in(dir.path(), &text);
    let lines: Vec<Option<usize>> = errors(&c).into_iter().map(|(l, _)| l).collect();
    assert_eq!(
        lines,
        [Some(6), Some(8), Some(16), None],
        "{:#?}",
        errors(&c)
    );
    let shown = c.into_result().unwrap_err().to_string();
    assert!(
        shown.contains("agencies.toml:6: 'Amadore' is not a California county"),
        "{shown}"
    );
    assert!(
        shown.contains("agencies.toml: Amador is in no agency"),
        "{shown}"
    );
}

#[test]
fn the_zip_table_is_read_from_beside_the_file_and_its_errors_name_its_lines() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("z.csv"),
        "zip,county\n96120,Alpine\n93721,Fresno\n",
    )
    .unwrap();
    let text = format!("zips = \"z.csv\"\n{}", file_with(SIERRA, "queue:rest"));
    let a = check_in(dir.path(), &text).agencies.unwrap();
    let alpine = a.counties_for_zip("96120");
    assert_eq!(alpine.len(), 1);
    assert_eq!(a.for_county(alpine[0]).id, "central-sierra");
    assert!(a.counties_for_zip("89501").is_empty());

    std::fs::write(
        dir.path().join("z.csv"),
        "zip,county\n96120,Alpine\n9372,Fresno\n",
    )
    .unwrap();
    let c = check_in(dir.path(), &text);
    let p = c.errors().next().unwrap();
    assert_eq!(
        (p.file.clone(), p.line),
        (dir.path().join("z.csv"), Some(3))
    );
    assert!(c.agencies.is_none());
}

#[test]
fn the_shipped_file_covers_all_58_counties_each_in_exactly_one_agency() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let c = check(&root.join("agencies/california.toml"));
    assert_eq!(errors(&c), []);
    let warnings = c.warnings().count();
    let a = c.agencies.unwrap();
    let mut seen: Vec<County> = a.iter().flat_map(|x| x.counties.clone()).collect();
    assert_eq!(seen.len(), 58, "58 county entries in all");
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 58, "no county twice");
    for county in County::all() {
        assert!(a.for_county(county).counties.contains(&county), "{county}");
    }
    // The regional agencies the public pages confirm.
    for (county, with) in [
        ("Tuolumne", "Alpine"),
        ("Yolo", "Colusa"),
        ("Mono", "Inyo"),
        ("Trinity", "Humboldt"),
    ] {
        let of = |n: &str| a.for_county(County::parse(n).unwrap()).id.clone();
        assert_eq!(of(county), of(with), "{county} and {with}");
    }
    // No number is invented: every agency's way in is still the agency's to give,
    // and every one is warned about.
    assert!(a.iter().all(|x| x.reach == Reach::ToBeFilled));
    assert_eq!(warnings, a.len());
    // It names the ZIP table, which answers for a county.
    let fresno = a.counties_for_zip("93721");
    assert_eq!(fresno, [County::parse("Fresno").unwrap()]);
}

#[test]
fn reach_forms() {
    assert_eq!(parse_reach(" TO-BE-FILLED "), Ok(Reach::ToBeFilled));
    assert_eq!(
        parse_reach("queue:csu_1.a"),
        Ok(Reach::Queue("csu_1.a".into()))
    );
    assert_eq!(
        parse_reach("workflow:WW0123456789abcdef0123456789abcdef"),
        Ok(Reach::Workflow("WW0123456789abcdef0123456789abcdef".into()))
    );
    assert_eq!(
        parse_reach("client:fresno_desk"),
        Ok(Reach::Dial(Destination::Client("fresno_desk".into())))
    );
    assert!(matches!(
        parse_reach("sip:csu@pbx.example.org"),
        Ok(Reach::Dial(_))
    ));
    for bad in [
        "queue:",
        "queue:a b",
        "tel:",
        "sip:<x>",
        "workflow:WX0123456789abcdef0123456789abcdef",
        "+18669013212",
    ] {
        assert!(parse_reach(bad).is_err(), "{bad}");
    }
}
