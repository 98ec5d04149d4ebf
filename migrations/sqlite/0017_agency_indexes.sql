-- Issue 29: a local agency's staff list their own agency's records and read its
-- reports (`WHERE agency = $n`, with the status or the time as before); without these
-- each listing read every agency's rows.
CREATE INDEX callbacks_by_agency ON callbacks (agency, status, requested_at);
CREATE INDEX service_requests_by_agency ON service_requests (agency, status, requested_at);
CREATE INDEX card_payments_by_agency ON card_payments (agency, paid_at);
CREATE INDEX call_paths_by_agency ON call_paths (agency, ended_at);
