-- Federated identity and privileged-role control (issue 13).
--
-- liaison.users.sessions_valid_after: tokens issued ("iat") before it are
--   refused, so "sign out everywhere" and deactivation end every session
--   and API token the user held; NULL means no cut-off.
-- liaison.revoked_tokens: single sign-outs. A token (by SHA-256 of its
--   compact form, so issuers without "jti" work too) is refused until it
--   would have expired anyway; expired rows are pruned on each insert.
-- liaison.role_grants: the two-person rule. A proposed change that adds a
--   privileged role (admin, auditor, supervisor) waits as PENDING until a
--   second admin of the same agency approves or rejects it. At most one
--   pending proposal per user.
-- audit.events gains roles_before, roles_after (role names, in clear) and
--   reason (why a call was refused), NULL or '' when unused so the canonical
--   form of every older record is unchanged.

-- +goose Up
ALTER TABLE liaison.users ADD COLUMN sessions_valid_after timestamptz;

CREATE TABLE liaison.revoked_tokens (
    token_sha256 bytea PRIMARY KEY CHECK (length(token_sha256) = 32),
    user_id      uuid NOT NULL REFERENCES liaison.users (id),
    expire_time  timestamptz NOT NULL,
    create_time  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX revoked_tokens_expire_idx ON liaison.revoked_tokens (expire_time);

CREATE TABLE liaison.role_grants (
    id             uuid PRIMARY KEY,
    agency_id      uuid NOT NULL REFERENCES liaison.agencies (id),
    user_id        uuid NOT NULL REFERENCES liaison.users (id),
    roles          text[] NOT NULL,
    previous_roles text[] NOT NULL,
    state          text NOT NULL CHECK (state IN ('PENDING', 'APPROVED', 'REJECTED', 'APPLIED')),
    proposer_id    uuid NOT NULL,
    proposer_email text NOT NULL,
    decider_id     uuid,
    decider_email  text NOT NULL DEFAULT '',
    decide_time    timestamptz,
    reason         text NOT NULL DEFAULT '' CHECK (length(reason) <= 500),
    create_time    timestamptz NOT NULL,
    update_time    timestamptz NOT NULL,
    version        bigint NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX role_grants_one_pending_idx ON liaison.role_grants (user_id) WHERE state = 'PENDING';
CREATE INDEX role_grants_user_idx ON liaison.role_grants (agency_id, user_id, create_time DESC, id DESC);

ALTER TABLE audit.events ADD COLUMN roles_before text[];
ALTER TABLE audit.events ADD COLUMN roles_after text[];
ALTER TABLE audit.events ADD COLUMN reason text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE audit.events DROP COLUMN reason;
ALTER TABLE audit.events DROP COLUMN roles_after;
ALTER TABLE audit.events DROP COLUMN roles_before;
DROP TABLE liaison.role_grants;
DROP TABLE liaison.revoked_tokens;
ALTER TABLE liaison.users DROP COLUMN sessions_valid_after;
