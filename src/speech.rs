//! Values as a listener (or a TTY reader) takes them in: amounts in words, dates and
//! times the way people say them in English and in Spanish, case endings and phone
//! numbers digit by digit; on a TTY, the usual written forms.

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::prompts::{Channel, Lang};

/// A typed value for a prompt placeholder.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Value {
    Money(Decimal),
    Date(NaiveDate),
    /// Local time at the agency (already in its time zone).
    DateTime(NaiveDateTime),
    /// Read one digit at a time (case endings).
    Digits(String),
    /// A phone number, said in groups (or written with dashes on a TTY).
    Phone(String),
    Text(String),
    /// Another prompt's words (a stage, a payment source), said in the caller's language.
    Prompt(String),
    /// Items, each said with `prompt` filled from the item's own values, one after the
    /// other (the last five payments, the cases to choose from).
    List {
        prompt: String,
        items: Vec<std::collections::BTreeMap<String, Value>>,
    },
}

impl Value {
    /// The words for a plain value; `Prompt` and `List` need the catalog and are said by
    /// [`Value::render`].
    pub fn speak(&self, lang: Lang, channel: Channel) -> String {
        match self {
            Value::Money(m) => money(*m, lang, channel),
            Value::Date(d) => date(*d, lang),
            Value::DateTime(t) => date_time(*t, lang),
            Value::Digits(d) => digits(d, channel),
            Value::Phone(n) => phone(n, channel),
            Value::Text(t) => t.clone(),
            Value::Prompt(_) | Value::List { .. } => String::new(),
        }
    }

    /// The words for any value, using the prompt catalog where needed.
    pub fn render(
        &self,
        catalog: &crate::prompts::Catalog,
        lang: Lang,
        channel: Channel,
    ) -> String {
        match self {
            Value::Prompt(id) => catalog.render(id, lang, channel, &()),
            Value::List { prompt, items } => items
                .iter()
                .map(|item| catalog.render(prompt, lang, channel, &Items(item, catalog)))
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" "),
            other => other.speak(lang, channel),
        }
    }
}

struct Items<'a>(
    &'a std::collections::BTreeMap<String, Value>,
    &'a crate::prompts::Catalog,
);

impl crate::prompts::Fill for Items<'_> {
    fn fill(&self, name: &str, lang: Lang, channel: Channel) -> Option<String> {
        self.0.get(name).map(|v| v.render(self.1, lang, channel))
    }
}

/// Digits from speech recognition: "one two three", "1 2 3", "123-45", "uno dos
/// tres", "oh" for zero. `None` when anything else was said.
pub fn spoken_digits(speech: &str) -> Option<String> {
    let mut out = String::new();
    let cleaned = speech.to_lowercase().replace(['-', ',', '.', '#'], " ");
    for word in cleaned.split_whitespace() {
        if word.chars().all(|c| c.is_ascii_digit()) {
            out.push_str(word);
            continue;
        }
        let d = match word {
            "zero" | "oh" | "o" | "cero" => '0',
            "one" | "uno" | "una" | "un" => '1',
            "two" | "to" | "too" | "dos" => '2',
            "three" | "tres" => '3',
            "four" | "for" | "cuatro" => '4',
            "five" | "cinco" => '5',
            "six" | "seis" => '6',
            "seven" | "siete" => '7',
            "eight" | "ocho" => '8',
            "nine" | "nueve" => '9',
            _ => return None,
        };
        out.push(d);
    }
    (!out.is_empty()).then_some(out)
}

