-- Append-only records stay append-only for the runtime role too: the case
-- timeline and the chain of custody are, like the audit trail, inserted and
-- read, never changed. (Their triggers refuse UPDATE and DELETE as well; the
-- grants mean even a disabled trigger would not let the application edit
-- history.)

-- +goose Up
REVOKE UPDATE, DELETE, TRUNCATE ON cases.notes FROM casebridge_app;
REVOKE UPDATE, DELETE, TRUNCATE ON evidence.custody_events FROM casebridge_app;

-- +goose Down
GRANT UPDATE, DELETE ON cases.notes TO casebridge_app;
GRANT UPDATE, DELETE ON evidence.custody_events TO casebridge_app;
