//! Dates, times and office hours the way people say them: "Monday, January 2, at 8
//! a.m.", "el lunes 2 de enero a las 8 de la mañana", "every day from 8 a.m. to 4 p.m.".

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};

use crate::words::prompts::Lang;

const EN_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const ES_MONTHS: [&str; 12] = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
];

/// "January 14, 2027"; "14 de enero de 2027" ("primero de" for the first, as it is said).
pub fn date(d: NaiveDate, lang: Lang) -> String {
    let m = d.month0() as usize;
    match lang {
        Lang::En => format!("{} {}, {}", EN_MONTHS[m], d.day(), d.year()),
        Lang::Es => {
            let day = if d.day() == 1 {
                "primero".to_string()
            } else {
                d.day().to_string()
            };
            format!("{day} de {} de {}", ES_MONTHS[m], d.year())
        }
    }
}

/// "9:30 a.m.", "8 a.m.", "noon", "midnight"; "las 9:30 de la mañana", "la 1 de la
/// tarde", "el mediodía", "la medianoche" (to follow "a").
pub fn time(t: NaiveDateTime, lang: Lang) -> String {
    let (h, m) = (t.hour(), t.minute());
    let clock = |h12: u32| {
        if m == 0 {
            h12.to_string()
        } else {
            format!("{h12}:{m:02}")
        }
    };
    let h12 = match h % 12 {
        0 => 12,
        x => x,
    };
    match lang {
        Lang::En => match (h, m) {
            (0, 0) => "midnight".into(),
            (12, 0) => "noon".into(),
            _ => format!("{} {}", clock(h12), if h < 12 { "a.m." } else { "p.m." }),
        },
        Lang::Es => match (h, m) {
            (0, 0) => "la medianoche".into(),
            (12, 0) => "el mediodía".into(),
            _ => {
                let article = if h12 == 1 { "la" } else { "las" };
                let part = match h {
                    0..=5 => "de la madrugada",
                    6..=11 => "de la mañana",
                    12 => "del mediodía",
                    13..=19 => "de la tarde",
                    _ => "de la noche",
                };
                format!("{article} {} {part}", clock(h12))
            }
        },
    }
}

/// "January 14, 2027, at 9:30 a.m."; "14 de enero de 2027 a las 9:30 de la mañana".
pub fn date_time(t: NaiveDateTime, lang: Lang) -> String {
    let d = date(t.date(), lang);
    match lang {
        Lang::En => format!("{d}, at {}", time(t, lang)),
        Lang::Es => {
            let at = time(t, lang);
            // "a el" contracts to "al".
            match at.strip_prefix("el ") {
                Some(rest) => format!("{d} al {rest}"),
                None => format!("{d} a {at}"),
            }
        }
    }
}

const EN_DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const ES_DAYS: [&str; 7] = [
    "lunes",
    "martes",
    "miércoles",
    "jueves",
    "viernes",
    "sábado",
    "domingo",
];

/// When the office opens next, relative to `now` (both local): "today at 8 a.m.",
/// "tomorrow at 8 a.m.", "Monday, January 2, at 8 a.m."; "hoy a las 8 de la mañana",
/// "mañana a las 8 de la mañana", "el lunes 2 de enero a las 8 de la mañana".
pub fn next_open(now: NaiveDateTime, open: NaiveDateTime, lang: Lang) -> String {
    let days_ahead = (open.date() - now.date()).num_days();
    let at = time(open, lang);
    let weekday = open.weekday().num_days_from_monday() as usize;
    let m = open.month0() as usize;
    match lang {
        Lang::En => {
            let day = match days_ahead {
                0 => "today".to_string(),
                1 => "tomorrow".to_string(),
                _ => format!("{}, {} {},", EN_DAYS[weekday], EN_MONTHS[m], open.day()),
            };
            format!("{day} at {at}")
        }
        Lang::Es => {
            let day = match days_ahead {
                0 => "hoy".to_string(),
                1 => "mañana".to_string(),
                _ => {
                    let d = if open.day() == 1 {
                        "primero".to_string()
                    } else {
                        open.day().to_string()
                    };
                    format!("el {} {d} de {}", ES_DAYS[weekday], ES_MONTHS[m])
                }
            };
            match at.strip_prefix("el ") {
                Some(rest) => format!("{day} al {rest}"),
                None => format!("{day} a {at}"),
            }
        }
    }
}