/// "2 1 9 0" to the ear, "2190" on a TTY.
pub fn digits(d: &str, channel: Channel) -> String {
    match channel {
        Channel::Tty => d.to_string(),
        Channel::Voice => d
            .chars()
            .filter(|c| c.is_ascii_digit())
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// An amount: in words for the voice ("one thousand two hundred thirty-four dollars and
/// fifty-six cents", "mil doscientos treinta y cuatro dólares con cincuenta y seis
/// centavos"), "$1,234.56" on a TTY. Negative amounts (credits) say so.
pub fn money(amount: Decimal, lang: Lang, channel: Channel) -> String {
    let negative = amount.is_sign_negative() && !amount.is_zero();
    let cents_total = (amount.abs() * Decimal::from(100))
        .round()
        .to_u64()
        .unwrap_or(0);
    let (dollars, cents) = (cents_total / 100, cents_total % 100);
    if channel == Channel::Tty {
        let sign = if negative { "-" } else { "" };
        return format!("{sign}${}.{cents:02}", group_thousands(dollars));
    }
    let body = match lang {
        Lang::En => {
            let d = format!(
                "{} {}",
                en_words(dollars),
                if dollars == 1 { "dollar" } else { "dollars" }
            );
            match (dollars, cents) {
                (_, 0) => d,
                (0, c) => format!("{} {}", en_words(c), if c == 1 { "cent" } else { "cents" }),
                (_, c) => format!(
                    "{d} and {} {}",
                    en_words(c),
                    if c == 1 { "cent" } else { "cents" }
                ),
            }
        }
        Lang::Es => {
            let d = es_amount(dollars, "dólar", "dólares");
            match (dollars, cents) {
                (_, 0) => d,
                (0, c) => es_amount(c, "centavo", "centavos"),
                (_, c) => format!("{d} con {}", es_amount(c, "centavo", "centavos")),
            }
        }
    };
    match (negative, lang) {
        (true, Lang::En) => format!("minus {body}"),
        (true, Lang::Es) => format!("menos {body}"),
        (false, _) => body,
    }
}

fn group_thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

const EN_ONES: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const EN_TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];

/// English words for a whole number.
pub fn en_words(n: u64) -> String {
    fn below_thousand(n: u64) -> String {
        let (h, rest) = (n / 100, n % 100);
        let mut parts = Vec::new();
        if h > 0 {
            parts.push(format!("{} hundred", EN_ONES[h as usize]));
        }
        if rest > 0 || h == 0 {
            parts.push(if rest < 20 {
                EN_ONES[rest as usize].to_string()
            } else if rest % 10 == 0 {
                EN_TENS[(rest / 10) as usize].to_string()
            } else {
                format!(
                    "{}-{}",
                    EN_TENS[(rest / 10) as usize],
                    EN_ONES[(rest % 10) as usize]
                )
            });
        }
        parts.join(" ")
    }
    if n < 1000 {
        return below_thousand(n);
    }
    let scales = [
        (1_000_000_000, "billion"),
        (1_000_000, "million"),
        (1000, "thousand"),
    ];
    let mut rest = n;
    let mut parts = Vec::new();
    for (size, name) in scales {
        if rest >= size {
            parts.push(format!("{} {name}", below_thousand(rest / size)));
            rest %= size;
        }
    }
    if rest > 0 {
        parts.push(below_thousand(rest));
    }
    parts.join(" ")
}

const ES_UNITS: [&str; 30] = [
    "cero",
    "uno",
    "dos",
    "tres",
    "cuatro",
    "cinco",
    "seis",
    "siete",
    "ocho",
    "nueve",
    "diez",
    "once",
    "doce",
    "trece",
    "catorce",
    "quince",
    "dieciséis",
    "diecisiete",
    "dieciocho",
    "diecinueve",
    "veinte",
    "veintiuno",
    "veintidós",
    "veintitrés",
    "veinticuatro",
    "veinticinco",
    "veintiséis",
    "veintisiete",
    "veintiocho",
    "veintinueve",
];
const ES_TENS: [&str; 10] = [
    "",
    "",
    "",
    "treinta",
    "cuarenta",
    "cincuenta",
    "sesenta",
    "setenta",
    "ochenta",
    "noventa",
];
const ES_HUNDREDS: [&str; 10] = [
    "",
    "ciento",
    "doscientos",
    "trescientos",
    "cuatrocientos",
    "quinientos",
    "seiscientos",
    "setecientos",
    "ochocientos",
    "novecientos",
];

/// Spanish words for a whole number, masculine ("veintiuno"; use [`es_amount`] before a
/// noun, which shortens it to "veintiún dólares").
pub fn es_words(n: u64) -> String {
    fn below_thousand(n: u64) -> String {
        let (h, rest) = (n / 100, n % 100);
        if n == 100 {
            return "cien".into();
        }
        let mut parts = Vec::new();
        if h > 0 {
            parts.push(ES_HUNDREDS[h as usize].to_string());
        }
        if rest > 0 || h == 0 {
            parts.push(if rest < 30 {
                ES_UNITS[rest as usize].to_string()
            } else if rest % 10 == 0 {
                ES_TENS[(rest / 10) as usize].to_string()
            } else {
                format!(
                    "{} y {}",
                    ES_TENS[(rest / 10) as usize],
                    ES_UNITS[(rest % 10) as usize]
                )
            });
        }
        parts.join(" ")
    }
    if n < 1000 {
        return below_thousand(n);
    }
    let mut parts = Vec::new();
    let millions = n / 1_000_000;
    let thousands = (n / 1000) % 1000;
    let rest = n % 1000;
    if millions > 0 {
        parts.push(if millions == 1 {
            "un millón".to_string()
        } else {
            format!("{} millones", apocopate(&es_words(millions)))
        });
    }
    if thousands > 0 {
        parts.push(if thousands == 1 {
            "mil".to_string()
        } else {
            format!("{} mil", apocopate(&below_thousand(thousands)))
        });
    }
    if rest > 0 {
        parts.push(below_thousand(rest));
    }
    parts.join(" ")
}

/// "uno" becomes "un" before a masculine noun (and before "mil", "millones").
fn apocopate(words: &str) -> String {
    if let Some(stem) = words.strip_suffix("veintiuno") {
        format!("{stem}veintiún")
    } else if let Some(stem) = words.strip_suffix("uno") {
        format!("{stem}un")
    } else {
        words.to_string()
    }
}

/// A count of a masculine noun: "un dólar", "veintiún dólares", "un millón de dólares".
fn es_amount(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        return format!("un {one}");
    }
    let words = apocopate(&es_words(n));
    let exact_millions = n >= 1_000_000 && n.is_multiple_of(1_000_000);
    if exact_millions {
        format!("{words} de {many}")
    } else {
        format!("{words} {many}")
    }
}

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
/// días de las 8 de la mañana a las 4 de la tarde". `None` when the unit never opens
/// (a prompt with it is then not said).
pub fn office_hours(hours: &crate::hours::Hours, lang: Lang) -> Option<String> {
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
        0 => None,
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
    const EN: [&str; 7] = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    const ES: [&str; 7] = [
        "lunes",
        "martes",
        "miércoles",
        "jueves",
        "viernes",
        "sábado",
        "domingo",
    ];
    let names = match lang {
        Lang::En => EN,
        Lang::Es => ES,
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

/// A phone number: "8 6 6, 9 0 1, 3 2 1 2" for the voice, "866-901-3212" on a TTY. A
/// leading 1 (toll-free style, 1-877-...) is kept.
pub fn phone(number: &str, channel: Channel) -> String {
    let digits: String = number.chars().filter(|c| c.is_ascii_digit()).collect();
    let (prefix, rest) = match digits.len() {
        11 if digits.starts_with('1') => ("1", &digits[1..]),
        _ => ("", digits.as_str()),
    };
    let groups: Vec<&str> = if rest.len() == 10 {
        vec![&rest[..3], &rest[3..6], &rest[6..]]
    } else {
        vec![rest]
    };
    match channel {
        Channel::Tty => {
            let mut parts: Vec<&str> = Vec::new();
            if !prefix.is_empty() {
                parts.push(prefix);
            }
            parts.extend(groups);
            parts.join("-")
        }
        Channel::Voice => {
            let spaced = |g: &str| {
                g.chars()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let mut parts: Vec<String> = Vec::new();
            if !prefix.is_empty() {
                parts.push(prefix.to_string());
            }
            parts.extend(groups.into_iter().map(spaced));
            parts.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn money_in_words_and_figures() {
        use Channel::*;
        use Lang::*;
        let cases = [
            (
                "1234.56",
                En,
                "one thousand two hundred thirty-four dollars and fifty-six cents",
            ),
            (
                "1234.56",
                Es,
                "mil doscientos treinta y cuatro dólares con cincuenta y seis centavos",
            ),
            ("450.00", En, "four hundred fifty dollars"),
            ("450", Es, "cuatrocientos cincuenta dólares"),
            ("1.00", En, "one dollar"),
            ("1", Es, "un dólar"),
            ("0", En, "zero dollars"),
            ("0.00", Es, "cero dólares"),
            ("0.01", En, "one cent"),
            ("0.99", Es, "noventa y nueve centavos"),
            ("21.01", Es, "veintiún dólares con un centavo"),
            ("100", Es, "cien dólares"),
            ("101", Es, "ciento un dólares"),
            ("21000", Es, "veintiún mil dólares"),
            ("1000000", Es, "un millón de dólares"),
            (
                "2500000.50",
                Es,
                "dos millones quinientos mil dólares con cincuenta centavos",
            ),
            ("1000001", En, "one million one dollars"),
            ("115", En, "one hundred fifteen dollars"),
            ("-25.5", En, "minus twenty-five dollars and fifty cents"),
        ];
        for (amount, lang, want) in cases {
            assert_eq!(money(dec(amount), lang, Voice), want, "{amount} {lang}");
        }
        assert_eq!(money(dec("1234.5"), En, Tty), "$1,234.50");
        assert_eq!(money(dec("0"), Es, Tty), "$0.00");
        assert_eq!(money(dec("1234567.891"), En, Tty), "$1,234,567.89");
    }

    #[test]
    fn office_hours_come_from_the_rules() {
        use crate::hours::Hours;
        let tz = chrono_tz::America::Los_Angeles;
        let said = |spec: &str, lang| {
            office_hours(&Hours::new(tz, spec, Default::default()).unwrap(), lang)
        };
        assert_eq!(
            said("mon-sun 08:00-16:00", Lang::En).as_deref(),
            Some("every day from 8 a.m. to 4 p.m.")
        );
        assert_eq!(
            said("mon-sun 08:00-16:00", Lang::Es).as_deref(),
            Some("todos los días de las 8 de la mañana a las 4 de la tarde")
        );
        assert_eq!(
            said("mon-fri 07:30-17:00, sat 09:00-12:00", Lang::En).as_deref(),
            Some(
                "Monday through Friday from 7:30 a.m. to 5 p.m., and on Saturday from 9 a.m. to noon"
            )
        );
        assert_eq!(
            said("mon-fri 07:30-17:00, sat 09:00-12:00", Lang::Es).as_deref(),
            Some(
                "de lunes a viernes de las 7:30 de la mañana a las 5 de la tarde y el sábado de las 9 de la mañana al mediodía"
            )
        );
        assert_eq!(
            said("sat-sun 10:00-14:00", Lang::En).as_deref(),
            Some("on Saturday and Sunday from 10 a.m. to 2 p.m.")
        );
        assert_eq!(said("closed", Lang::En), None);
    }

    #[test]
    fn the_next_opening_as_people_say_it() {
        let at = |d: u32, h: u32| {
            NaiveDate::from_ymd_opt(2026, 12, d)
                .unwrap()
                .and_hms_opt(h, 0, 0)
                .unwrap()
        };
        let now = at(1, 6);
        assert_eq!(next_open(now, at(1, 8), Lang::En), "today at 8 a.m.");
        assert_eq!(next_open(now, at(2, 8), Lang::En), "tomorrow at 8 a.m.");
        assert_eq!(
            next_open(now, at(7, 8), Lang::En),
            "Monday, December 7, at 8 a.m."
        );
        assert_eq!(
            next_open(now, at(1, 8), Lang::Es),
            "hoy a las 8 de la mañana"
        );
        assert_eq!(
            next_open(now, at(2, 8), Lang::Es),
            "mañana a las 8 de la mañana"
        );
        assert_eq!(
            next_open(now, at(7, 8), Lang::Es),
            "el lunes 7 de diciembre a las 8 de la mañana"
        );
    }

    #[test]
    fn dates_and_times_as_people_say_them() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        let t = |h, m| d(2027, 1, 14).and_hms_opt(h, m, 0).unwrap();
        assert_eq!(date(d(2027, 1, 14), Lang::En), "January 14, 2027");
        assert_eq!(date(d(2027, 1, 14), Lang::Es), "14 de enero de 2027");
        assert_eq!(
            date(d(2026, 12, 1), Lang::Es),
            "primero de diciembre de 2026"
        );
        assert_eq!(date(d(2026, 12, 1), Lang::En), "December 1, 2026");
        assert_eq!(
            date_time(t(9, 30), Lang::Es),
            "14 de enero de 2027 a las 9:30 de la mañana"
        );
        assert_eq!(
            date_time(t(9, 30), Lang::En),
            "January 14, 2027, at 9:30 a.m."
        );
        assert_eq!(time(t(8, 0), Lang::En), "8 a.m.");
        assert_eq!(time(t(0, 0), Lang::En), "midnight");
        assert_eq!(time(t(0, 0), Lang::Es), "la medianoche");
        assert_eq!(time(t(12, 0), Lang::En), "noon");
        assert_eq!(
            date_time(t(12, 0), Lang::Es),
            "14 de enero de 2027 al mediodía"
        );
        assert_eq!(time(t(13, 5), Lang::Es), "la 1:05 de la tarde");
        assert_eq!(time(t(0, 30), Lang::En), "12:30 a.m.");
        assert_eq!(time(t(0, 30), Lang::Es), "las 12:30 de la madrugada");
        assert_eq!(time(t(21, 0), Lang::Es), "las 9 de la noche");
        assert_eq!(time(t(16, 45), Lang::En), "4:45 p.m.");
    }

    #[test]
    fn spoken_digits_become_keys() {
        assert_eq!(spoken_digits("one two three").as_deref(), Some("123"));
        assert_eq!(spoken_digits("1 2 3").as_deref(), Some("123"));
        assert_eq!(spoken_digits("900-12-3456").as_deref(), Some("900123456"));
        assert_eq!(
            spoken_digits("Uno, dos, tres, cero.").as_deref(),
            Some("1230")
        );
        assert_eq!(spoken_digits("oh four").as_deref(), Some("04"));
        assert_eq!(spoken_digits("my number is one"), None);
        assert_eq!(spoken_digits(""), None);
    }

    #[test]
    fn case_endings_digit_by_digit() {
        assert_eq!(digits("2190", Channel::Voice), "2 1 9 0");
        assert_eq!(digits("2190", Channel::Tty), "2190");
    }

    #[test]
    fn phone_numbers_for_ear_and_eye() {
        assert_eq!(
            phone("866-901-3212", Channel::Voice),
            "8 6 6, 9 0 1, 3 2 1 2"
        );
        assert_eq!(phone("866.901.3212", Channel::Tty), "866-901-3212");
        assert_eq!(
            phone("1-877-777-1617", Channel::Voice),
            "1, 8 7 7, 7 7 7, 1 6 1 7"
        );
        assert_eq!(phone("18777771617", Channel::Tty), "1-877-777-1617");
        assert_eq!(phone("911", Channel::Voice), "9 1 1");
    }
}
