-- Each call's path through the IVR, kept compactly when it ends, for the call analytics
-- (`caseline report`). No caller data: the calling number only as a keyed hash (to
-- count repeat callers), never the number itself. Deleted after CASELINE_ANALYTICS_DAYS.
CREATE TABLE call_paths (
    call_sid        TEXT PRIMARY KEY,
    started_at      BIGINT NOT NULL,
    ended_at        BIGINT NOT NULL,
    lang            TEXT NOT NULL,
    channel         TEXT NOT NULL,
    verified        BIGINT NOT NULL,
    verify_attempts BIGINT NOT NULL,
    verify_locked   BIGINT NOT NULL,
    -- contained, transferred, callback or abandoned
    outcome         TEXT NOT NULL,
    ended_on        TEXT NOT NULL,
    -- the steps in order, comma-separated
    steps           TEXT NOT NULL,
    caller_hash     TEXT
);
CREATE INDEX call_paths_by_end ON call_paths (ended_at);
