-- Calls placed by `caseline loadtest` are marked (its signed incoming webhook says so),
-- so the reports leave them out unless asked to include them.
ALTER TABLE call_paths ADD COLUMN load_test BIGINT NOT NULL DEFAULT 0;
