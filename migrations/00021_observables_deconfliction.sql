-- Observables and deconfliction (issue 21): the selectors recorded on a case,
-- their keyed digests for deconfliction across agencies, the per-case
-- "do not deconflict" flag, and the notices sent to case leads. Schema
-- cases, owned by the cases service.

-- +goose Up
CREATE TABLE cases.observables (
    id                uuid PRIMARY KEY,
    case_id           uuid NOT NULL REFERENCES cases.cases (id),
    type              text NOT NULL,
    chain             text NOT NULL DEFAULT '',
    platform          text NOT NULL DEFAULT '',
    value             text NOT NULL,
    canonical         text NOT NULL,
    description       text NOT NULL DEFAULT '',
    first_seen_time   timestamptz,
    last_seen_time    timestamptz,
    tlp               text NOT NULL CHECK (tlp IN ('CLEAR', 'GREEN', 'AMBER', 'AMBER+STRICT', 'RED')),
    exhibit_ids       uuid[] NOT NULL DEFAULT '{}',
    create_time       timestamptz NOT NULL,
    create_user_id    uuid NOT NULL,
    create_user_email text NOT NULL,
    agency_id         uuid NOT NULL,
    agency_ori        text NOT NULL,
    -- One value once per case: a second add of the same selector is skipped.
    UNIQUE (case_id, type, chain, platform, canonical)
);
-- The case's table, in order (keyset pagination).
CREATE INDEX observables_case_idx ON cases.observables (case_id, create_time, id);
-- Correlation within what the caller may read.
CREATE INDEX observables_canonical_idx ON cases.observables (type, chain, platform, canonical);
-- The lookup rate limit counts a user's recent adds.
CREATE INDEX observables_user_idx ON cases.observables (create_user_id, create_time);

-- HMAC-SHA256 of (type, chain, platform, canonical) under each deconfliction
-- key the service held when the observable was recorded. Matching across
-- agencies compares these and never the value.
CREATE TABLE cases.observable_digests (
    observable_id uuid NOT NULL REFERENCES cases.observables (id) ON DELETE CASCADE,
    key_id        text NOT NULL,
    digest        bytea NOT NULL,
    PRIMARY KEY (observable_id, key_id)
);
CREATE INDEX observable_digests_match_idx ON cases.observable_digests (key_id, digest);

CREATE TABLE cases.deconfliction_settings (
    case_id           uuid PRIMARY KEY REFERENCES cases.cases (id),
    do_not_deconflict boolean NOT NULL,
    reason            text NOT NULL DEFAULT '',
    update_time       timestamptz NOT NULL,
    update_user_email text NOT NULL
);

-- A notice to the lead of case_id: agency other_agency_id holds the value of
-- observable_id on a case the lead cannot read. other_case_id is kept only to
-- send one notice per pair of cases and value; it is never returned.
CREATE TABLE cases.deconfliction_notices (
    id              uuid PRIMARY KEY,
    case_id         uuid NOT NULL REFERENCES cases.cases (id),
    agency_id       uuid NOT NULL,
    observable_id   uuid NOT NULL REFERENCES cases.observables (id),
    other_agency_id uuid NOT NULL,
    other_case_id   uuid NOT NULL REFERENCES cases.cases (id),
    match_time      timestamptz NOT NULL,
    UNIQUE (case_id, observable_id, other_case_id)
);
CREATE INDEX deconfliction_notices_agency_idx ON cases.deconfliction_notices (agency_id, match_time DESC, id DESC);

-- +goose Down
DROP TABLE cases.deconfliction_notices;
DROP TABLE cases.deconfliction_settings;
DROP TABLE cases.observable_digests;
DROP TABLE cases.observables;
