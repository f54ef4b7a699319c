-- Initial schemas: the agency directory (owned by the liaison service), the
-- authorization relations (shared library pkg/authz), and the Cases service.
-- Each service owns its schema and is the only writer to it (DESIGN.md §2).

-- +goose Up
CREATE SCHEMA liaison;

CREATE TABLE liaison.agencies (
    id           uuid PRIMARY KEY,
    ori          text NOT NULL UNIQUE CHECK (ori ~ '^[A-Z]{2}[A-Z0-9]{7}$'),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    kind         text NOT NULL CHECK (kind IN ('STATE', 'MUNICIPAL', 'REGIONAL', 'FEDERAL')),
    jurisdiction text NOT NULL DEFAULT '',
    active       boolean NOT NULL DEFAULT true,
    create_time  timestamptz NOT NULL DEFAULT now(),
    update_time  timestamptz NOT NULL DEFAULT now()
);

-- A user is bound to one trusted issuer (by its configured name, so a change of
-- the issuer's URL does not orphan accounts) and that issuer's subject.
CREATE TABLE liaison.users (
    id           uuid PRIMARY KEY,
    agency_id    uuid NOT NULL REFERENCES liaison.agencies (id),
    issuer       text NOT NULL,
    subject      text NOT NULL,
    email        text NOT NULL,
    display_name text NOT NULL DEFAULT '',
    roles        text[] NOT NULL DEFAULT '{}',
    active       boolean NOT NULL DEFAULT true,
    create_time  timestamptz NOT NULL DEFAULT now(),
    update_time  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (issuer, subject)
);
CREATE UNIQUE INDEX users_email_idx ON liaison.users (lower(email));
CREATE INDEX users_agency_idx ON liaison.users (agency_id, email);

CREATE SCHEMA authz;

-- relations holds facts "agency A holds RELATION on resource R (until T)".
-- source tells a direct grant ('') from one derived from, e.g., a task force.
CREATE TABLE authz.relations (
    resource_type text NOT NULL,
    resource_id   uuid NOT NULL,
    agency_id     uuid NOT NULL,
    relation      text NOT NULL,
    source        text NOT NULL DEFAULT '',
    expire_time   timestamptz,
    create_time   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (resource_type, resource_id, agency_id, relation, source)
);
-- Serves the list path: "which resources of this type does this agency hold
-- one of these relations on".
CREATE INDEX relations_agency_idx ON authz.relations (agency_id, resource_type, relation, resource_id);

CREATE SCHEMA cases;

CREATE TABLE cases.cases (
    id                        uuid PRIMARY KEY,
    case_number               text NOT NULL UNIQUE,
    lead_agency_id            uuid NOT NULL,
    lead_agency_ori           text NOT NULL,
    title                     text NOT NULL,
    summary                   text NOT NULL DEFAULT '',
    classification            text NOT NULL DEFAULT 'UNSPECIFIED',
    nibrs_code                text NOT NULL DEFAULT '',
    status                    text NOT NULL CHECK (status IN ('OPEN', 'ACTIVE', 'SUSPENDED', 'CLOSED')),
    priority                  text NOT NULL,
    assigned_investigator_ids uuid[] NOT NULL DEFAULT '{}',
    incident_start_time       timestamptz,
    discovery_time            timestamptz,
    loss_currency             text,
    loss_amount_minor         bigint CHECK (loss_amount_minor >= 0),
    affected_jurisdictions    text[] NOT NULL DEFAULT '{}',
    close_reason              text NOT NULL DEFAULT '',
    disposition               text NOT NULL DEFAULT 'UNSPECIFIED',
    create_time               timestamptz NOT NULL,
    update_time               timestamptz NOT NULL,
    create_user_id            uuid NOT NULL,
    create_user_email         text NOT NULL,
    update_user_email         text NOT NULL,
    version                   bigint NOT NULL DEFAULT 1,
    search                    tsvector GENERATED ALWAYS AS
        (to_tsvector('english', title || ' ' || summary)) STORED
);
CREATE INDEX cases_newest_idx ON cases.cases (create_time DESC, id DESC);
CREATE INDEX cases_search_idx ON cases.cases USING gin (search);

-- One counter per lead agency and year: numbers are handed out inside the
-- creating transaction, so they are unique and, once committed, never reused.
CREATE TABLE cases.case_number_counters (
    agency_id uuid NOT NULL,
    year      int NOT NULL,
    last      bigint NOT NULL,
    PRIMARY KEY (agency_id, year)
);

CREATE TABLE cases.notes (
    seq            bigserial PRIMARY KEY,
    id             uuid NOT NULL UNIQUE,
    case_id        uuid NOT NULL REFERENCES cases.cases (id),
    kind           text NOT NULL,
    body           text NOT NULL,
    author_user_id uuid NOT NULL,
    author_email   text NOT NULL,
    agency_id      uuid NOT NULL,
    agency_ori     text NOT NULL,
    create_time    timestamptz NOT NULL,
    search         tsvector GENERATED ALWAYS AS (to_tsvector('english', body)) STORED
);
CREATE INDEX notes_case_idx ON cases.notes (case_id, seq);
CREATE INDEX notes_search_idx ON cases.notes USING gin (search);

-- The timeline is append-only: refuse UPDATE and DELETE outright.
-- +goose StatementBegin
CREATE FUNCTION cases.notes_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'cases.notes is append-only' USING ERRCODE = 'insufficient_privilege';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER notes_append_only BEFORE UPDATE OR DELETE ON cases.notes
    FOR EACH ROW EXECUTE FUNCTION cases.notes_append_only();

-- Idempotency keys for Create methods: (user, method, request_id) -> resource.
CREATE TABLE cases.idempotency_keys (
    user_id     uuid NOT NULL,
    method      text NOT NULL,
    request_id  uuid NOT NULL,
    resource_id uuid,
    create_time timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, method, request_id)
);

-- +goose Down
DROP SCHEMA cases CASCADE;
DROP SCHEMA authz CASCADE;
DROP SCHEMA liaison CASCADE;
