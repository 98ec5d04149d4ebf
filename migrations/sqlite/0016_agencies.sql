-- Issue 29: the local agency (its id in the agencies file) each record belongs to, and
-- each staff account works for. NULL: the statewide unit (a statewide account sees all).
ALTER TABLE staff ADD COLUMN agency TEXT;
ALTER TABLE callbacks ADD COLUMN agency TEXT;
ALTER TABLE service_requests ADD COLUMN agency TEXT;
ALTER TABLE card_payments ADD COLUMN agency TEXT;
ALTER TABLE call_paths ADD COLUMN agency TEXT;
