-- Accounts an agency administrator creates before the user first signs in
-- have no issuer binding yet: the first sign-in binds them (pkg/auth). NULLs
-- are distinct under UNIQUE (issuer, subject), so many may wait at once.

-- +goose Up
ALTER TABLE liaison.users ALTER COLUMN issuer DROP NOT NULL;
ALTER TABLE liaison.users ALTER COLUMN subject DROP NOT NULL;
ALTER TABLE liaison.users ADD COLUMN version bigint NOT NULL DEFAULT 1;
ALTER TABLE liaison.users ADD CONSTRAINT users_binding_both
    CHECK ((issuer IS NULL) = (subject IS NULL));

-- +goose Down
ALTER TABLE liaison.users DROP CONSTRAINT users_binding_both;
ALTER TABLE liaison.users DROP COLUMN version;
DELETE FROM liaison.users WHERE issuer IS NULL;
ALTER TABLE liaison.users ALTER COLUMN subject SET NOT NULL;
ALTER TABLE liaison.users ALTER COLUMN issuer SET NOT NULL;
