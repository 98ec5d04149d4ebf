-- Each call session's turn (see Session::turn): a queued change of position is written
-- only over an older turn, never over a later save.
ALTER TABLE call_sessions ADD COLUMN turn bigint NOT NULL DEFAULT 0;
