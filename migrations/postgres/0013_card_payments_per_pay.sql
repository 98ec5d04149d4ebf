-- Each <Pay> the server sends has its own id (in its action URL); a payment is stored
-- once per id, so a second result for the same <Pay> (even with a new confirmation
-- code) adds nothing. A result whose amount is not the <Pay>'s is kept for staff as an
-- `amount-mismatch`, with what the provider reported charged, never as a `paid` row.
-- The confirmation code is no longer unique as such: one that looks like a card number
-- is kept as its last four digits only, and two payments may share those. A code kept
-- whole is still unique (a partial index).
ALTER TABLE card_payments DROP CONSTRAINT card_payments_confirmation_key;
ALTER TABLE card_payments ADD COLUMN pay_id TEXT UNIQUE;
ALTER TABLE card_payments ADD COLUMN status TEXT NOT NULL DEFAULT 'paid';
ALTER TABLE card_payments ADD COLUMN charged_cents BIGINT;
CREATE UNIQUE INDEX card_payments_by_confirmation ON card_payments (confirmation)
    WHERE confirmation NOT LIKE '****%';
