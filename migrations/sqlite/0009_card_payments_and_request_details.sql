-- Card payments a verified paying parent made by phone through the provider's <Pay>
-- (PCI mode at the provider: the card number never reaches us). What the processor
-- confirmed, once per confirmation code (a repeated callback stores nothing twice).
-- Of the card, its type and last four digits only. Money in cents; times Unix seconds.
CREATE TABLE card_payments (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    confirmation   TEXT NOT NULL UNIQUE,
    case_id        BIGINT NOT NULL,
    case_number    TEXT NOT NULL,
    participant_id BIGINT NOT NULL,
    amount_cents   BIGINT NOT NULL,
    card_type      TEXT NOT NULL,
    card_last4     TEXT NOT NULL,
    lang           TEXT NOT NULL,
    call_sid       TEXT NOT NULL,
    paid_at        BIGINT NOT NULL
);
CREATE INDEX card_payments_by_time ON card_payments (paid_at);

-- Requests that carry more than their kind: the check a caller reports missing (its
-- date and amount), and the provider's SID of a recorded new address (the recording
-- stays private at the provider; staff play it through the server).
ALTER TABLE service_requests ADD COLUMN details TEXT;
ALTER TABLE service_requests ADD COLUMN recording_sid TEXT;
