-- Access through one door (issue 12). The relation an agency effectively
-- holds on a case is decided when it is used, not copied when it is
-- granted: the strongest relation it holds (directly, through a task force,
-- through a referral), capped by the most restrictive information-sharing
-- agreement in force between the case's lead agency and that agency. So the
-- facts that decision needs live here, in schema authz, beside the
-- relations, where Authorize and every List read them in one query:
--
--   authz.relations      grants, to an agency or to a group (a task force),
--                        with the lead agency whose agreements cap them and
--                        the override reason of a grant made without one;
--   authz.group_members  task-force memberships (a projection the liaison
--                        service writes through pkg/authz, the one door);
--   authz.agreements     agreements in force between agencies, or between an
--                        agency and a task force (also a projection written
--                        by the liaison service through the door).
--
-- The per-member copies of task-force shares (source 'taskforce:<id>') and
-- their register liaison.taskforce_shares give way to one group grant each.

-- +goose Up
ALTER TABLE authz.relations
    ADD COLUMN grantee_type    text NOT NULL DEFAULT 'agency' CHECK (grantee_type IN ('agency', 'group')),
    -- The case's lead agency: its agreements with the grantee cap the grant
    -- (case grants of contributor and viewer). NULL where nothing caps.
    ADD COLUMN lead_agency_id  uuid,
    ADD COLUMN reason          text NOT NULL DEFAULT '',
    -- Given by the granting supervisor where no agreement was in force; a
    -- capped grant counts without an agreement only when it carries one.
    ADD COLUMN override_reason text NOT NULL DEFAULT '',
    -- Group grants: 'follow' (members as they change) or 'snapshot' (only
    -- agencies that were members when the grant was made).
    ADD COLUMN membership      text NOT NULL DEFAULT '' CHECK (membership IN ('', 'follow', 'snapshot')),
    -- How the grant came, in words (a referral's number, a task force's
    -- name), for the participants view.
    ADD COLUMN via             text NOT NULL DEFAULT '',
    ADD COLUMN granted_by      text NOT NULL DEFAULT '';

UPDATE authz.relations r SET lead_agency_id = l.agency_id
    FROM authz.relations l
    WHERE r.resource_type = 'case' AND l.resource_type = 'case' AND l.resource_id = r.resource_id
      AND l.relation = 'lead' AND r.relation IN ('contributor', 'viewer');

CREATE TABLE authz.group_members (
    group_id   uuid NOT NULL,
    agency_id  uuid NOT NULL,
    start_time timestamptz NOT NULL,
    end_time   timestamptz,
    PRIMARY KEY (group_id, agency_id),
    CHECK (end_time IS NULL OR end_time > start_time)
);
-- "Which groups is this agency a member of" (List, Authorize).
CREATE INDEX group_members_agency_idx ON authz.group_members (agency_id, group_id);

-- party_lo < party_hi: an agreement binds both directions, so one lookup by
-- the ordered pair finds it whichever agency recorded it.
CREATE TABLE authz.agreements (
    id                  uuid PRIMARY KEY,
    party_lo            uuid NOT NULL,
    party_hi            uuid NOT NULL,
    title               text NOT NULL,
    max_relation        text NOT NULL CHECK (max_relation IN ('contributor', 'viewer')),
    excluded_categories text[] NOT NULL DEFAULT '{}',
    effective_time      timestamptz NOT NULL,
    expire_time         timestamptz,
    CHECK (party_lo < party_hi)
);
CREATE INDEX agreements_pair_idx ON authz.agreements (party_lo, party_hi);

INSERT INTO authz.group_members (group_id, agency_id, start_time, end_time)
    SELECT taskforce_id, agency_id, start_time, end_time FROM liaison.taskforce_members;

INSERT INTO authz.agreements (id, party_lo, party_hi, title, max_relation, excluded_categories, effective_time, expire_time)
    SELECT id, least(agency_id, coalesce(partner_agency_id, taskforce_id)), greatest(agency_id, coalesce(partner_agency_id, taskforce_id)),
           title, max_relation, excluded_categories, effective_time, expire_time
    FROM liaison.agreements;

-- Task-force shares become one group grant each; the copies go.
DELETE FROM authz.relations WHERE source LIKE 'taskforce:%';
INSERT INTO authz.relations (resource_type, resource_id, agency_id, relation, source, expire_time, create_time,
                             sort_time, grantee_type, lead_agency_id, membership)
    SELECT 'case', s.case_id, s.taskforce_id, s.relation, '', s.expire_time, s.create_time,
           c.create_time, 'group', s.lead_agency_id, 'follow'
    FROM liaison.taskforce_shares s JOIN cases.cases c ON c.id = s.case_id;
DROP TABLE liaison.taskforce_shares;

-- Referrals get numbers, so a grant that came through one says which in
-- words (the participants view's "via"): <sender ORI>-<year>-R<NNNNNN>.
CREATE TABLE referrals.number_counters (
    agency_id uuid NOT NULL,
    year      int NOT NULL,
    last      bigint NOT NULL,
    PRIMARY KEY (agency_id, year)
);
ALTER TABLE referrals.referrals ADD COLUMN number text;
UPDATE referrals.referrals r SET number = x.n FROM (
    SELECT id, from_agency_ori || '-' || extract(year FROM create_time AT TIME ZONE 'UTC')::int || '-R' ||
           lpad((row_number() OVER (PARTITION BY from_agency_id, extract(year FROM create_time AT TIME ZONE 'UTC')
                                    ORDER BY create_time, id))::text, 6, '0') AS n
    FROM referrals.referrals) x
WHERE x.id = r.id;
INSERT INTO referrals.number_counters (agency_id, year, last)
    SELECT from_agency_id, extract(year FROM create_time AT TIME ZONE 'UTC')::int, count(*)
    FROM referrals.referrals GROUP BY 1, 2;
ALTER TABLE referrals.referrals ALTER COLUMN number SET NOT NULL, ADD CONSTRAINT referrals_number_key UNIQUE (number);

-- +goose Down
ALTER TABLE referrals.referrals DROP COLUMN number;
DROP TABLE referrals.number_counters;
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
INSERT INTO liaison.taskforce_shares (taskforce_id, case_id, lead_agency_id, relation, expire_time, create_time)
    SELECT agency_id, resource_id, lead_agency_id, relation, expire_time, create_time
    FROM authz.relations WHERE grantee_type = 'group' AND lead_agency_id IS NOT NULL;
INSERT INTO authz.relations (resource_type, resource_id, agency_id, relation, source, expire_time, sort_time)
    SELECT 'case', s.case_id, m.agency_id, s.relation, 'taskforce:' || s.taskforce_id, least(s.expire_time, m.end_time), c.create_time
    FROM liaison.taskforce_shares s JOIN liaison.taskforce_members m ON m.taskforce_id = s.taskforce_id
    JOIN cases.cases c ON c.id = s.case_id
    WHERE m.agency_id <> s.lead_agency_id
    ON CONFLICT DO NOTHING;
DELETE FROM authz.relations WHERE grantee_type = 'group';
DROP TABLE authz.agreements;
DROP TABLE authz.group_members;
ALTER TABLE authz.relations
    DROP COLUMN grantee_type, DROP COLUMN lead_agency_id, DROP COLUMN reason, DROP COLUMN override_reason,
    DROP COLUMN membership, DROP COLUMN via, DROP COLUMN granted_by;
