-- Least privilege in the database (DESIGN.md §4, issue 7).
--
-- casebridge_app       the runtime: USAGE on every schema, SELECT/INSERT/
--                      UPDATE/DELETE on the service schemas' tables, and on
--                      the audit trail only INSERT and SELECT — it cannot
--                      edit or delete a record, even through a bug or an
--                      injection. The process connects as a login that is a
--                      member of it, or SET ROLEs to it (--db-role).
-- casebridge_migrator  schema changes: every privilege on every schema.
--                      Operators GRANT it to the login that runs
--                      `casebridge migrate`.
--
-- Both are NOLOGIN group roles. Roles are global to the cluster while
-- grants are per database, so creation is guarded (concurrent test
-- databases on one server race here) and the down migration revokes this
-- database's grants but leaves the roles: another database may use them
-- (drop them by hand with DROP ROLE when none does).
--
-- Tables created by later migrations get the app's privileges through
-- ALTER DEFAULT PRIVILEGES (for objects created by the migrating role and by
-- casebridge_migrator). A later table in schema `audit` would get DML that
-- way too: its migration must REVOKE UPDATE, DELETE, TRUNCATE from
-- casebridge_app, as done for audit.events here.

-- +goose Up
-- +goose StatementBegin
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['casebridge_app', 'casebridge_migrator'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', r);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL; -- created concurrently by another database's migration
            END;
        END IF;
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
DO $$
DECLARE
    s text;
BEGIN
    FOR s IN SELECT nspname FROM pg_namespace
             WHERE nspname NOT LIKE 'pg\_%' AND nspname NOT IN ('information_schema', 'public') LOOP
        EXECUTE format('GRANT ALL ON SCHEMA %I TO casebridge_migrator', s);
        EXECUTE format('GRANT ALL ON ALL TABLES IN SCHEMA %I TO casebridge_migrator', s);
        EXECUTE format('GRANT ALL ON ALL SEQUENCES IN SCHEMA %I TO casebridge_migrator', s);
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO casebridge_app', s);
        IF s <> 'audit' THEN
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO casebridge_app', s);
            EXECUTE format('GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA %I TO casebridge_app', s);
        END IF;
    END LOOP;
END
$$;
-- +goose StatementEnd

-- The audit trail: append and read, nothing else.
REVOKE ALL ON audit.events FROM casebridge_app;
GRANT SELECT, INSERT ON audit.events TO casebridge_app;

-- Later migrations' objects, when created by the role running this one.
ALTER DEFAULT PRIVILEGES GRANT USAGE ON SCHEMAS TO casebridge_app;
ALTER DEFAULT PRIVILEGES GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO casebridge_app;
ALTER DEFAULT PRIVILEGES GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO casebridge_app;

-- … and when created by casebridge_migrator (needs membership in it or
-- superuser; skipped, with a notice, where the migrating login has neither).
-- +goose StatementBegin
DO $$
BEGIN
    ALTER DEFAULT PRIVILEGES FOR ROLE casebridge_migrator GRANT USAGE ON SCHEMAS TO casebridge_app;
    ALTER DEFAULT PRIVILEGES FOR ROLE casebridge_migrator GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO casebridge_app;
    ALTER DEFAULT PRIVILEGES FOR ROLE casebridge_migrator GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO casebridge_app;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'default privileges for casebridge_migrator not set: %', SQLERRM;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DO $$
DECLARE
    s text;
BEGIN
    BEGIN
        ALTER DEFAULT PRIVILEGES FOR ROLE casebridge_migrator REVOKE USAGE ON SCHEMAS FROM casebridge_app;
        ALTER DEFAULT PRIVILEGES FOR ROLE casebridge_migrator REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM casebridge_app;
        ALTER DEFAULT PRIVILEGES FOR ROLE casebridge_migrator REVOKE USAGE, SELECT, UPDATE ON SEQUENCES FROM casebridge_app;
    EXCEPTION WHEN insufficient_privilege THEN
        NULL;
    END;
    ALTER DEFAULT PRIVILEGES REVOKE USAGE ON SCHEMAS FROM casebridge_app;
    ALTER DEFAULT PRIVILEGES REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM casebridge_app;
    ALTER DEFAULT PRIVILEGES REVOKE USAGE, SELECT, UPDATE ON SEQUENCES FROM casebridge_app;
    FOR s IN SELECT nspname FROM pg_namespace
             WHERE nspname NOT LIKE 'pg\_%' AND nspname NOT IN ('information_schema', 'public') LOOP
        EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM casebridge_app, casebridge_migrator', s);
        EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM casebridge_app, casebridge_migrator', s);
        EXECUTE format('REVOKE ALL ON SCHEMA %I FROM casebridge_app, casebridge_migrator', s);
    END LOOP;
END
$$;
-- +goose StatementEnd
