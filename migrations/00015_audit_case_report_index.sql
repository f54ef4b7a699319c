-- The disclosure report of a case (paged JSON and the streamed CSV) walks
-- the case's records in (event_time, agency_id, seq) order from a keyset
-- position. With the whole key in the index, each page is an index range
-- scan of its own length; with only (case_id, event_time) every page of a
-- 100,000-row report re-sorted all rows after the position (0.45 s a
-- chunk, 23 s a report). The new index covers every query the old one
-- served, so the old one goes: the audit trail is the hottest insert path.

-- +goose Up
CREATE INDEX events_case_report_idx ON audit.events (case_id, event_time, agency_id, seq)
    WHERE case_id IS NOT NULL;
DROP INDEX audit.events_case_idx;

-- +goose Down
CREATE INDEX events_case_idx ON audit.events (case_id, event_time) WHERE case_id IS NOT NULL;
DROP INDEX audit.events_case_report_idx;
