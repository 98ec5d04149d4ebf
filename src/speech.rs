//! Values as a listener (or a TTY reader) takes them in: phone numbers digit by digit
//! for the voice, with the usual dashes on a TTY.

use crate::config::Settings;
use crate::prompts::Channel;

/// The placeholders filled from settings (the agency's phone numbers).
pub fn setting_value(settings: &Settings, name: &str, channel: Channel) -> Option<String> {
    let number = match name {
        "csu_phone" => &settings.csu_phone,
        "tty_phone" => &settings.tty_phone,
        "epc_phone" => &settings.epc_phone,
        _ => return None,
    };
    Some(phone(number, channel))
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
