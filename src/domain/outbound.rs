//! Which numbers the server may call back or text. Outbound calls and texts cost the
//! agency money and reach strangers, so every number the dialer rings or a text goes to
//! passes [`Policy::check`] first, where the caller gives it and again where it is
//! dialled. The numbering plan's own metadata (libphonenumber's, through the
//! `phonenumber` crate) says the region and the kind of number, so a new premium range
//! or a Caribbean country is known without a hand-kept list; a few North American
//! rules the metadata does not draw (N11 codes, 555-01xx, 976 exchanges) are added.
//!
//! How often a number may be asked for is a store matter: see
//! [`crate::domain::callbacks::request`] (one open request a call, at most
//! [`CALLBACKS_PER_NUMBER_A_DAY`] a day per number, on every server).

use std::collections::HashSet;

use phonenumber::Type;
use phonenumber::country::Id;

/// Counted where requests are stored, so every server agrees.
pub use crate::store::callbacks::CALLBACKS_PER_NUMBER_A_DAY;

/// What a number is for: a callback rings it; a text is sent to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Callback,
    Text,
}

/// Why a number is refused. Said to the caller in one plain sentence; logged by kind,
/// never with the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not a number of the numbering plan.
    Invalid,
    /// A country or region the agency does not call (the Caribbean and Pacific +1
    /// countries by default, anything international).
    Region,
    /// Premium rate, toll-free, shared cost, N11, fictional (555-01xx), or any other
    /// kind that is not a person's line; for a text, a number that cannot be a mobile.
    Kind,
    /// One of the agency's own numbers.
    Own,
}

impl Refusal {
    /// A short label for logs and the audit trail.
    pub fn label(self) -> &'static str {
        match self {
            Refusal::Invalid => "invalid",
            Refusal::Region => "region",
            Refusal::Kind => "kind",
            Refusal::Own => "own-number",
        }
    }
}

/// The policy: the regions callbacks may ring (`CASELINE_CALLBACK_REGIONS`, US by
/// default; texts are US only, always) and the agency's own numbers.
#[derive(Debug, Clone)]
pub struct Policy {
    regions: Vec<Id>,
    /// The agency's own numbers, as ten digits.
    own: HashSet<String>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            regions: vec![Id::US],
            own: HashSet::new(),
        }
    }
}

impl Policy {
    /// A policy for `regions` (ISO country codes such as `US`, `CA`) that never rings
    /// `own` (numbers in any common form: `866-901-3212`, `+18669013212`...).
    pub fn new<'a>(regions: Vec<Id>, own: impl IntoIterator<Item = &'a str>) -> Policy {
        Policy {
            regions,
            own: own.into_iter().filter_map(ten_digits).collect(),
        }
    }

    /// Whether `number` is one of the agency's configured numbers.
    pub fn is_own(&self, number: &str) -> bool {
        ten_digits(number).is_some_and(|ten| self.own.contains(&ten))
    }

    /// Whether the agency may ring (or text) `number` for `purpose`: exactly `+1` and
    /// ten digits (a caller ID) or ten digits (keyed). Nothing looser: `+47 92345678`
    /// read digit by digit would pass as an Arkansas number. `dialled` is the number the
    /// caller called, one of the agency's own.
    pub fn check(
        &self,
        number: &str,
        purpose: Purpose,
        dialled: Option<&str>,
    ) -> Result<(), Refusal> {
        let ten = strict_ten(number).ok_or(Refusal::Invalid)?;
        if self.own.contains(&ten) || dialled.and_then(ten_digits).as_deref() == Some(&ten) {
            return Err(Refusal::Own);
        }
        not_special(&ten)?;
        let parsed = phonenumber::parse(None, format!("+1{ten}")).map_err(|_| Refusal::Invalid)?;
        let db = &*phonenumber::metadata::DATABASE;
        if !parsed.is_valid_with(db) {
            return Err(Refusal::Invalid);
        }
        let region = parsed.country().id().ok_or(Refusal::Region)?;
        let allowed = match purpose {
            Purpose::Callback => self.regions.contains(&region),
            // Texts go to US numbers only, whatever callbacks may ring.
            Purpose::Text => region == Id::US,
        };
        if !allowed {
            return Err(Refusal::Region);
        }
        let kind_ok = match (purpose, parsed.number_type(db)) {
            (Purpose::Callback, Type::FixedLine | Type::Mobile | Type::FixedLineOrMobile) => true,
            // The US plan does not tell a mobile from a landline: a number that may be
            // either is texted; a landline just never shows it.
            (Purpose::Text, Type::Mobile | Type::FixedLineOrMobile) => true,
            _ => false,
        };
        if kind_ok { Ok(()) } else { Err(Refusal::Kind) }
    }
}

/// The ten digits of `+1` and ten digits, or of ten digits alone.
fn strict_ten(number: &str) -> Option<String> {
    let digits = number.strip_prefix("+1").unwrap_or(number);
    let plain = digits.len() == 10 && digits.bytes().all(|b| b.is_ascii_digit());
    let plus = number.starts_with('+') == number.starts_with("+1");
    (plain && plus)
        .then(|| digits.to_string())
        .filter(|t| ten_digits(t).is_some())
}

