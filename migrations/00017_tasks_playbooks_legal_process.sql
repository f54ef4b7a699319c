-- Tasks on cases, agencies' playbooks (case templates), and legal process
-- with its clocks (issue 17). All in the Cases service's schema: a task's
-- and a legal process item's visibility follows its case.

-- +goose Up
-- Playbooks belong to one agency (its supervisors and admins manage them).
-- tasks is the template's task list as JSON (title, description, group,
-- order, mandatory, requires_log, due_offset_seconds): it is read and
-- written whole with its playbook.
CREATE TABLE cases.playbooks (
    id               uuid PRIMARY KEY,
    agency_id        uuid NOT NULL,
    name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    classifications  text[] NOT NULL DEFAULT '{}',
    title_prefix     text NOT NULL DEFAULT '',
    default_priority text NOT NULL DEFAULT 'UNSPECIFIED',
    tasks            jsonb NOT NULL DEFAULT '[]',
    create_time      timestamptz NOT NULL,
    update_time      timestamptz NOT NULL,
    update_user_email text NOT NULL DEFAULT '',
    version          bigint NOT NULL DEFAULT 1,
    UNIQUE (agency_id, name)
);
CREATE INDEX playbooks_agency_idx ON cases.playbooks (agency_id, name, id);

-- A task on a case. playbook_id/template_key record where an applied task
-- came from, so applying a playbook twice adds nothing the second time.
CREATE TABLE cases.tasks (
    id                 uuid PRIMARY KEY,
    case_id            uuid NOT NULL REFERENCES cases.cases (id),
    title              text NOT NULL,
    description        text NOT NULL DEFAULT '',
    task_group         text NOT NULL DEFAULT '',
    status             text NOT NULL CHECK (status IN ('WAITING', 'IN_PROGRESS', 'COMPLETED', 'CANCELLED')),
    assignee_user_ids  uuid[] NOT NULL DEFAULT '{}',
    assigned_agency_id uuid,
    due_time           timestamptz,
    sort_order         integer NOT NULL DEFAULT 0,
    mandatory          boolean NOT NULL DEFAULT false,
    requires_log       boolean NOT NULL DEFAULT false,
    playbook_id        uuid,
    template_key       text,
    create_time        timestamptz NOT NULL,
    update_time        timestamptz NOT NULL,
    create_user_email  text NOT NULL,
    update_user_email  text NOT NULL,
    version            bigint NOT NULL DEFAULT 1,
    UNIQUE (case_id, playbook_id, template_key)
);
CREATE INDEX tasks_case_idx ON cases.tasks (case_id, sort_order, id);
-- "My tasks": by assignee, and by assigned agency, in due order.
CREATE INDEX tasks_assignees_idx ON cases.tasks USING gin (assignee_user_ids);
CREATE INDEX tasks_agency_due_idx ON cases.tasks (assigned_agency_id, due_time, id);
-- Closing a case looks for its open mandatory tasks.
CREATE INDEX tasks_open_mandatory_idx ON cases.tasks (case_id) WHERE mandatory AND status IN ('WAITING', 'IN_PROGRESS');

-- The task log, append-only like the timeline.
CREATE TABLE cases.task_log (
    seq            bigserial PRIMARY KEY,
    id             uuid NOT NULL UNIQUE,
    task_id        uuid NOT NULL REFERENCES cases.tasks (id),
    body           text NOT NULL,
    author_user_id uuid NOT NULL,
    author_email   text NOT NULL,
    agency_id      uuid NOT NULL,
    create_time    timestamptz NOT NULL
);
CREATE INDEX task_log_task_idx ON cases.task_log (task_id, seq);
CREATE TRIGGER task_log_append_only BEFORE UPDATE OR DELETE ON cases.task_log
    FOR EACH ROW EXECUTE FUNCTION cases.notes_append_only();

-- Legal process. expire_time is what was given for kinds without a
-- statutory clock; a preservation request's expiry is computed from
-- serve_time (90 days, +90 when extended) and never stored, so it cannot go
-- stale. state is what a person recorded (DRAFT, SERVED, RETURNED); EXPIRED
-- and EXTENDED are derived when read.
CREATE TABLE cases.legal_process (
    id                uuid PRIMARY KEY,
    case_id           uuid NOT NULL REFERENCES cases.cases (id),
    kind              text NOT NULL,
    recipient         text NOT NULL,
    identifier        text NOT NULL DEFAULT '',
    description       text NOT NULL DEFAULT '',
    state             text NOT NULL CHECK (state IN ('DRAFT', 'SERVED', 'RETURNED')),
    issue_time        timestamptz,
    serve_time        timestamptz,
    expire_time       timestamptz,
    return_time       timestamptz,
    extend_time       timestamptz,
    exhibit_ids       uuid[] NOT NULL DEFAULT '{}',
    create_time       timestamptz NOT NULL,
    update_time       timestamptz NOT NULL,
    create_user_email text NOT NULL,
    update_user_email text NOT NULL,
    version           bigint NOT NULL DEFAULT 1
);
CREATE INDEX legal_process_case_idx ON cases.legal_process (case_id, create_time, id);

-- An exhibit's legal authority may name the legal process item it was
-- returned under (written by the evidence service, checked through the
-- Cases service's API).
ALTER TABLE evidence.items ADD COLUMN authority_legal_process_id uuid;

-- +goose Down
ALTER TABLE evidence.items DROP COLUMN authority_legal_process_id;
DROP TABLE cases.legal_process;
DROP TABLE cases.task_log;
DROP TABLE cases.tasks;
DROP TABLE cases.playbooks;
