//! The report's charts as SVG, written by hand: the staff console shows them as images,
//! so the browser needs no chart framework and runs no code of ours to draw them. Every
//! piece of text is escaped, and every bar carries its number as text (colour is never
//! the only way to read a figure).

use std::fmt::Write;

use quick_xml::escape::escape;

use super::Report;

/// A chart of the report, by the name the staff API serves it under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chart {
    /// Calls by outcome: contained, transferred, callbacks, abandoned (columns).
    Outcomes,
    /// Abandoned calls by the step they ended on (horizontal bars, most first).
    DropOff,
}

/// Drawn in US federal web design colours, dark enough for white-on and on-white text.
const COLOURS: [&str; 4] = ["#00a91c", "#005ea2", "#8168b3", "#d54309"];
const INK: &str = "#1b1b1b";
const MUTED: &str = "#565c65";
const GRID: &str = "#dfe1e2";
const WIDTH: f64 = 560.0;
/// The most steps the drop-off chart draws; the rest are counted in a line below it
/// (the console's table lists them all).
const MAX_ROWS: usize = 12;
/// The longest step name drawn in full; longer ones end in "…" (the bar's tooltip has it).
const MAX_LABEL_CHARS: usize = 28;

impl Chart {
    /// Every chart, by name.
    pub const ALL: [(&'static str, Chart); 2] =
        [("outcomes", Chart::Outcomes), ("drop-off", Chart::DropOff)];

    pub fn parse(name: &str) -> Option<Chart> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
    }

    /// The chart as a standalone SVG document; `period` ("the last 7 days") goes under
    /// the title.
    pub fn svg(self, report: &Report, period: &str) -> String {
        match self {
            Chart::Outcomes => {
                let bars = [
                    ("Contained", report.contained),
                    ("Transferred", report.transferred),
                    ("Callbacks", report.callbacks),
                    ("Abandoned", report.abandoned),
                ];
                columns(
                    &format!("Calls by outcome ({} calls)", report.calls),
                    period,
                    &bars,
                    report.calls,
                )
            }
            Chart::DropOff => {
                let mut rows: Vec<(&str, i64)> = report
                    .drop_off
                    .iter()
                    .map(|(k, v)| (k.as_str(), *v))
                    .collect();
                rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
                bars("Abandoned calls by the step they ended on", period, &rows)
            }
        }
    }
}

/// The document around a chart's body: size, title and description for screen readers,
/// the heading and the period.
fn document(height: f64, title: &str, period: &str, body: &str) -> String {
    let title = escape(title);
    let period = escape(period);
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" aria-labelledby=\"t d\" \
         font-family=\"system-ui, sans-serif\" font-size=\"13\">\n\
         <title id=\"t\">{title}</title>\n<desc id=\"d\">{period}</desc>\n\
         <rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n\
         <text x=\"16\" y=\"22\" font-size=\"15\" font-weight=\"600\" fill=\"{INK}\">{title}</text>\n\
         <text x=\"16\" y=\"40\" fill=\"{MUTED}\">{period}</text>\n{body}</svg>\n"
    )
}

/// The step between grid lines: 1, 2 or 5 times a power of ten, about four lines up to
/// `max` (whole calls, so never less than 1).
fn grid_step(max: i64) -> i64 {
    let rough = (max as f64 / 4.0).max(1.0);
    let mut unit = 1i64;
    while (unit as f64) * 10.0 <= rough {
        unit *= 10;
    }
    [1, 2, 5, 10]
        .into_iter()
        .map(|m| m * unit)
        .find(|s| *s as f64 >= rough)
        .unwrap_or(10 * unit)
}

/// "2 (33%)": the count and its share of `total`.
fn with_share(value: i64, total: i64) -> String {
    if total > 0 {
        format!("{value} ({:.0}%)", value as f64 * 100.0 / total as f64)
    } else {
        value.to_string()
    }
}

