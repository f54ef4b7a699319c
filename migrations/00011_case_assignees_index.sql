-- "Cases assigned to me" (ListCases filter assignee = me).

-- +goose Up
CREATE INDEX cases_assignees_idx ON cases.cases USING gin (assigned_investigator_ids);

-- +goose Down
DROP INDEX cases.cases_assignees_idx;
