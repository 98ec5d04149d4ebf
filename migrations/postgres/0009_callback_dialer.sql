-- The callback dialer: each request's attempts, when it is next due, and the dialer's
-- pause switch (one row, shared by every server).
ALTER TABLE callbacks ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE callbacks ADD COLUMN due_at BIGINT;
-- The dial under way: when it was claimed, and the provider's CallSid once placed.
ALTER TABLE callbacks ADD COLUMN dialled_at BIGINT;
ALTER TABLE callbacks ADD COLUMN dial_sid TEXT;
-- A request is open, claimed, dialling, connected, done, or closed as unreached,
-- cancelled or failed; one not closed per number.
DROP INDEX callbacks_one_open;
CREATE UNIQUE INDEX callbacks_one_open ON callbacks (number)
    WHERE status NOT IN ('done', 'unreached', 'cancelled', 'failed');

-- Every dial and how it ended (no-answer, busy, failed, machine, human, refused...).
CREATE TABLE callback_attempts (
    id          BIGSERIAL PRIMARY KEY,
    callback_id BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    call_sid    TEXT,
    result      TEXT NOT NULL
);
CREATE INDEX callback_attempts_by_request ON callback_attempts (callback_id, at);

CREATE TABLE dialer_state (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    paused BIGINT NOT NULL DEFAULT 0
);
INSERT INTO dialer_state (id, paused) VALUES (1, 0);
