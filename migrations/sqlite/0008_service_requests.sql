-- Things a verified caller asked for by phone (a payment history by mail, the direct
-- deposit or card enrollment form), for staff to work like callbacks. The reference
-- number is read back to the caller. Never an SSN or PAR ID: the case and participant
-- are row ids, the case number as staff know it. Times are Unix seconds.
CREATE TABLE service_requests (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    reference      TEXT NOT NULL UNIQUE,
    kind           TEXT NOT NULL,
    case_id        BIGINT NOT NULL,
    case_number    TEXT NOT NULL,
    participant_id BIGINT NOT NULL,
    lang           TEXT NOT NULL,
    call_sid       TEXT NOT NULL,
    -- open, claimed (a staff member is on it), done
    status         TEXT NOT NULL DEFAULT 'open',
    requested_at   BIGINT NOT NULL,
    claimed_by     TEXT,
    claimed_at     BIGINT,
    closed_at      BIGINT,
    outcome        TEXT
);
-- One open request of a kind per case: a second one finds the first.
CREATE UNIQUE INDEX service_requests_one_open ON service_requests (case_id, kind) WHERE status <> 'done';
CREATE INDEX service_requests_status ON service_requests (status, requested_at);
