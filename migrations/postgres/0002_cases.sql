-- The case database, loaded from the agency's nightly extract (`caseline import`).
--
-- No SSN or PAR ID is stored in clear: ssn_index and par_index are HMAC-SHA256 blind
-- indexes under CASELINE_BLIND_INDEX_KEY (lookup and upsert keys), par_hash an argon2id
-- hash of the PAR ID checked at verification. Money is NUMERIC(14,2), exact.

CREATE TABLE participants (
    id         BIGSERIAL PRIMARY KEY,
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
    id               BIGSERIAL PRIMARY KEY,
    case_number      TEXT NOT NULL UNIQUE,
    county           TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    stage            TEXT NOT NULL,
    caseworker       TEXT,
    monthly_support  NUMERIC(14, 2),
    medical_support  BOOLEAN,
    next_due         DATE,
    arrears          NUMERIC(14, 2),
    next_hearing     TIMESTAMPTZ,
    next_appointment TIMESTAMPTZ,
    fingerprint      TEXT NOT NULL
);

CREATE TABLE case_members (
    participant_id BIGINT NOT NULL REFERENCES participants (id),
    case_id        BIGINT NOT NULL REFERENCES cases (id),
    role           TEXT NOT NULL CHECK (role IN ('custodial', 'noncustodial')),
    PRIMARY KEY (participant_id, case_id)
);
CREATE INDEX case_members_case ON case_members (case_id);

CREATE TABLE payments (
    id          BIGSERIAL PRIMARY KEY,
    case_id     BIGINT NOT NULL REFERENCES cases (id),
    received_on DATE NOT NULL,
    amount      NUMERIC(14, 2) NOT NULL,
    source      TEXT NOT NULL
);
CREATE INDEX payments_by_case ON payments (case_id, received_on DESC);

CREATE TABLE disbursements (
    id             BIGSERIAL PRIMARY KEY,
    case_id        BIGINT NOT NULL REFERENCES cases (id),
    participant_id BIGINT NOT NULL REFERENCES participants (id),
    paid_on        DATE NOT NULL,
    amount         NUMERIC(14, 2) NOT NULL,
    method         TEXT NOT NULL
);
CREATE INDEX disbursements_by_recipient ON disbursements (participant_id, case_id, paid_on DESC);
CREATE INDEX disbursements_by_case ON disbursements (case_id);

CREATE TABLE verify_failures (
    ssn_index    TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL,
    window_start BIGINT NOT NULL,
    locked_until BIGINT
);

CREATE TABLE audit (
    id             BIGSERIAL PRIMARY KEY,
    at             BIGINT NOT NULL,
    call_sid       TEXT,
    actor          TEXT,
    event          TEXT NOT NULL,
    outcome        TEXT NOT NULL,
    participant_id BIGINT,
    case_id        BIGINT
);
CREATE INDEX audit_by_call ON audit (call_sid);
