-- Live calls, one row per CallSid. The state is JSON (crate::session::Session) so the
-- flow can grow without a migration each time; it never holds an SSN, a PAR ID or
-- anything the caller keyed. Times are Unix seconds.
CREATE TABLE call_sessions (
    call_sid   TEXT PRIMARY KEY,
    state      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    ended_at   BIGINT,
    end_status TEXT
);
-- The sweeper deletes by age.
CREATE INDEX call_sessions_updated_at ON call_sessions (updated_at);

-- The emergency announcement slot: at most one row. Silent when empty or out of its
-- window, so every server plays or stops it at once.
CREATE TABLE announcement (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    text_en    TEXT NOT NULL,
    text_es    TEXT NOT NULL,
    starts_at  BIGINT,
    ends_at    BIGINT,
    updated_at BIGINT NOT NULL
);
