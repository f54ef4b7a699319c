-- Cyber incident reports from public entities (issue 19).
--
-- liaison.agencies: a new kind PUBLIC_ENTITY (municipalities, school
-- districts, utilities that report incidents; their users never see cases)
-- and a sector for them.
--
-- Schema reports, owned by the reports service. The reporter's details, the
-- supplements, the clocks and the history are jsonb documents (protojson of
-- the API messages) read and written whole with their report under its row
-- lock, as the referrals do; the columns are what lists filter and order on
-- and what the server owns.

-- +goose Up
ALTER TABLE liaison.agencies DROP CONSTRAINT agencies_kind_check;
ALTER TABLE liaison.agencies ADD CONSTRAINT agencies_kind_check
    CHECK (kind IN ('STATE', 'MUNICIPAL', 'REGIONAL', 'FEDERAL', 'PUBLIC_ENTITY'));
ALTER TABLE liaison.agencies ADD COLUMN sector text NOT NULL DEFAULT ''
    CHECK (sector IN ('', 'MUNICIPAL_GOVERNMENT', 'K12_SCHOOL_DISTRICT', 'HIGHER_EDUCATION',
                      'WATER_WASTEWATER', 'OTHER_CRITICAL_SERVICE'));

CREATE SCHEMA reports;

CREATE TABLE reports.reports (
    id                uuid PRIMARY KEY,
    -- <CTIC ORI>-IR-<YYYY>-<NNNNN>, assigned on submit.
    number            text UNIQUE,
    org_agency_id     uuid NOT NULL,
    org_agency_ori    text NOT NULL,
    org_agency_name   text NOT NULL DEFAULT '',
    state             text NOT NULL CHECK (state IN ('DRAFT', 'SUBMITTED', 'ACKNOWLEDGED', 'INFORMATION_REQUESTED',
                                                     'CASE_OPENED', 'CLOSED')),
    priority          text NOT NULL DEFAULT 'UNSPECIFIED',
    incident_type     text NOT NULL DEFAULT 'UNSPECIFIED',
    -- protojson of IncidentDetails.
    details           jsonb NOT NULL,
    -- protojson Clock objects (incident clock, ransom clocks).
    clocks            jsonb NOT NULL DEFAULT '[]',
    -- protojson Supplement objects, oldest first.
    supplements       jsonb NOT NULL DEFAULT '[]',
    -- protojson Event objects, oldest first.
    history           jsonb NOT NULL DEFAULT '[]',
    information_request text NOT NULL DEFAULT '',
    case_id           uuid,
    case_number       text NOT NULL DEFAULT '',
    submit_time       timestamptz,
    create_time       timestamptz NOT NULL,
    update_time       timestamptz NOT NULL,
    create_user_id    uuid NOT NULL,
    create_user_email text NOT NULL,
    version           bigint NOT NULL DEFAULT 1,
    CHECK (state = 'DRAFT' OR (submit_time IS NOT NULL AND number IS NOT NULL)),
    CHECK (state <> 'CASE_OPENED' OR case_id IS NOT NULL)
);

-- List pages (keyset on create_time DESC, id DESC).
CREATE INDEX reports_create_idx ON reports.reports (create_time DESC, id DESC);
CREATE INDEX reports_org_idx ON reports.reports (org_agency_id, create_time DESC, id DESC);

-- Report numbers per receiving agency and year.
CREATE TABLE reports.number_counters (
    ori  text NOT NULL,
    year int NOT NULL,
    last bigint NOT NULL,
    PRIMARY KEY (ori, year)
);

-- Idempotency keys for CreateIncidentReport.
CREATE TABLE reports.idempotency_keys (
    user_id     uuid NOT NULL,
    method      text NOT NULL,
    request_id  uuid NOT NULL,
    resource_id uuid,
    create_time timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, method, request_id)
);

-- +goose Down
DELETE FROM authz.relations WHERE resource_type = 'incident_report';
DROP SCHEMA reports CASCADE;
ALTER TABLE liaison.agencies DROP COLUMN sector;
ALTER TABLE liaison.agencies DROP CONSTRAINT agencies_kind_check;
ALTER TABLE liaison.agencies ADD CONSTRAINT agencies_kind_check
    CHECK (kind IN ('STATE', 'MUNICIPAL', 'REGIONAL', 'FEDERAL'));
