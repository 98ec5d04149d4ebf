//! The card payments' table: what the processor confirmed for verified callers.

use anyhow::Context;
use rust_decimal::Decimal;
use serde::Serialize;

use super::{CardPayments, on_both, run};

/// A stored payment's status: taken as asked.
pub const PAID: &str = "paid";
/// A stored payment's status: the provider charged another amount than the `<Pay>`
/// asked for (`charged`); staff put it right.
pub const MISMATCH: &str = "amount-mismatch";

/// A payment to store.
pub struct NewPayment<'a> {
    pub confirmation: &'a str,
    /// The `<Pay>` it answers; one payment per `<Pay>`.
    pub pay_id: Option<&'a str>,
    /// [`PAID`] or [`MISMATCH`].
    pub status: &'a str,
    /// What the provider reported charged, kept when it differs from `amount`.
    pub charged: Option<Decimal>,
    pub case_id: i64,
    pub case_number: &'a str,
    pub participant_id: i64,
    pub amount: Decimal,
    pub card_type: &'a str,
    pub card_last4: &'a str,
    pub lang: &'a str,
    pub call_sid: &'a str,
    pub now: i64,
    /// The local agency it belongs to (its id in the agencies file); none: the statewide unit's.
    pub agency: Option<&'a str>,
}

/// A stored payment as staff see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CardPayment {
    pub id: i64,
    pub confirmation: String,
    pub case_number: String,
    pub amount: Decimal,
    pub card_type: String,
    pub card_last4: String,
    pub lang: String,
    pub paid_at: i64,
    /// [`PAID`], or [`MISMATCH`] for one staff must look at.
    pub status: String,
    /// What the provider reported charged, when it was not `amount`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub charged: Option<Decimal>,
    /// The local agency it belongs to (its id in the agencies file); none: the statewide unit's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agency: Option<String>,
}

type Row = (
    i64,
    String,
    String,
    i64,
    String,
    String,
    String,
    i64,
    String,
    Option<i64>,
    Option<String>,
);

fn cents(amount: Decimal) -> anyhow::Result<i64> {
    i64::try_from((amount * Decimal::from(100)).round().mantissa())
        .context("an amount out of range")
}

impl CardPayments<'_> {
    /// Stores a payment; `false` when its `<Pay>` or its (whole) confirmation code is
    /// already stored (a repeated callback), which changes nothing.
    pub async fn add(&self, p: &NewPayment<'_>) -> anyhow::Result<bool> {
        let sql = "INSERT INTO card_payments (confirmation, case_id, case_number, participant_id, \
                   amount_cents, card_type, card_last4, lang, call_sid, paid_at, pay_id, status, \
                   charged_cents, agency) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
                   ON CONFLICT DO NOTHING";
        let amount_cents = cents(p.amount)?;
        let charged_cents = p.charged.map(cents).transpose()?;
        let n = run!(
            self.store,
            write,
            query(
                sql,
                p.confirmation,
                p.case_id,
                p.case_number,
                p.participant_id,
                amount_cents,
                p.card_type,
                p.card_last4,
                p.lang,
                p.call_sid,
                p.now,
                p.pay_id,
                p.status,
                charged_cents,
                p.agency
            )
            .execute,
            "Failed to store the card payment"
        )?;
        Ok(n == 1)
    }

    /// Payments since `since` (Unix seconds), newest first, at most `limit`.
    pub async fn list(&self, since: i64, limit: i64) -> anyhow::Result<Vec<CardPayment>> {
        self.list_of(since, limit, None).await
    }

    /// [`Self::list`], of one agency's payments only when `agency` is given (a local
    /// staff member's, or a statewide one's filter).
    pub async fn list_of(
        &self,
        since: i64,
        limit: i64,
        agency: Option<&str>,
    ) -> anyhow::Result<Vec<CardPayment>> {
        let scoped = if agency.is_some() {
            " AND agency = $3"
        } else {
            ""
        };
        let sql = format!(
            "SELECT id, confirmation, case_number, amount_cents, card_type, card_last4, lang, \
             paid_at, status, charged_cents, agency FROM card_payments WHERE paid_at >= $1{scoped} \
             ORDER BY paid_at DESC, id DESC LIMIT $2"
        );
        let rows: Vec<Row> = on_both!(
            self.store,
            read | pool | {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(since)
                    .bind(limit);
                if let Some(a) = agency {
                    q = q.bind(a);
                }
                q.fetch_all(pool)
                    .await
                    .context("Failed to list card payments")?
            }
        );
        Ok(rows
            .into_iter()
            .map(
                |(
                    id,
                    confirmation,
                    case_number,
                    cents,
                    card_type,
                    card_last4,
                    lang,
                    paid_at,
                    status,
                    charged,
                    agency,
                )| {
                    CardPayment {
                        id,
                        // Rows stored before codes were masked on the way in.
                        confirmation: masked_if_card(&confirmation),
                        case_number,
                        amount: Decimal::new(cents, 2),
                        card_type,
                        card_last4,
                        lang,
                        paid_at,
                        status,
                        charged: charged.map(|c| Decimal::new(c, 2)),
                        agency,
                    }
                },
            )
            .collect())
    }
}

/// What a confirmation code that looks like a card number starts with once masked:
/// only its last four digits are kept.
pub const MASKED: &str = "****";

/// A confirmation code as it may be kept (here, beside the table, because rows stored
/// before codes were masked on the way in are masked on the way out): whole, unless it is shaped like a card number
/// (13 to 19 digits, `-` and `_` aside, passing the Luhn check), which a misconfigured
/// connector might send; then [`MASKED`] and its last four digits, in the session, the
/// store, the staff listing, the readback and the log alike.
pub fn masked_if_card(code: &str) -> String {
    let digits: Vec<u32> = code
        .chars()
        .filter(|c| *c != '-' && *c != '_')
        .map(|c| c.to_digit(10))
        .collect::<Option<_>>()
        .unwrap_or_default();
    if (13..=19).contains(&digits.len()) && luhn(&digits) {
        let last4: String = digits[digits.len() - 4..]
            .iter()
            .filter_map(|d| char::from_digit(*d, 10))
            .collect();
        format!("{MASKED}{last4}")
    } else {
        code.to_string()
    }
}

/// The Luhn check digit test card numbers pass.
fn luhn(digits: &[u32]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| match (i % 2, d * 2) {
            (0, _) => *d,
            (_, twice) if twice > 9 => twice - 9,
            (_, twice) => twice,
        })
        .sum();
    sum.is_multiple_of(10)
}
