-- Each <Pay> the server sends has its own id (in its action URL); a payment is stored
-- once per id, so a second result for the same <Pay> (even with a new confirmation
-- code) adds nothing. A result whose amount is not the <Pay>'s is kept for staff as an
-- `amount-mismatch`, with what the provider reported charged, never as a `paid` row.
-- The confirmation code is no longer unique as such: one that looks like a card number
-- is kept as its last four digits only, and two payments may share those. A code kept
-- whole is still unique (a partial index). SQLite cannot drop a UNIQUE constraint, so
-- the table is rebuilt.
CREATE TABLE card_payments_new (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    confirmation   TEXT NOT NULL,
    case_id        BIGINT NOT NULL,
    case_number    TEXT NOT NULL,
    participant_id BIGINT NOT NULL,
    amount_cents   BIGINT NOT NULL,
    card_type      TEXT NOT NULL,
    card_last4     TEXT NOT NULL,
    lang           TEXT NOT NULL,
    call_sid       TEXT NOT NULL,
    paid_at        BIGINT NOT NULL,
    pay_id         TEXT UNIQUE,
    status         TEXT NOT NULL DEFAULT 'paid',
    charged_cents  BIGINT
);
INSERT INTO card_payments_new (id, confirmation, case_id, case_number, participant_id,
    amount_cents, card_type, card_last4, lang, call_sid, paid_at)
SELECT id, confirmation, case_id, case_number, participant_id, amount_cents, card_type,
    card_last4, lang, call_sid, paid_at FROM card_payments;
DROP TABLE card_payments;
ALTER TABLE card_payments_new RENAME TO card_payments;
CREATE INDEX card_payments_by_time ON card_payments (paid_at);
CREATE UNIQUE INDEX card_payments_by_confirmation ON card_payments (confirmation)
    WHERE confirmation NOT LIKE '****%';
