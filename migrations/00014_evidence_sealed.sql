-- Evidence a court can verify (issue 14).
--
-- The INTAKE event seals the exhibit's registration record: its canonical
-- JSON is stored in the event (column registration) and covered by the
-- event's hash, so the verifier recomputes it from the item row and names the
-- first field that changed. Integrity checks are custody events
-- (INTEGRITY_CHECK, with the submitted hash, the tool and the result), so
-- `compromised` and `last_verify_time` are replayed from the chain. An event
-- dated before its predecessor is a late entry and carries its reason. A
-- transfer to another agency records that agency's ORI (to_agency_ori), so
-- the holder's ORI is replayed too.
--
-- Privileges of the runtime role: on evidence.items only the columns that
-- custody legitimately moves may be updated (the verifier checks each of them
-- against the chain); nothing in schema evidence may be deleted or
-- truncated. A later table in schema evidence gets DELETE through the
-- default privileges of 00007: its migration must revoke it.

-- +goose Up
ALTER TABLE evidence.custody_events
    ADD COLUMN registration          text NOT NULL DEFAULT '',
    ADD COLUMN late_entry            boolean NOT NULL DEFAULT false,
    ADD COLUMN late_entry_reason     text NOT NULL DEFAULT '',
    ADD COLUMN check_sha256          text NOT NULL DEFAULT '',
    ADD COLUMN check_expected_sha256 text NOT NULL DEFAULT '',
    ADD COLUMN check_match           boolean,
    ADD COLUMN check_tool            text NOT NULL DEFAULT '',
    ADD COLUMN to_agency_ori         text NOT NULL DEFAULT '',
    ADD CONSTRAINT custody_events_late_reason CHECK (NOT late_entry OR late_entry_reason <> '');

ALTER TABLE evidence.custody_events DROP CONSTRAINT custody_events_action_check;
ALTER TABLE evidence.custody_events ADD CONSTRAINT custody_events_action_check
    CHECK (action IN ('INTAKE', 'CHECK_IN', 'CHECK_OUT', 'TRANSFER', 'ANALYSIS', 'RETURN', 'DESTRUCTION', 'INTEGRITY_CHECK'));

-- The integrity-check history is read from the chain (action INTEGRITY_CHECK).
CREATE INDEX custody_events_checks_idx ON evidence.custody_events (evidence_id, seq) WHERE action = 'INTEGRITY_CHECK';

REVOKE UPDATE ON evidence.items FROM casebridge_app;
GRANT UPDATE (storage_location, current_custodian, holding_agency_id, holding_agency_ori, status, compromised,
    last_verify_time, custody_count, custody_head, update_time, version) ON evidence.items TO casebridge_app;
-- Superseded by INTEGRITY_CHECK events: kept for the checks recorded before
-- them, read-only.
REVOKE INSERT, UPDATE ON evidence.integrity_checks FROM casebridge_app;
REVOKE DELETE, TRUNCATE ON ALL TABLES IN SCHEMA evidence FROM casebridge_app;

-- +goose Down
GRANT DELETE ON ALL TABLES IN SCHEMA evidence TO casebridge_app;
REVOKE DELETE ON evidence.custody_events FROM casebridge_app;
GRANT INSERT, UPDATE ON evidence.integrity_checks TO casebridge_app;
GRANT UPDATE ON evidence.items TO casebridge_app;
DROP INDEX evidence.custody_events_checks_idx;
ALTER TABLE evidence.custody_events DROP CONSTRAINT custody_events_action_check;
ALTER TABLE evidence.custody_events ADD CONSTRAINT custody_events_action_check
    CHECK (action IN ('INTAKE', 'CHECK_IN', 'CHECK_OUT', 'TRANSFER', 'ANALYSIS', 'RETURN', 'DESTRUCTION'));
ALTER TABLE evidence.custody_events
    DROP CONSTRAINT custody_events_late_reason,
    DROP COLUMN registration,
    DROP COLUMN late_entry,
    DROP COLUMN late_entry_reason,
    DROP COLUMN check_sha256,
    DROP COLUMN check_expected_sha256,
    DROP COLUMN check_match,
    DROP COLUMN check_tool,
    DROP COLUMN to_agency_ori;
