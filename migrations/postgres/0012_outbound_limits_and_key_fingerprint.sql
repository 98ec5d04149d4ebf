-- Hardening II: limits on the numbers the server calls back or texts, and the blind
-- index key's fingerprint.

-- Callback requests per number and agency day (days of the common era), counted as
-- they are stored: at most 3 a day, whatever became of them, across calls and servers.
CREATE TABLE callback_quota (
    number   TEXT NOT NULL,
    day      BIGINT NOT NULL,
    requests BIGINT NOT NULL,
    PRIMARY KEY (number, day)
);

-- One request not closed per call. A call that left several before this (the attack
-- that found the gap left 299) keeps one: one a staff member or the dialer is working
-- on if there is one, else its first; the others are cancelled.
UPDATE callbacks SET status = 'cancelled', closed_at = requested_at, outcome = 'duplicate in one call'
 WHERE status = 'open'
   AND EXISTS (SELECT 1 FROM callbacks o
                WHERE o.call_sid = callbacks.call_sid AND o.id <> callbacks.id
                  AND o.status NOT IN ('done', 'unreached', 'cancelled', 'failed')
                  AND (o.status <> 'open' OR o.id < callbacks.id));
UPDATE callbacks SET status = 'cancelled', closed_at = requested_at, outcome = 'duplicate in one call'
 WHERE status NOT IN ('done', 'unreached', 'cancelled', 'failed')
   AND id NOT IN (SELECT MIN(id) FROM callbacks
                   WHERE status NOT IN ('done', 'unreached', 'cancelled', 'failed')
                   GROUP BY call_sid);
CREATE UNIQUE INDEX callbacks_one_open_per_call ON callbacks (call_sid)
    WHERE status NOT IN ('done', 'unreached', 'cancelled', 'failed');

-- When a request's reference number was texted: once per request, whatever the call.
ALTER TABLE service_requests ADD COLUMN texted_at BIGINT;

-- Fingerprints of the keys stored data depends on (an HMAC of a fixed label under the
-- key, never the key), so a server started with another key refuses to start instead
-- of failing every caller.
CREATE TABLE key_fingerprints (
    name        TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL
);
