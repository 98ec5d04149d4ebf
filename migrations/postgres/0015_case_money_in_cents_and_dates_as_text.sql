-- One representation of the case tables on both stores, the one SQLite has kept from
-- the start: money as BIGINT cents, dates as TEXT YYYY-MM-DD, hearing and appointment
-- times as TEXT RFC 3339. The store then reads and writes cases with one statement for
-- both backends instead of a twin per backend. Exact either way: NUMERIC(14, 2) times
-- 100 is a whole number. Text dates sort as the dates did, so the indexes keep their
-- order. Times kept as TIMESTAMPTZ lost the offset the extract gave them; they are
-- written in UTC (the IVR says them in the agency's zone, whatever the offset), and the
-- next import writes them as the extract gives them.

ALTER TABLE cases RENAME COLUMN monthly_support TO monthly_support_cents;
ALTER TABLE cases ALTER COLUMN monthly_support_cents TYPE BIGINT
    USING (monthly_support_cents * 100)::BIGINT;
ALTER TABLE cases RENAME COLUMN arrears TO arrears_cents;
ALTER TABLE cases ALTER COLUMN arrears_cents TYPE BIGINT USING (arrears_cents * 100)::BIGINT;
ALTER TABLE cases ALTER COLUMN next_due TYPE TEXT USING to_char(next_due, 'YYYY-MM-DD');
ALTER TABLE cases ALTER COLUMN next_hearing TYPE TEXT
    USING to_char(next_hearing AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"');
ALTER TABLE cases ALTER COLUMN next_appointment TYPE TEXT
    USING to_char(next_appointment AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"');

ALTER TABLE payments RENAME COLUMN amount TO amount_cents;
ALTER TABLE payments ALTER COLUMN amount_cents TYPE BIGINT USING (amount_cents * 100)::BIGINT;
ALTER TABLE payments ALTER COLUMN received_on TYPE TEXT USING to_char(received_on, 'YYYY-MM-DD');

ALTER TABLE disbursements RENAME COLUMN amount TO amount_cents;
ALTER TABLE disbursements ALTER COLUMN amount_cents TYPE BIGINT
    USING (amount_cents * 100)::BIGINT;
ALTER TABLE disbursements ALTER COLUMN paid_on TYPE TEXT USING to_char(paid_on, 'YYYY-MM-DD');
