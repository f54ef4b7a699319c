-- The audit trail (DESIGN.md §4): append-only, one hash chain per agency.
-- h_i = SHA-256(h_{i-1} || canonical(record_i)); the first record of a chain
-- has h_0 = 32 zero bytes. The chain of the nil UUID holds calls made
-- without a valid identity.

-- +goose Up
CREATE SCHEMA audit;

CREATE TABLE audit.events (
    agency_id           uuid NOT NULL,
    seq                 bigint NOT NULL CHECK (seq > 0),
    id                  uuid NOT NULL UNIQUE,
    event_time          timestamptz NOT NULL,
    request_id          text NOT NULL,
    user_id             uuid,
    user_email          text NOT NULL DEFAULT '',
    agency_ori          text NOT NULL DEFAULT '',
    roles               text[] NOT NULL DEFAULT '{}',
    client_addr         text NOT NULL DEFAULT '',
    user_agent          text NOT NULL DEFAULT '',
    service             text NOT NULL,
    method              text NOT NULL,
    action              text NOT NULL,
    resource_type       text NOT NULL DEFAULT '',
    resource_id         text NOT NULL DEFAULT '',
    case_id             uuid,
    outcome             text NOT NULL CHECK (outcome IN ('ALLOWED', 'DENIED', 'FAILED')),
    status_code         text NOT NULL,
    purpose             text NOT NULL DEFAULT '',
    recipient_agency_id uuid,
    changes             jsonb,
    prev_hash           bytea NOT NULL,
    hash                bytea NOT NULL,
    PRIMARY KEY (agency_id, seq)
);
CREATE INDEX events_case_idx ON audit.events (case_id, event_time) WHERE case_id IS NOT NULL;
CREATE INDEX events_agency_time_idx ON audit.events (agency_id, event_time);

-- +goose Down
DROP SCHEMA audit CASCADE;
