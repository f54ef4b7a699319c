-- Referrals and assistance requests between agencies (issue 5), schema
-- referrals, owned by the referrals service.
--
-- Kind-specific fields, the package snapshot and the transition history are
-- jsonb documents (protojson of the API messages): they are read and
-- written whole with their referral, never queried field by field, and the
-- row lock that serialises transitions also serialises history appends.

-- +goose Up
CREATE SCHEMA referrals;

CREATE TABLE referrals.referrals (
    id                uuid PRIMARY KEY,
    kind              text NOT NULL CHECK (kind IN ('ASSISTANCE_REQUEST', 'REFERRAL')),
    state             text NOT NULL CHECK (state IN ('DRAFT', 'SUBMITTED', 'ACKNOWLEDGED', 'ACCEPTED',
                                                     'DECLINED', 'RETURNED', 'WITHDRAWN')),
    from_agency_id    uuid NOT NULL,
    from_agency_ori   text NOT NULL,
    from_agency_name  text NOT NULL DEFAULT '',
    to_agency_id      uuid NOT NULL,
    to_agency_ori     text NOT NULL,
    to_agency_name    text NOT NULL DEFAULT '',
    -- Referral: the case referred. Assistance request: the case it was
    -- accepted into (NULL until then).
    case_id           uuid,
    summary           text NOT NULL,
    -- protojson of AssistanceRequest or CaseReferral, by kind.
    details           jsonb NOT NULL,
    -- protojson of CasePackage, copied at submission (referrals only).
    package           jsonb,
    -- protojson Transition objects, oldest first.
    history           jsonb NOT NULL DEFAULT '[]',
    state_reason      text NOT NULL DEFAULT '',
    submit_time       timestamptz,
    ack_due_time      timestamptz,
    create_time       timestamptz NOT NULL,
    update_time       timestamptz NOT NULL,
    create_user_id    uuid NOT NULL,
    create_user_email text NOT NULL,
    update_user_email text NOT NULL,
    version           bigint NOT NULL DEFAULT 1,
    CHECK (from_agency_id <> to_agency_id),
    CHECK (kind <> 'REFERRAL' OR case_id IS NOT NULL),
    CHECK (state IN ('DRAFT', 'WITHDRAWN') OR submit_time IS NOT NULL)
);

-- Inbox and outbox pages (keyset on create_time DESC, id DESC).
CREATE INDEX referrals_to_idx ON referrals.referrals (to_agency_id, create_time DESC, id DESC);
CREATE INDEX referrals_from_idx ON referrals.referrals (from_agency_id, create_time DESC, id DESC);
-- Overdue acknowledgements.
CREATE INDEX referrals_ack_due_idx ON referrals.referrals (ack_due_time) WHERE state = 'SUBMITTED';

-- Idempotency keys for CreateReferral: (user, method, request_id) -> referral.
CREATE TABLE referrals.idempotency_keys (
    user_id     uuid NOT NULL,
    method      text NOT NULL,
    request_id  uuid NOT NULL,
    resource_id uuid,
    create_time timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, method, request_id)
);

-- +goose Down
DELETE FROM authz.relations WHERE resource_type = 'referral';
DROP SCHEMA referrals CASCADE;