/// Vertical columns, one a category, each labelled below and its value above.
fn columns(title: &str, period: &str, bars: &[(&str, i64)], total: i64) -> String {
    let (left, right, top, plot_h) = (56.0, 16.0, 64.0, 200.0);
    let base = top + plot_h;
    let max = bars.iter().map(|b| b.1).max().unwrap_or(0).max(1);
    let step = grid_step(max);
    let ceiling = (max + step - 1) / step * step;
    let scale = plot_h / ceiling as f64;
    let mut body = String::new();
    let mut g = 0;
    while g <= ceiling {
        let y = base - g as f64 * scale;
        let _ = writeln!(
            body,
            "<line x1=\"{left}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"{GRID}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"{MUTED}\">{g}</text>",
            WIDTH - right,
            left - 8.0,
            y + 4.0
        );
        g += step;
    }
    let slot = (WIDTH - left - right) / bars.len().max(1) as f64;
    let bar_w = slot * 0.6;
    for (i, (label, value)) in bars.iter().enumerate() {
        let x = left + i as f64 * slot + (slot - bar_w) / 2.0;
        let h = *value as f64 * scale;
        let centre = x + bar_w / 2.0;
        let label = escape(*label);
        let _ = writeln!(
            body,
            "<g class=\"bar\"><title>{label}: {value}</title>\
             <rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar_w:.1}\" height=\"{h:.1}\" fill=\"{}\"/>\
             <text x=\"{centre:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"{INK}\">{}</text>\
             <text x=\"{centre:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"{INK}\">{label}</text></g>",
            base - h,
            COLOURS[i % COLOURS.len()],
            base - h - 6.0,
            with_share(*value, total),
            base + 20.0
        );
    }
    let _ = writeln!(
        body,
        "<line x1=\"{left}\" x2=\"{:.1}\" y1=\"{base}\" y2=\"{base}\" stroke=\"{INK}\"/>",
        WIDTH - right
    );
    document(base + 36.0, title, period, &body)
}

