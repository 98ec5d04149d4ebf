//! The keys a menu's words offer, read the way a caller hears them: "press 4" and
//! "Press 4 to...", "oprima 4", and the TTY lists "4 CALLBACK. 0 REPRESENTATIVE."
//! `flows check` compares them with the menu's `<Key>`s.

use std::collections::BTreeSet;

/// Words after which a digit is a key to press, in the languages we speak.
const PRESS: &[&str] = &["press", "oprima", "marque", "pulse"];

/// The digits `text` offers as keys. A placeholder (`{key}`) offers nothing here; a
/// number of several digits ("9 digits", "24 hours", "10 DIGIT") is not a key.
pub fn offered_digits(text: &str) -> BTreeSet<char> {
    let mut out = BTreeSet::new();
    let words: Vec<&str> = text.split_whitespace().collect();
    for (i, word) in words.iter().enumerate() {
        let Some(digit) = lone_digit(word) else {
            continue;
        };
        let before = i.checked_sub(1).map(|j| words[j]);
        let after = words.get(i + 1).copied();
        let pressed = before.is_some_and(|b| {
            let b = b.trim_matches(|c: char| !c.is_alphabetic()).to_lowercase();
            PRESS.contains(&b.as_str())
        });
        // A TTY list: the digit opens a sentence ("MAIN MENU. 1 PAYMENTS.") and the
        // next word is in capitals.
        let opens = before.is_none_or(|b| b.ends_with('.') || b.ends_with(':'));
        let listed = opens
            && after.is_some_and(|a| {
                let letters: Vec<char> = a.chars().filter(|c| c.is_alphabetic()).collect();
                !letters.is_empty() && letters.iter().all(|c| c.is_uppercase())
            });
        if pressed || listed {
            out.insert(digit);
        }
    }
    out
}

/// `word` is one digit, maybe with trailing punctuation ("1.", "4,").
fn lone_digit(word: &str) -> Option<char> {
    let core = word.trim_end_matches(['.', ',', ';', ':', '!', '?']);
    let mut chars = core.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_ascii_digit() => Some(c),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits(text: &str) -> String {
        offered_digits(text).into_iter().collect()
    }

    #[test]
    fn reads_press_oprima_and_tty_lists() {
        assert_eq!(
            digits(
                "For payment information, press 1. Press 2 to hear where. To speak with someone, press 0."
            ),
            "012"
        );
        assert_eq!(digits("Para pagos, oprima 1. Oprima 9 para inglés."), "19");
        assert_eq!(
            digits(
                "MAIN MENU. 1 PAYMENTS. 2 CASE STATUS. 0 REPRESENTATIVE. STAR TO REPEAT. # MORE TIME."
            ),
            "012"
        );
        assert_eq!(digits("ENGLISH: PRESS 1."), "1");
        assert_eq!(
            digits("CALLBACK TO {callback_ending}. 1 CONFIRM. 2 OTHER NUMBER."),
            "12"
        );
    }

    #[test]
    fn numbers_that_are_not_keys_are_not_offers() {
        assert_eq!(
            digits("Enter the 9 digits of your Social Security number."),
            ""
        );
        assert_eq!(
            digits("ENTER THE 10 DIGIT NUMBER. OPEN 24 HOURS A DAY."),
            ""
        );
        assert_eq!(digits("For the case ending in {ending}, press {key}."), "");
        assert_eq!(digits("We open at 8 a.m. and close at 4 p.m."), "");
        assert_eq!(digits("press star, or press the pound key"), "");
    }
}
