-- Liaison (issue 6): points of contact, liaison assignments, task forces and
-- their members, the register of cases shared with task forces,
-- information-sharing agreements and the engagement log. Schema liaison,
-- owned by the liaison service.

-- +goose Up
CREATE TABLE liaison.contacts (
    id          uuid PRIMARY KEY,
    agency_id   uuid NOT NULL REFERENCES liaison.agencies (id),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    title       text NOT NULL DEFAULT '',
    phone       text NOT NULL DEFAULT '',
    email       text NOT NULL DEFAULT '',
    duty_phone  text NOT NULL DEFAULT '',
    topics      text[] NOT NULL DEFAULT '{}',
    create_time timestamptz NOT NULL,
    update_time timestamptz NOT NULL,
    version     bigint NOT NULL DEFAULT 1
);
CREATE INDEX contacts_agency_idx ON liaison.contacts (agency_id, name, id);

CREATE TABLE liaison.liaison_assignments (
    id                uuid PRIMARY KEY,
    agency_id         uuid NOT NULL REFERENCES liaison.agencies (id),
    user_id           uuid NOT NULL REFERENCES liaison.users (id),
    partner_agency_id uuid NOT NULL REFERENCES liaison.agencies (id),
    create_time       timestamptz NOT NULL,
    UNIQUE (agency_id, partner_agency_id, user_id),
    CHECK (agency_id <> partner_agency_id)
);

CREATE TABLE liaison.taskforces (
    id                uuid PRIMARY KEY,
    name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description       text NOT NULL DEFAULT '',
    sponsor_agency_id uuid NOT NULL REFERENCES liaison.agencies (id),
    create_time       timestamptz NOT NULL,
    update_time       timestamptz NOT NULL,
    version           bigint NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX taskforces_name_idx ON liaison.taskforces (lower(name));

CREATE TABLE liaison.taskforce_members (
    taskforce_id uuid NOT NULL REFERENCES liaison.taskforces (id),
    agency_id    uuid NOT NULL REFERENCES liaison.agencies (id),
    start_time   timestamptz NOT NULL,
    end_time     timestamptz,
    create_time  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (taskforce_id, agency_id),
    CHECK (end_time IS NULL OR end_time > start_time)
);

-- Cases shared with a task force. Written by the Cases service's share
-- transaction through the liaison package's exported taskforceshare entry
-- point (the one exception to "only the owner writes"), read by membership
-- changes, which fan the share out to members in their own transaction.
-- authz.relations holds the resulting per-member relations with source
-- 'taskforce:<id>'.
CREATE TABLE liaison.taskforce_shares (
    taskforce_id   uuid NOT NULL REFERENCES liaison.taskforces (id),
    case_id        uuid NOT NULL,
    lead_agency_id uuid NOT NULL,
    relation       text NOT NULL CHECK (relation IN ('contributor', 'viewer')),
    expire_time    timestamptz,
    create_time    timestamptz NOT NULL,
    PRIMARY KEY (taskforce_id, case_id)
);
CREATE INDEX taskforce_shares_case_idx ON liaison.taskforce_shares (case_id);

-- An agreement binds agency_id and either partner_agency_id (both
-- directions) or taskforce_id.
CREATE TABLE liaison.agreements (
    id                  uuid PRIMARY KEY,
    agency_id           uuid NOT NULL REFERENCES liaison.agencies (id),
    partner_agency_id   uuid REFERENCES liaison.agencies (id),
    taskforce_id        uuid REFERENCES liaison.taskforces (id),
    title               text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    max_relation        text NOT NULL CHECK (max_relation IN ('contributor', 'viewer')),
    excluded_categories text[] NOT NULL DEFAULT '{}',
    effective_time      timestamptz NOT NULL,
    expire_time         timestamptz,
    create_time         timestamptz NOT NULL,
    update_time         timestamptz NOT NULL,
    version             bigint NOT NULL DEFAULT 1,
    CHECK ((partner_agency_id IS NULL) <> (taskforce_id IS NULL)),
    CHECK (partner_agency_id IS NULL OR partner_agency_id <> agency_id),
    CHECK (expire_time IS NULL OR expire_time > effective_time)
);
CREATE INDEX agreements_pair_idx ON liaison.agreements (agency_id, partner_agency_id);
CREATE INDEX agreements_partner_idx ON liaison.agreements (partner_agency_id, agency_id);
CREATE INDEX agreements_taskforce_idx ON liaison.agreements (taskforce_id, agency_id);
CREATE INDEX agreements_newest_idx ON liaison.agreements (create_time DESC, id DESC);

-- agency_ids holds every agency involved, the recording agency included:
-- visibility is "your agency is in agency_ids".
CREATE TABLE liaison.engagements (
    id                 uuid PRIMARY KEY,
    agency_id          uuid NOT NULL REFERENCES liaison.agencies (id),
    agency_ids         uuid[] NOT NULL,
    occur_time         timestamptz NOT NULL,
    channel            text NOT NULL,
    summary            text NOT NULL,
    case_ids           uuid[] NOT NULL DEFAULT '{}',
    referral_ids       uuid[] NOT NULL DEFAULT '{}',
    follow_up_due_time timestamptz,
    follow_up_done     boolean NOT NULL DEFAULT false,
    create_user_id     uuid NOT NULL,
    create_user_email  text NOT NULL,
    create_time        timestamptz NOT NULL,
    update_time        timestamptz NOT NULL,
    version            bigint NOT NULL DEFAULT 1,
    CHECK (agency_id = ANY (agency_ids))
);
CREATE INDEX engagements_agencies_idx ON liaison.engagements USING gin (agency_ids);
CREATE INDEX engagements_newest_idx ON liaison.engagements (occur_time DESC, id DESC);
CREATE INDEX engagements_overdue_idx ON liaison.engagements (follow_up_due_time, id)
    WHERE follow_up_due_time IS NOT NULL AND NOT follow_up_done;

-- Idempotency keys for the liaison service's Create methods.
CREATE TABLE liaison.idempotency_keys (
    user_id     uuid NOT NULL,
    method      text NOT NULL,
    request_id  uuid NOT NULL,
    resource_id uuid,
    create_time timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, method, request_id)
);

-- +goose Down
DROP TABLE liaison.idempotency_keys;
DROP TABLE liaison.engagements;
DROP TABLE liaison.agreements;
DROP TABLE liaison.taskforce_shares;
DROP TABLE liaison.taskforce_members;
DROP TABLE liaison.taskforces;
DROP TABLE liaison.liaison_assignments;
DROP TABLE liaison.contacts;
DELETE FROM authz.relations WHERE source LIKE 'taskforce:%';
