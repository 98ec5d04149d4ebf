//! Numbers and money in words, in English and in Spanish ("one thousand two hundred
//! thirty-four dollars and fifty-six cents"; "mil doscientos treinta y cuatro dólares"),
//! and in figures on a TTY.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::words::prompts::{Channel, Lang};

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

/// Spanish words for a whole number, masculine ("veintiuno"; use `es_amount` before a
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
