//! The US TTY character code (TIA-825-A "Baudot"): five-bit codes in two shifts,
//! letters and figures, with the US figures table (not ITA2's). Text goes out upper
//! case, each transmission starting with an explicit shift and with FIGS sent again
//! after a space (receivers fall back to letters on a space); what Baudot cannot carry
//! is spelled out or dropped. Codes come back as text with the same rules.

/// Shift to letters.
pub const LTRS: u8 = 0x1F;
/// Shift to figures.
pub const FIGS: u8 = 0x1B;
pub const SPACE: u8 = 0x04;
pub const CR: u8 = 0x08;
pub const LF: u8 = 0x02;

/// Letters, indexed by code (`\0` where the code is not a letter).
const LETTERS: [char; 32] = [
    '\0', 'E', '\n', 'A', ' ', 'S', 'I', 'U', '\r', 'D', 'R', 'J', 'N', 'F', 'C', 'K', 'T', 'Z',
    'L', 'W', 'H', 'Y', 'P', 'Q', 'O', 'B', 'G', '\0', 'M', 'X', 'V', '\0',
];

/// US figures, indexed by code (`\0` where none; 0x05 is the bell, not printed).
const FIGURES: [char; 32] = [
    '\0', '3', '\n', '-', ' ', '\u{7}', '8', '7', '\r', '$', '4', '\'', ',', '!', ':', '(', '5',
    '"', ')', '2', '#', '6', '0', '1', '9', '?', '&', '\0', '.', '/', ';', '\0',
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shift {
    Letters,
    Figures,
}

/// The code and shift for a character Baudot carries (space, CR and LF are in both).
fn code_of(c: char) -> Option<(Option<Shift>, u8)> {
    match c {
        ' ' => return Some((None, SPACE)),
        '\r' => return Some((None, CR)),
        '\n' => return Some((None, LF)),
        _ => {}
    }
    let find = |table: &[char; 32]| table.iter().position(|t| *t == c).map(|i| i as u8);
    if let Some(code) = find(&LETTERS) {
        return Some((Some(Shift::Letters), code));
    }
    // The bell is a control, never sent; `#` and `&` are spelled (many TTYs cannot
    // print them).
    if matches!(c, '\u{7}' | '#' | '&') {
        return None;
    }
    find(&FIGURES).map(|code| (Some(Shift::Figures), code))
}

/// What a character becomes on a TTY: upper case, accents dropped, the symbols a TTY
/// cannot print spelled out, anything else dropped.
fn plain(c: char, out: &mut String) {
    let c = c.to_ascii_uppercase();
    let spelled = match c {
        '#' => " NBR ",
        '&' => " AND ",
        '*' => " STAR ",
        '@' => " AT ",
        '%' => " PERCENT",
        '+' => " PLUS ",
        '=' => " EQUALS ",
        '\t' => " ",
        _ => "",
    };
    if !spelled.is_empty() {
        out.push_str(spelled);
        return;
    }
    let base = match c {
        'á' | 'Á' | 'à' | 'À' | 'â' | 'Â' | 'ä' | 'Ä' => 'A',
        'é' | 'É' | 'è' | 'È' | 'ê' | 'Ê' | 'ë' | 'Ë' => 'E',
        'í' | 'Í' | 'ì' | 'Ì' | 'î' | 'Î' | 'ï' | 'Ï' => 'I',
        'ó' | 'Ó' | 'ò' | 'Ò' | 'ô' | 'Ô' | 'ö' | 'Ö' => 'O',
        'ú' | 'Ú' | 'ù' | 'Ù' | 'û' | 'Û' | 'ü' | 'Ü' => 'U',
        'ñ' | 'Ñ' => 'N',
        'ç' | 'Ç' => 'C',
        '’' | '‘' => '\'',
        '“' | '”' => '"',
        '–' | '—' => '-',
        other => other,
    };
    if code_of(base).is_some() {
        out.push(base);
    }
}

/// Text as a TTY can print it: upper case, accents dropped, the symbols a TTY cannot
/// print spelled out, anything else dropped; spaces not doubled.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        plain(c, &mut out);
    }
    let mut squeezed = String::with_capacity(out.len());
    for c in out.chars() {
        if !(c == ' ' && squeezed.ends_with(' ')) {
            squeezed.push(c);
        }
    }
    squeezed
}