/// The office hours as a caller hears them, from the configured rules (so a prompt
/// never repeats them by hand): "every day from 8 a.m. to 4 p.m.", "Monday through
/// Friday from 7:30 a.m. to 5 p.m., and on Saturday from 9 a.m. to noon"; "todos los
/// días de las 8 de la mañana a las 4 de la tarde"; "at no set hours for now" when the
/// unit never opens.
pub fn office_hours(hours: &crate::clock::hours::Hours, lang: Lang) -> Option<String> {
    let parts: Vec<String> = hours
        .weekly()
        .iter()
        .map(|(days, open, close)| {
            let day = chrono::NaiveDate::MIN;
            let (open, close) = (day.and_time(*open), day.and_time(*close));
            match lang {
                Lang::En => format!(
                    "{} from {} to {}",
                    days_words(days, lang),
                    time(open, lang),
                    time(close, lang)
                ),
                Lang::Es => format!(
                    "{} {} {}",
                    days_words(days, lang),
                    es_contract("de", &time(open, lang)),
                    es_contract("a", &time(close, lang))
                ),
            }
        })
        .collect();
    match parts.len() {
        // Never open (`CASELINE_HOURS=closed`): still a sentence, so the prompts that
        // carry the hours (and the office's number) are said.
        0 => Some(
            match lang {
                Lang::En => "at no set hours for now",
                Lang::Es => "sin horario fijo por ahora",
            }
            .to_string(),
        ),
        1 => parts.into_iter().next(),
        n => {
            let and = match lang {
                Lang::En => ", and ",
                Lang::Es => " y ",
            };
            Some(format!(
                "{}{and}{}",
                parts[..n - 1].join(", "),
                parts[n - 1]
            ))
        }
    }
}

/// "de" or "a" before a Spanish time: "de las 8", "del mediodía", "al mediodía".
fn es_contract(preposition: &str, time: &str) -> String {
    match time.strip_prefix("el ") {
        Some(rest) => format!("{preposition}l {rest}"),
        None => format!("{preposition} {time}"),
    }
}

/// The days of one rule: "every day", "Monday through Friday", "on Saturday",
/// "on Monday, Wednesday and Friday"; "todos los días", "de lunes a viernes", "el
/// sábado", "el lunes, miércoles y viernes".
fn days_words(days: &[bool; 7], lang: Lang) -> String {
    let names = match lang {
        Lang::En => EN_DAYS,
        Lang::Es => ES_DAYS,
    };
    if days.iter().all(|d| *d) {
        return match lang {
            Lang::En => "every day".into(),
            Lang::Es => "todos los días".into(),
        };
    }
    let on: Vec<usize> = (0..7).filter(|&i| days[i]).collect();
    let (first, last) = (on[0], on[on.len() - 1]);
    if on.len() > 2 && last - first + 1 == on.len() {
        return match lang {
            Lang::En => format!("{} through {}", names[first], names[last]),
            Lang::Es => format!("de {} a {}", names[first], names[last]),
        };
    }
    let listed: Vec<&str> = on.iter().map(|&i| names[i]).collect();
    let list = match listed.len() {
        1 => listed[0].to_string(),
        n => {
            let and = match lang {
                Lang::En => " and ",
                Lang::Es => " y ",
            };
            format!("{}{and}{}", listed[..n - 1].join(", "), listed[n - 1])
        }
    };
    match lang {
        Lang::En => format!("on {list}"),
        Lang::Es => format!("el {list}"),
    }
}
