//! Values as a listener (or a TTY reader) takes them in: the typed [`Value`]s a
//! readback fills prompts with, and how each kind is said: `numbers` (amounts in
//! words), `dates` (dates, times, office hours), `digits` (case endings, phone
//! numbers, keys said aloud). On a TTY, the usual written forms.

mod dates;
mod digits;
mod numbers;

pub use dates::{date, date_time, next_open, office_hours, time};
pub use digits::{digits, phone, spelled, spoken_digits};
pub use numbers::{en_words, es_words, money};

use chrono::{NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;

use crate::words::prompts::{Channel, Lang};

/// A typed value for a prompt placeholder.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Value {
    Money(Decimal),
    Date(NaiveDate),
    /// Local time at the agency (already in its time zone).
    DateTime(NaiveDateTime),
    /// Read one digit at a time (case endings).
    Digits(String),
    /// Letters and digits said one by one (a payment confirmation code).
    Spelled(String),
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
            Value::Spelled(s) => spelled(s, channel),
            Value::Phone(n) => phone(n, channel),
            Value::Text(t) => t.clone(),
            Value::Prompt(_) | Value::List { .. } => String::new(),
        }
    }

    /// The words for any value, using the prompt catalog where needed.
    pub fn render(
        &self,
        catalog: &crate::words::prompts::Catalog,
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
    &'a crate::words::prompts::Catalog,
);

impl crate::words::prompts::Fill for Items<'_> {
    fn fill(&self, name: &str, lang: Lang, channel: Channel) -> Option<String> {
        self.0.get(name).map(|v| v.render(self.1, lang, channel))
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
        use crate::clock::hours::Hours;
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
        assert_eq!(
            said("closed", Lang::En).as_deref(),
            Some("at no set hours for now")
        );
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
