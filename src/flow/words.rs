//! The keys a menu's words offer, read the way a caller hears them: "press 4" and
//! "Press 4 to...", "oprima 4", and the TTY lists "4 CALLBACK. 0 REPRESENTATIVE."
//! `flows check` compares them with the menu's `<Key>`s.

use std::collections::BTreeSet;

/// Words after which a digit is a key to press, in the languages we speak.
const PRESS: &[&str] = &["press", "oprima", "presione", "marque", "pulse"];
/// Words that may stand between those and the digit ("press the number 1", "oprima el
/// número 2").
const BETWEEN: &[&str] = &["the", "number", "key", "el", "número", "la", "tecla"];
/// Words that join a second key to the first ("press 1 or 2", "oprima 1 o 2").
const OR: &[&str] = &["or", "o"];

/// The digits `text` offers as keys. A placeholder (`{key}`) offers nothing here; a
/// number of several digits ("9 digits", "24 hours", "10 DIGIT") is not a key.
pub fn offered_digits(text: &str) -> BTreeSet<char> {
    let mut out = BTreeSet::new();
    let words: Vec<&str> = text.split_whitespace().collect();
    let bare = |w: &str| {
        w.trim_matches(|c: char| !c.is_alphanumeric())
            .to_lowercase()
    };
    for (i, word) in words.iter().enumerate() {
        if PRESS.contains(&bare(word).as_str()) {
            // The digit after the verb (and any article), then "or N" after it.
            let mut j = i + 1;
            while j < words.len() && BETWEEN.contains(&bare(words[j]).as_str()) {
                j += 1;
            }
            while let Some(digit) = words.get(j).and_then(|w| lone_digit(w)) {
                out.insert(digit);
                let joined = words
                    .get(j + 1)
                    .is_some_and(|w| OR.contains(&bare(w).as_str()));
                if !joined {
                    break;
                }
                j += 2;
            }
            continue;
        }
        // A TTY list: the digit opens a sentence ("MAIN MENU. 1 PAYMENTS.") and the
        // next word is in capitals. (Not after a colon: "HOURS: 8 AM" is not a key.)
        let Some(digit) = lone_digit(word) else {
            continue;
        };
        let opens = i
            .checked_sub(1)
            .map(|j| words[j])
            .is_none_or(|b| b.ends_with('.'));
        let listed = opens
            && words.get(i + 1).is_some_and(|a| {
                let letters: Vec<char> = a.chars().filter(|c| c.is_alphabetic()).collect();
                !letters.is_empty() && letters.iter().all(|c| c.is_uppercase())
            });
        if listed {
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
        assert_eq!(digits("Press the number 1 on your keypad."), "1");
        assert_eq!(digits("Oprima el número 2. Presione 3."), "23");
        assert_eq!(digits("Press 1 or 2 to choose, o oprima 4 o 5."), "1245");
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
        assert_eq!(digits("HOURS: 8 AM TO 4 PM."), "");
        assert_eq!(digits("press star, or press the pound key"), "");
    }
}
