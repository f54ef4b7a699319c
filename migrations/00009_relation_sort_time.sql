-- Lists driven by the caller's relations (DESIGN.md §3 puts the permitting
-- relation set into the SQL). Each relation carries its resource's sort key —
-- for a case, its create_time — so "the newest cases this agency may see"
-- is a walk down one index, reading about a page of entries however many
-- cases exist and whatever share of them the agency sees. Without it the
-- query walks all cases newest first and probes each for a relation: cost
-- grows as the visible share shrinks.

-- +goose Up
ALTER TABLE authz.relations ADD COLUMN sort_time timestamptz;

-- Filled on insert from the resource, so no writer of relations (cases,
-- referrals, task-force fan-out) has to know about it. A deliberate read of
-- cases.cases from the authz schema: the sort key belongs to the case.
-- +goose StatementBegin
CREATE FUNCTION authz.relations_sort_time() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.resource_type = 'case' AND NEW.sort_time IS NULL THEN
        SELECT create_time INTO NEW.sort_time FROM cases.cases WHERE id = NEW.resource_id;
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER relations_sort_time BEFORE INSERT ON authz.relations
    FOR EACH ROW EXECUTE FUNCTION authz.relations_sort_time();

UPDATE authz.relations r SET sort_time = c.create_time
    FROM cases.cases c WHERE r.resource_type = 'case' AND c.id = r.resource_id;

CREATE INDEX relations_agency_newest_idx ON authz.relations
    (agency_id, resource_type, sort_time DESC, resource_id DESC);

-- +goose Down
DROP INDEX authz.relations_agency_newest_idx;
DROP TRIGGER relations_sort_time ON authz.relations;
DROP FUNCTION authz.relations_sort_time();
ALTER TABLE authz.relations DROP COLUMN sort_time;
