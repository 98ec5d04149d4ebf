-- Every webhook rewrites its session row. Keyed by CallSid with no rowid, the row lives
-- in the primary-key b-tree itself, so a save touches one b-tree fewer (the commit
-- writes fewer pages to the log).
CREATE TABLE call_sessions_by_sid (
    call_sid   TEXT PRIMARY KEY,
    state      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    ended_at   BIGINT,
    end_status TEXT
) WITHOUT ROWID;
INSERT INTO call_sessions_by_sid (call_sid, state, created_at, updated_at, ended_at, end_status)
    SELECT call_sid, state, created_at, updated_at, ended_at, end_status FROM call_sessions;
DROP TABLE call_sessions;
ALTER TABLE call_sessions_by_sid RENAME TO call_sessions;
CREATE INDEX call_sessions_updated_at ON call_sessions (updated_at);
