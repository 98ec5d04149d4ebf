-- Each TTY stream token taken by a stream's `start`, once. The first insert of a token
-- gets the stream: two `start`s with one token, on one server or two, get one stream
-- between them (reading the session and saving it without the token is not atomic).
-- Tokens are random per stream and hold nothing of the caller; rows are deleted with
-- the sessions. Times are Unix seconds.
CREATE TABLE stream_starts (
    token    TEXT PRIMARY KEY,
    call_sid TEXT NOT NULL,
    taken_at BIGINT NOT NULL
);
CREATE INDEX stream_starts_taken_at ON stream_starts (taken_at);
