-- Callback requests: a caller asked the Customer Service Unit to call them back. The
-- number is kept as keyed or as the provider gave it (E.164): staff must be able to
-- dial it. Never an SSN or PAR ID; the case number and role only when the caller was
-- verified. Times are Unix seconds.
CREATE TABLE callbacks (
    id           BIGSERIAL PRIMARY KEY,
    number       TEXT NOT NULL,
    lang         TEXT NOT NULL,
    channel      TEXT NOT NULL,
    call_sid     TEXT NOT NULL,
    case_number  TEXT,
    role         TEXT,
    -- open, claimed (a staff member is on it), done
    status       TEXT NOT NULL DEFAULT 'open',
    requested_at BIGINT NOT NULL,
    claimed_by   TEXT,
    claimed_at   BIGINT,
    closed_at    BIGINT,
    outcome      TEXT
);
-- One open request per number: a second request finds the first.
CREATE UNIQUE INDEX callbacks_one_open ON callbacks (number) WHERE status <> 'done';
CREATE INDEX callbacks_status ON callbacks (status, requested_at);
