-- Notifications (issue 18): each user's inbox, e-mail preferences, each
-- agency's webhook receivers and their delivery log, and the keys of
-- events that must be sent once. Owned by the notifications service.
--
-- The job queue itself is River's: this migration only creates the schema
-- `river`; River's own migrations (rivermigrate, the version pinned in
-- go.mod) create its tables there and run right after goose in
-- migrations.Up, i.e. in `casebridge migrate up` and `casebridge dev`. The
-- down migration drops the schema with River's tables in it. The tables
-- get casebridge_app's rights from the default privileges of 00007.

-- +goose Up
CREATE SCHEMA notify;
CREATE SCHEMA river;
GRANT USAGE ON SCHEMA notify, river TO casebridge_app;

-- One row per (event, user): the fan-out job inserts with ON CONFLICT DO
-- NOTHING, so a retried job never notifies twice.
CREATE TABLE notify.notifications (
    id             uuid PRIMARY KEY,
    event_id       uuid NOT NULL,
    user_id        uuid NOT NULL,
    agency_id      uuid NOT NULL,
    event          text NOT NULL,
    title          text NOT NULL,
    subject_number text NOT NULL DEFAULT '',
    link           text NOT NULL DEFAULT '',
    create_time    timestamptz NOT NULL,
    read_time      timestamptz,
    UNIQUE (event_id, user_id)
);
CREATE INDEX notifications_inbox ON notify.notifications (user_id, create_time DESC, id DESC);
CREATE INDEX notifications_unread ON notify.notifications (user_id) WHERE read_time IS NULL;

-- email_events NULL: never chosen, every event by e-mail (the default).
CREATE TABLE notify.preferences (
    user_id      uuid PRIMARY KEY,
    email_events text[],
    update_time  timestamptz NOT NULL
);

-- secret is kept in clear: it must sign every delivery (HMAC). It is
-- never returned by the API.
CREATE TABLE notify.webhooks (
    id          uuid PRIMARY KEY,
    agency_id   uuid NOT NULL,
    url         text NOT NULL,
    events      text[] NOT NULL DEFAULT '{}',
    secret      text NOT NULL,
    active      boolean NOT NULL DEFAULT true,
    description text NOT NULL DEFAULT '',
    create_time timestamptz NOT NULL,
    update_time timestamptz NOT NULL,
    create_user_email text NOT NULL,
    version     bigint NOT NULL DEFAULT 1
);
CREATE INDEX webhooks_agency ON notify.webhooks (agency_id, create_time);

CREATE TABLE notify.webhook_deliveries (
    id           uuid PRIMARY KEY,
    webhook_id   uuid NOT NULL REFERENCES notify.webhooks (id) ON DELETE CASCADE,
    event        text NOT NULL,
    event_id     uuid NOT NULL,
    attempt      int NOT NULL,
    status_code  int NOT NULL DEFAULT 0,
    success      boolean NOT NULL,
    error        text NOT NULL DEFAULT '',
    attempt_time timestamptz NOT NULL
);
CREATE INDEX webhook_deliveries_log ON notify.webhook_deliveries (webhook_id, attempt_time DESC, id DESC);

-- Events sent at most once (an overdue escalation, a lapse reminder): the
-- emitting transaction claims the key; a second claim finds it taken.
CREATE TABLE notify.once (
    key         text PRIMARY KEY,
    create_time timestamptz NOT NULL
);

-- Accepting an assistance request opens a case through the Cases service,
-- which cannot join the accepting transaction. So the opening is claimed
-- here first (case_id NULL, by claim_user_id), the case opened by the
-- claimer (with a request id derived from the referral) and recorded, and
-- only then is the accept committed: concurrent accepts by different users
-- wait for the claimer's case instead of opening their own, and a retry of
-- a failed accept, by anyone, links the recorded case. Owned by the
-- referrals service.
CREATE TABLE referrals.accept_cases (
    referral_id   uuid PRIMARY KEY,
    case_id       uuid,
    claim_user_id uuid NOT NULL,
    claim_time    timestamptz NOT NULL
);

-- +goose Down
DROP TABLE referrals.accept_cases;
DROP SCHEMA river CASCADE;
DROP SCHEMA notify CASCADE;
