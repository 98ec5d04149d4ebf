-- The case database, loaded from the agency's nightly extract (`caseline import`).
--
-- No SSN or PAR ID is stored in clear. Each participant has:
--   ssn_index  HMAC-SHA256 of the SSN's nine digits under CASELINE_BLIND_INDEX_KEY: the
--              caller's SSN is found by computing the same HMAC (one indexed lookup);
--   par_index  the same for the PAR ID: the import's upsert key;
--   par_hash   an argon2id hash of the PAR ID (PHC string), checked at verification,
--              so a stolen database and key still leave each PAR ID costly to guess.
-- Money is INTEGER cents (exact; a SQLite NUMERIC would store a float). Dates are TEXT
-- YYYY-MM-DD; hearing and appointment times are TEXT RFC 3339 with their offset.

CREATE TABLE participants (
    id         INTEGER PRIMARY KEY,
    par_index  TEXT NOT NULL UNIQUE,
    ssn_index  TEXT NOT NULL UNIQUE,
    par_hash   TEXT NOT NULL,
    first_name TEXT NOT NULL,
    last_name  TEXT NOT NULL,
    language   TEXT NOT NULL DEFAULT 'en',
    -- SHA-256 of what the extract said (indexes, names, language): a re-import of an
    -- unchanged participant writes nothing.
    fingerprint TEXT NOT NULL
);

CREATE TABLE cases (
    id                    INTEGER PRIMARY KEY,
    case_number           TEXT NOT NULL UNIQUE,
    county                TEXT NOT NULL,
    status                TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    stage                 TEXT NOT NULL,
    caseworker            TEXT,
    monthly_support_cents INTEGER,
    medical_support       INTEGER,
    next_due              TEXT,
    arrears_cents         INTEGER,
    next_hearing          TEXT,
    next_appointment      TEXT,
    -- SHA-256 of the case as the extract gave it (members, payments and all).
    fingerprint           TEXT NOT NULL
);

-- Who is on a case, and as what. Looked up by participant (the caller).
CREATE TABLE case_members (
    participant_id INTEGER NOT NULL REFERENCES participants (id),
    case_id        INTEGER NOT NULL REFERENCES cases (id),
    role           TEXT NOT NULL CHECK (role IN ('custodial', 'noncustodial')),
    PRIMARY KEY (participant_id, case_id)
);
CREATE INDEX case_members_case ON case_members (case_id);

-- Money received on a case (from the paying parent). Newest first per case.
CREATE TABLE payments (
    id          INTEGER PRIMARY KEY,
    case_id     INTEGER NOT NULL REFERENCES cases (id),
    received_on TEXT NOT NULL,
    amount_cents INTEGER NOT NULL,
    source      TEXT NOT NULL
);
CREATE INDEX payments_by_case ON payments (case_id, received_on DESC);

-- Money sent out to a receiving parent. Newest first per recipient and case.
CREATE TABLE disbursements (
    id             INTEGER PRIMARY KEY,
    case_id        INTEGER NOT NULL REFERENCES cases (id),
    participant_id INTEGER NOT NULL REFERENCES participants (id),
    paid_on        TEXT NOT NULL,
    amount_cents   INTEGER NOT NULL,
    method         TEXT NOT NULL
);
CREATE INDEX disbursements_by_recipient ON disbursements (participant_id, case_id, paid_on DESC);
CREATE INDEX disbursements_by_case ON disbursements (case_id);

-- Failed verifications per SSN (by its blind index, whether or not it exists), shared
-- by every server: five in 24 hours lock that SSN for 24 hours.
CREATE TABLE verify_failures (
    ssn_index    TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL,
    window_start BIGINT NOT NULL,
    locked_until BIGINT
);

-- Every verification attempt and every readback of case data: who (CallSid or staff
-- member), what, the outcome, which participant and case. Never the digits.
CREATE TABLE audit (
    id             INTEGER PRIMARY KEY,
    at             BIGINT NOT NULL,
    call_sid       TEXT,
    actor          TEXT,
    event          TEXT NOT NULL,
    outcome        TEXT NOT NULL,
    participant_id INTEGER,
    case_id        INTEGER
);
CREATE INDEX audit_by_call ON audit (call_sid);
