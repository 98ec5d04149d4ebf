//! Digits as a listener takes them: keys said aloud read back as digits, digits
//! spoken one by one, phone numbers grouped (and written with dashes on a TTY).

use crate::words::prompts::Channel;

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

/// A code spelled out: "C, H, 1, 2" to the ear (each character on its own, letters in
/// capitals so a voice says the letter), "CH12" on a TTY.
pub fn spelled(code: &str, channel: Channel) -> String {
    let chars = code
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase());
    match channel {
        Channel::Tty => chars.collect(),
        Channel::Voice => chars.map(|c| c.to_string()).collect::<Vec<_>>().join(", "),
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