/// Horizontal bars, one a row, the name on the left and the value at the bar's end.
fn bars(title: &str, period: &str, rows: &[(&str, i64)]) -> String {
    let (top, row_h, bar_h) = (60.0, 28.0, 18.0);
    if rows.is_empty() {
        let body = format!(
            "<text x=\"16\" y=\"{:.1}\" fill=\"{INK}\">No abandoned calls in this period.</text>\n",
            top + 16.0
        );
        return document(top + 36.0, title, period, &body);
    }
    let shown = &rows[..rows.len().min(MAX_ROWS)];
    let name = |s: &str| -> String {
        if s.chars().count() > MAX_LABEL_CHARS {
            let cut: String = s.chars().take(MAX_LABEL_CHARS - 1).collect();
            format!("{cut}…")
        } else {
            s.to_string()
        }
    };
    let longest = shown
        .iter()
        .map(|(s, _)| name(s).chars().count())
        .max()
        .unwrap_or(0);
    // About 7.5 px a character at 13 px: enough for the names, never most of the width.
    let left = (16.0 + longest as f64 * 7.5 + 12.0).min(WIDTH / 2.0);
    let room = WIDTH - left - 56.0;
    let max = shown.iter().map(|r| r.1).max().unwrap_or(0).max(1);
    let mut body = String::new();
    for (i, (step, value)) in shown.iter().enumerate() {
        let y = top + i as f64 * row_h;
        let w = (*value as f64 / max as f64 * room).max(1.0);
        let full = escape(*step);
        let _ = writeln!(
            body,
            "<g class=\"bar\"><title>{full}: {value}</title>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"{INK}\">{}</text>\
             <rect x=\"{left:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{bar_h}\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" fill=\"{INK}\">{value}</text></g>",
            left - 8.0,
            y + 13.0,
            escape(name(step)),
            COLOURS[3],
            left + w + 6.0,
            y + 13.0
        );
    }
    let mut height = top + shown.len() as f64 * row_h;
    if rows.len() > shown.len() {
        let rest: i64 = rows[shown.len()..].iter().map(|r| r.1).sum();
        let _ = writeln!(
            body,
            "<text x=\"16\" y=\"{:.1}\" fill=\"{MUTED}\">and {rest} more at {} other steps</text>",
            height + 12.0,
            rows.len() - shown.len()
        );
        height += 24.0;
    }
    let _ = writeln!(
        body,
        "<line x1=\"{left:.1}\" x2=\"{left:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"{INK}\"/>",
        top - 4.0,
        top + shown.len() as f64 * row_h - 6.0
    );
    document(height + 12.0, title, period, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(drop_off: &[(&str, i64)]) -> Report {
        Report {
            calls: 6,
            contained: 2,
            transferred: 1,
            callbacks: 1,
            abandoned: 2,
            containment_rate: 2.0 / 6.0,
            drop_off: drop_off.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            verification: super::super::Verification {
                attempts: 1,
                succeeded: 1,
                locked: 0,
            },
            repeat_callers_24h: 0,
            by_language: Default::default(),
            by_channel: Default::default(),
            average_ivr_seconds: 40.0,
            load_test_calls: 0,
            load_tests_included: false,
            agency: None,
            by_agency: Vec::new(),
            zip_step: Default::default(),
        }
    }

    use quick_xml::events::Event;

    /// The text of each element of an SVG, checking it is well-formed XML on the way.
    fn texts(svg: &str) -> Vec<String> {
        let mut reader = quick_xml::Reader::from_str(svg);
        let mut out: Vec<String> = Vec::new();
        let mut open: Vec<usize> = Vec::new();
        loop {
            let into = open.last().copied();
            match reader.read_event() {
                Ok(Event::Eof) => break,
                Ok(Event::Start(_)) => {
                    open.push(out.len());
                    out.push(String::new());
                }
                Ok(Event::End(_)) => {
                    open.pop();
                }
                // Text outside the root is only the last line's end.
                Ok(Event::Text(t)) => {
                    if let Some(i) = into {
                        out[i].push_str(&t)
                    }
                }
                Ok(Event::GeneralRef(r)) => out[into.expect("in an element")].push_str(match &*r {
                    "lt" => "<",
                    "gt" => ">",
                    "amp" => "&",
                    "quot" => "\"",
                    "apos" => "'",
                    other => panic!("an unexpected entity {other}"),
                }),
                Ok(_) => {}
                Err(e) => panic!("not XML ({e}): {svg}"),
            }
        }
        out
    }

    #[test]
    fn grid_steps_are_round() {
        let steps: Vec<i64> = [1, 3, 4, 9, 17, 40, 180, 999]
            .into_iter()
            .map(grid_step)
            .collect();
        assert_eq!(steps, [1, 1, 1, 5, 5, 10, 50, 500]);
    }

    #[test]
    fn outcome_columns_carry_their_figures_and_shares() {
        let svg = Chart::Outcomes.svg(&report(&[]), "the last 24 hours");
        let all = texts(&svg).join("|");
        for want in [
            "Calls by outcome (6 calls)",
            "the last 24 hours",
            "Contained",
            "2 (33%)",
            "Transferred",
            "1 (17%)",
            "Abandoned",
        ] {
            assert!(all.contains(want), "{want} not in {all}");
        }
        assert_eq!(svg.matches("<rect x=").count(), 4);
    }

    #[test]
    fn names_are_escaped_and_long_ones_shortened() {
        let long = "a-step-with-a-name-far-too-long-to-draw";
        let svg = Chart::DropOff.svg(
            &report(&[("<script>&", 3), (long, 1)]),
            "the \"last\" <7> days",
        );
        assert!(!svg.contains("<script>"), "{svg}");
        let all = texts(&svg);
        assert!(all.iter().any(|t| t == "<script>&"), "{all:?}");
        assert!(all.iter().any(|t| t == "the \"last\" <7> days"), "{all:?}");
        assert!(all.iter().any(|t| t.ends_with('…') && t.len() < long.len()));
        assert!(all.iter().any(|t| t == &format!("{long}: 1")), "{all:?}");
        // Most first.
        let first = all.iter().position(|t| t == "<script>&: 3");
        let second = all.iter().position(|t| t == &format!("{long}: 1"));
        assert!(first < second);
    }

    #[test]
    fn an_empty_period_says_so_and_many_steps_are_summed() {
        let svg = Chart::DropOff.svg(&report(&[]), "the last 7 days");
        assert!(texts(&svg).iter().any(|t| t.contains("No abandoned calls")));
        let many: Vec<(String, i64)> = (0..15).map(|i| (format!("step-{i:02}"), 2)).collect();
        let borrowed: Vec<(&str, i64)> = many.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        let svg = Chart::DropOff.svg(&report(&borrowed), "p");
        assert!(
            texts(&svg)
                .iter()
                .any(|t| t == "and 6 more at 3 other steps"),
            "{svg}"
        );
        assert_eq!(Chart::parse("drop-off"), Some(Chart::DropOff));
        assert_eq!(Chart::parse("pie"), None);
    }
}