/// The codes for one transmission of `text`: an explicit shift first, FIGS again after
/// a space, and only characters Baudot carries (see [`printable`]).
pub fn encode(text: &str) -> Vec<u8> {
    let text = printable(text);
    let mut codes = Vec::with_capacity(text.len() + 4);
    // Unknown to the receiver until we say: the first character sets it.
    let mut shift: Option<Shift> = None;
    for c in text.chars() {
        let Some((needs, code)) = code_of(c) else {
            continue;
        };
        match needs {
            Some(s) if shift != Some(s) => {
                codes.push(if s == Shift::Letters { LTRS } else { FIGS });
                shift = Some(s);
            }
            None if shift.is_none() => {
                codes.push(LTRS);
                shift = Some(Shift::Letters);
            }
            _ => {}
        }
        codes.push(code);
        // Unshift on space: the receiver is back in letters.
        if code == SPACE {
            shift = Some(Shift::Letters);
        }
    }
    codes
}

/// Turns received codes into text, keeping the shift between calls.
#[derive(Debug, Clone)]
pub struct Decoder {
    shift: Shift,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder {
            shift: Shift::Letters,
        }
    }
}

impl Decoder {
    /// The character for `code` (five bits), if it prints one; shifts change state.
    pub fn decode(&mut self, code: u8) -> Option<char> {
        let code = code & 0x1F;
        match code {
            LTRS => {
                self.shift = Shift::Letters;
                None
            }
            FIGS => {
                self.shift = Shift::Figures;
                None
            }
            SPACE => {
                self.shift = Shift::Letters;
                Some(' ')
            }
            _ => {
                let table = match self.shift {
                    Shift::Letters => &LETTERS,
                    Shift::Figures => &FIGURES,
                };
                let c = table[usize::from(code)];
                (c != '\0' && c != '\u{7}').then_some(c)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) -> String {
        let mut d = Decoder::default();
        encode(text)
            .into_iter()
            .filter_map(|c| d.decode(c))
            .collect()
    }

    #[test]
    fn every_character_both_ways() {
        let letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let figures = "0123456789-$',!:(\")?./;";
        assert_eq!(round_trip(letters), letters);
        assert_eq!(round_trip(figures), figures);
        assert_eq!(round_trip("a b\r\n"), "A B\r\n");
    }

    #[test]
    fn the_us_figures_table() {
        // Codes by hand from the US TTY table: 05 bell, 09 $, 0B ', 0D !, 11 ", 14 #,
        // 1A &, 1E ;.
        let mut d = Decoder::default();
        let figs: String = [
            FIGS, 0x09, 0x0B, 0x0D, 0x11, 0x14, 0x1A, 0x1E, 0x05, 0x17, 0x16,
        ]
        .into_iter()
        .filter_map(|c| d.decode(c))
        .collect();
        assert_eq!(figs, "$'!\"#&;10");
    }

    #[test]
    fn shifts_start_every_transmission_and_come_back_after_a_space() {
        // "$12 50": FIGS $ 1 2 SP FIGS 5 0.
        assert_eq!(
            encode("$12 50"),
            [FIGS, 0x09, 0x17, 0x13, SPACE, FIGS, 0x10, 0x16]
        );
        // Letters first: LTRS; a space first: LTRS too.
        assert_eq!(encode("GA"), [LTRS, 0x1A, 0x03]);
        assert_eq!(encode(" A")[0], LTRS);
        // A receiver falls back to letters on a space even without LTRS.
        let mut d = Decoder::default();
        let text: String = [FIGS, 0x17, SPACE, 0x17]
            .into_iter()
            .filter_map(|c| d.decode(c))
            .collect();
        assert_eq!(text, "1 Q");
    }

    #[test]
    fn what_baudot_cannot_carry_is_spelled_or_dropped() {
        assert_eq!(
            printable("# más tiempo & 50% ¿sí?"),
            " NBR MAS TIEMPO AND 50 PERCENT SI?"
        );
        assert_eq!(round_trip("PRESS #"), "PRESS NBR ");
        assert_eq!(round_trip("a@b"), "A AT B");
    }
}