/// North American numbers no person answers on, or that charge the caller, which the
/// metadata counts as ordinary lines: N11 service codes as area code or exchange,
/// 555-0100 to 555-0199 (fictional), and 976 exchanges (premium information lines).
fn not_special(ten: &str) -> Result<(), Refusal> {
    let (area, exchange, line) = (&ten[0..3], &ten[3..6], &ten[6..]);
    let n11 = |code: &str| code.ends_with("11");
    if n11(area)
        || n11(exchange)
        || exchange == "976"
        || (exchange == "555" && line.starts_with("01"))
    {
        return Err(Refusal::Kind);
    }
    Ok(())
}

/// A North American number's ten digits (area code and exchange not starting with 0
/// or 1) from `+1` and ten, `1` and ten, ten digits, or a written form like
/// `866-901-3212`; `None` for anything else.
pub fn ten_digits(raw: &str) -> Option<String> {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    let ten = match digits.len() {
        10 => digits,
        11 if digits.starts_with('1') => digits[1..].to_string(),
        _ => return None,
    };
    let b = ten.as_bytes();
    (b[0] >= b'2' && b[3] >= b'2').then_some(ten)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agency() -> Policy {
        Policy::new(
            vec![Id::US],
            ["866-901-3212", "866-399-4096", "+18005550199"],
        )
    }

    #[test]
    fn only_us_lines_a_person_answers_are_called_back() {
        let p = agency();
        let table: &[(&str, Result<(), Refusal>, &str)] = &[
            ("+19162101234", Ok(()), "a Sacramento number"),
            ("+12132101234", Ok(()), "a Los Angeles number"),
            ("+19002101234", Err(Refusal::Kind), "900 premium rate"),
            ("+15309761234", Err(Refusal::Kind), "a 976 exchange"),
            ("+18762101234", Err(Refusal::Region), "Jamaica"),
            (
                "+18092101234",
                Err(Refusal::Region),
                "the Dominican Republic",
            ),
            ("+14734401234", Err(Refusal::Region), "Grenada"),
            (
                "+12844941234",
                Err(Refusal::Region),
                "the British Virgin Islands",
            ),
            ("+16714721234", Err(Refusal::Region), "Guam"),
            ("+19112101234", Err(Refusal::Kind), "an N11 area code"),
            ("+15304111234", Err(Refusal::Kind), "an N11 exchange"),
            ("+18669013212", Err(Refusal::Own), "the agency's own line"),
            ("+18663994096", Err(Refusal::Own), "the agency's TTY line"),
            ("+18002101234", Err(Refusal::Kind), "an 800 number"),
            ("+18882101234", Err(Refusal::Kind), "an 888 number"),
            ("+15305550123", Err(Refusal::Kind), "555-01xx"),
            (
                "+14162101234",
                Err(Refusal::Region),
                "Toronto, not by default",
            ),
            ("+442071234567", Err(Refusal::Invalid), "London"),
            ("anonymous", Err(Refusal::Invalid), "no number"),
            (
                "+4792345678",
                Err(Refusal::Invalid),
                "Norway, read as Arkansas",
            ),
            (
                "+6592345678",
                Err(Refusal::Invalid),
                "Singapore, read as Alabama",
            ),
            (
                "+7378742833",
                Err(Refusal::Invalid),
                "the provider's RESTRICTED",
            ),
            ("+1 916 210 1234", Err(Refusal::Invalid), "spaces"),
            ("19162101234", Err(Refusal::Invalid), "eleven digits keyed"),
            ("9162101234", Ok(()), "ten digits keyed"),
        ];
        for (number, want, what) in table {
            assert_eq!(
                p.check(number, Purpose::Callback, None),
                *want,
                "{what}: {number}"
            );
        }
    }

    #[test]
    fn the_dialled_number_is_the_agencys_own() {
        let p = agency();
        assert_eq!(
            p.check("+19162101234", Purpose::Callback, Some("+19162101234")),
            Err(Refusal::Own)
        );
    }

    #[test]
    fn a_setting_widens_callbacks_to_canada_but_never_texts() {
        let p = Policy::new(vec![Id::US, Id::CA], []);
        assert_eq!(p.check("+14162101234", Purpose::Callback, None), Ok(()));
        assert_eq!(
            p.check("+14162101234", Purpose::Text, None),
            Err(Refusal::Region)
        );
        assert_eq!(p.check("+19162101234", Purpose::Text, None), Ok(()));
        assert_eq!(
            p.check("+18002101234", Purpose::Text, None),
            Err(Refusal::Kind)
        );
    }

    #[test]
    fn numbers_are_ten_nanp_digits() {
        assert_eq!(ten_digits("+15305550123").as_deref(), Some("5305550123"));
        assert_eq!(ten_digits("5305550123").as_deref(), Some("5305550123"));
        assert_eq!(ten_digits("866-901-3212").as_deref(), Some("8669013212"));
        for bad in [
            "",
            "+442071234567",
            "0305550123",
            "5301550123",
            "anonymous",
            "900555012",
        ] {
            assert_eq!(ten_digits(bad), None, "{bad}");
        }
    }
}
