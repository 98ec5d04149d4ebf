-- Staff accounts for the console and the staff API. Passwords are argon2id PHC
-- strings. Five wrong passwords in a row lock the account for a while. Times are Unix
-- seconds.
CREATE TABLE staff (
    id            BIGSERIAL PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    disabled_at   BIGINT,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until  BIGINT,
    created_at    BIGINT NOT NULL
);

-- Login sessions: only the SHA-256 of the token is kept, so a copy of the database
-- cannot be used to sign in.
CREATE TABLE staff_sessions (
    token_hash TEXT PRIMARY KEY,
    staff_id   BIGINT NOT NULL REFERENCES staff (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);

-- Wrong passwords by client address, for the per-address limit.
CREATE TABLE staff_login_failures (
    address TEXT NOT NULL,
    at      BIGINT NOT NULL
);
CREATE INDEX staff_login_failures_by_address ON staff_login_failures (address, at);
