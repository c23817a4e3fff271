-- One-time handover for an environment whose database was migrated before issue 24, when
-- `healthsync migrate` ran as whoever provisioned (the pipeline's service principal or a person,
-- as PostgreSQL Entra admin) and that role owns the schemas and tables. From now on the migrator
-- identity migrates (infra/modules/migration.bicep); it may only alter what it owns, so the old
-- owner hands everything to a role the migrator is a member of, and lets it grant the app's role.
--
-- Run once, as the role that applied the earlier migrations (AZURE_POSTGRES_ENTRA_ADMIN), on the
-- healthsync database, from a machine that reaches the server (docs/operations.md, "Upgrading an
-- environment provisioned before issue 24"):
--   psql "host=$AZURE_POSTGRES_HOST dbname=healthsync user=$AZURE_POSTGRES_ENTRA_ADMIN sslmode=require" \
--     -v migrator="$AZURE_POSTGRES_MIGRATOR" -f infra/handover-migrations.sql
-- Entra admins have CREATEROLE; on PostgreSQL 16 the creator of a role holds its ADMIN OPTION,
-- which is what the GRANTs below need. tests/app/deployable_handover.rs runs this file.
\set ON_ERROR_STOP on
BEGIN;
DO $create$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'healthsync_owner') THEN
    CREATE ROLE healthsync_owner NOLOGIN;
  END IF;
END
$create$;
GRANT healthsync_owner TO CURRENT_USER;
REASSIGN OWNED BY CURRENT_USER TO healthsync_owner;
GRANT healthsync_owner TO :"migrator";
GRANT healthsync_app TO :"migrator" WITH ADMIN OPTION;
COMMIT;
