-- The Evidence service (issue 4): exhibit metadata, the per-item chain of
-- custody (append-only, hash-chained), integrity checks, idempotency keys.
-- h_i = SHA-256(h_{i-1} || canonical(event_i)); h_0 = 32 zero bytes. The
-- item row anchors the chain (custody_count, custody_head) so a deleted last
-- event is detected too.

-- +goose Up
CREATE SCHEMA evidence;

-- One counter per case: exhibit numbers are handed out inside the creating
-- transaction, so they are dense and unique per case.
CREATE TABLE evidence.exhibit_counters (
    case_id uuid PRIMARY KEY,
    last    int NOT NULL
);

CREATE TABLE evidence.items (
    id                    uuid PRIMARY KEY,
    case_id               uuid NOT NULL,
    case_number           text NOT NULL,
    exhibit_seq           int NOT NULL CHECK (exhibit_seq > 0),
    exhibit_number        text NOT NULL UNIQUE,
    parent_id             uuid REFERENCES evidence.items (id),
    description           text NOT NULL,
    kind                  text NOT NULL CHECK (kind IN ('DEVICE', 'DISK_IMAGE', 'MOBILE_EXTRACTION',
                              'CLOUD_ACCOUNT_RETURN', 'NETWORK_CAPTURE', 'LOG_EXPORT', 'DOCUMENT', 'OTHER')),
    sha256                text NOT NULL DEFAULT '' CHECK (sha256 ~ '^([0-9a-f]{64})?$'),
    md5                   text NOT NULL DEFAULT '' CHECK (md5 ~ '^([0-9a-f]{32})?$'),
    sha1                  text NOT NULL DEFAULT '' CHECK (sha1 ~ '^([0-9a-f]{40})?$'),
    size_bytes            bigint NOT NULL DEFAULT 0 CHECK (size_bytes >= 0),
    acquire_time          timestamptz,
    acquired_by           text NOT NULL DEFAULT '',
    acquire_method        text NOT NULL DEFAULT '',
    acquire_tool          text NOT NULL DEFAULT '',
    acquire_tool_version  text NOT NULL DEFAULT '',
    source_location       text NOT NULL DEFAULT '',
    authority_type        text NOT NULL DEFAULT 'UNSPECIFIED',
    authority_identifier  text NOT NULL DEFAULT '',
    authority_issuer      text NOT NULL DEFAULT '',
    authority_expire_time timestamptz,
    storage_location      text NOT NULL DEFAULT '',
    current_custodian     text NOT NULL DEFAULT '',
    holding_agency_id     uuid NOT NULL,
    holding_agency_ori    text NOT NULL DEFAULT '',
    status                text NOT NULL CHECK (status IN ('IN_CUSTODY', 'CHECKED_OUT', 'TRANSFERRED', 'RETURNED', 'DESTROYED')),
    compromised           boolean NOT NULL DEFAULT false,
    last_verify_time      timestamptz,
    custody_count         bigint NOT NULL DEFAULT 0,
    custody_head          bytea NOT NULL,
    create_time           timestamptz NOT NULL,
    update_time           timestamptz NOT NULL,
    create_user_id        uuid NOT NULL,
    create_user_email     text NOT NULL,
    version               bigint NOT NULL DEFAULT 1,
    UNIQUE (case_id, exhibit_seq)
);
CREATE INDEX items_parent_idx ON evidence.items (parent_id) WHERE parent_id IS NOT NULL;

CREATE TABLE evidence.custody_events (
    evidence_id       uuid NOT NULL REFERENCES evidence.items (id),
    seq               bigint NOT NULL CHECK (seq > 0),
    id                uuid NOT NULL UNIQUE,
    action            text NOT NULL CHECK (action IN ('INTAKE', 'CHECK_IN', 'CHECK_OUT', 'TRANSFER', 'ANALYSIS', 'RETURN', 'DESTRUCTION')),
    event_time        timestamptz NOT NULL,
    from_custodian    text NOT NULL DEFAULT '',
    to_custodian      text NOT NULL DEFAULT '',
    to_agency_id      uuid,
    location          text NOT NULL DEFAULT '',
    purpose           text NOT NULL DEFAULT '',
    from_agency_id    uuid,
    holding_agency_id uuid NOT NULL,
    from_status       text NOT NULL DEFAULT '',
    to_status         text NOT NULL,
    actor_user_id     uuid NOT NULL,
    actor_email       text NOT NULL,
    actor_agency_id   uuid NOT NULL,
    actor_agency_ori  text NOT NULL,
    create_time       timestamptz NOT NULL,
    prev_hash         bytea NOT NULL,
    hash              bytea NOT NULL,
    -- One event per position: two appends can never share a sequence number,
    -- so the chain cannot fork even if the item lock were bypassed.
    PRIMARY KEY (evidence_id, seq)
);

-- Custody is append-only: refuse UPDATE and DELETE outright. Verification
-- does not rely on this (it recomputes the chain), it is defence in depth.
-- +goose StatementBegin
CREATE FUNCTION evidence.custody_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'evidence.custody_events is append-only' USING ERRCODE = 'insufficient_privilege';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER custody_append_only BEFORE UPDATE OR DELETE ON evidence.custody_events
    FOR EACH ROW EXECUTE FUNCTION evidence.custody_append_only();

CREATE TABLE evidence.integrity_checks (
    id              uuid PRIMARY KEY,
    evidence_id     uuid NOT NULL REFERENCES evidence.items (id),
    expected_sha256 text NOT NULL,
    computed_sha256 text NOT NULL,
    match           boolean NOT NULL,
    tool            text NOT NULL DEFAULT '',
    comment         text NOT NULL DEFAULT '',
    user_id         uuid NOT NULL,
    user_email      text NOT NULL,
    agency_id       uuid NOT NULL,
    create_time     timestamptz NOT NULL
);
CREATE INDEX integrity_checks_item_idx ON evidence.integrity_checks (evidence_id, create_time);

-- Idempotency keys for Create methods: (user, method, request_id) -> resource.
CREATE TABLE evidence.idempotency_keys (
    user_id     uuid NOT NULL,
    method      text NOT NULL,
    request_id  uuid NOT NULL,
    resource_id uuid,
    create_time timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, method, request_id)
);

-- +goose Down
DROP SCHEMA evidence CASCADE;
