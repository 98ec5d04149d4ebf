//! What a case is, in the words of the agency's extract.

use chrono::{DateTime, FixedOffset, NaiveDate};
use rust_decimal::Decimal;

macro_rules! word_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &[$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $word),+ }
            }

            pub fn parse(s: &str) -> Option<$name> {
                match s { $($word => Some($name::$variant),)+ _ => None }
            }

            /// The accepted words, for error messages.
            pub fn words() -> String {
                [$($word),+].join(", ")
            }
        }
    };
}

word_enum!(
    /// A participant's part in a case.
    Role { Custodial = "custodial", Noncustodial = "noncustodial" }
);
word_enum!(
    /// The ten steps of a child support case.
    Stage {
        Enrollment = "enrollment",
        Locate = "locate",
        SummonsAndComplaint = "summons_and_complaint",
        Parentage = "parentage",
        StipulatedAgreement = "stipulated_agreement",
        CourtOrder = "court_order",
        Payments = "payments",
        Enforcement = "enforcement",
        Modification = "modification",
        Closing = "closing",
    }
);
word_enum!(
    /// Where a payment came from.
    Source {
        WageWithholding = "wage_withholding",
        TaxRefundIntercept = "tax_refund_intercept",
        UnemploymentBenefits = "unemployment_benefits",
        DirectPayment = "direct_payment",
        Other = "other",
    }
);
word_enum!(
    /// How money was sent to a receiving parent.
    Method { EpcCard = "epc_card", DirectDeposit = "direct_deposit", Check = "check" }
);
word_enum!(
    CaseStatus { Open = "open", Closed = "closed" }
);

/// A case as the IVR reads it back.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub id: i64,
    pub case_number: String,
    pub county: String,
    pub status: CaseStatus,
    pub stage: Stage,
    pub caseworker: Option<String>,
    pub monthly_support: Option<Decimal>,
    pub medical_support: Option<bool>,
    pub next_due: Option<NaiveDate>,
    pub arrears: Option<Decimal>,
    pub next_hearing: Option<DateTime<FixedOffset>>,
    pub next_appointment: Option<DateTime<FixedOffset>>,
}

impl Case {
    /// The last four digits, which callers use to tell their cases apart.
    pub fn ending(&self) -> &str {
        ending(&self.case_number)
    }
}

/// A case number's last four digits.
pub fn ending(case_number: &str) -> &str {
    &case_number[case_number.len().saturating_sub(4)..]
}

/// One of the caller's cases, for choosing between them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CaseRef {
    pub case_id: i64,
    pub case_number: String,
    pub role: Role,
}

impl CaseRef {
    /// The last four digits of its number.
    pub fn ending(&self) -> &str {
        ending(&self.case_number)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Payment {
    pub received_on: NaiveDate,
    pub amount: Decimal,
    pub source: Source,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Disbursement {
    pub paid_on: NaiveDate,
    pub amount: Decimal,
    pub method: Method,
}
