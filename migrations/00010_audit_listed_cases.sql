-- A List call shows every case on its page (number, title, status): that is
-- an access to each, so its audit record names them and each case's
-- disclosure report includes it.

-- +goose Up
ALTER TABLE audit.events ADD COLUMN listed_case_ids uuid[];
CREATE INDEX events_listed_cases_idx ON audit.events USING gin (listed_case_ids)
    WHERE listed_case_ids IS NOT NULL;

-- +goose Down
DROP INDEX audit.events_listed_cases_idx;
ALTER TABLE audit.events DROP COLUMN listed_case_ids;
