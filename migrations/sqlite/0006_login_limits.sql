-- Staff login guesses, counted per name typed (whether or not an account has that
-- name, so a locked account and an unknown name answer alike) and per client address,
-- in one table shaped like verify_failures. Each guess is counted *before* its
-- password check (see src/store/attempts.rs), so simultaneous guesses cannot all pass
-- the check. Keys are 'name:<SHA-256 of the name>' (a password typed into the name
-- box is never kept) and 'addr:<address>'.
CREATE TABLE staff_login_limits (
    key          TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL DEFAULT 0,
    window_start BIGINT NOT NULL,
    locked_until BIGINT
);

-- Replaced by the table above: the account's own count, and one row per failure.
DROP TABLE staff_login_failures;
ALTER TABLE staff DROP COLUMN failed_logins;
ALTER TABLE staff DROP COLUMN locked_until;
