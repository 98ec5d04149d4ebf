-- A staff member's hand-off of a live call into the IVR, in a row of its own. It used
-- to live in the call's session, which every webhook of the call rewrites: a webhook
-- saving at the moment of the transfer could lose it. The entry URL the provider is
-- sent to names the row (`/voice/staff/{entry}?handoff={id}`), and the entry webhook
-- copies it into the session, in the call's own order.
CREATE TABLE staff_handoffs (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    call_sid  TEXT NOT NULL,
    entry     TEXT NOT NULL,
    return_to TEXT NOT NULL,
    by_name   TEXT NOT NULL,
    at        BIGINT NOT NULL
);
CREATE INDEX staff_handoffs_by_call ON staff_handoffs (call_sid);
