-- PostgreSQL grants for hopngo-ops: what the database notebook's reads and actions need, no more.
--
-- Run as a superuser, connected to the application database:
--     psql -d hopngo -v ON_ERROR_STOP=1 -f deploy/rbac/postgres-grants.sql
-- Safe to run again. Set the login role's password out of band (\password hopngo_ops) and
-- reference it from the profile (postgres_passfile or postgres_password_env), never here.
--
-- hopngo_ops_read (diagnosis) gets pg_monitor: pg_read_all_stats shows every session's query
--   in pg_stat_activity and pg_stat_statements, and pg_database_size of every database;
--   pg_read_all_settings shows max_connections and the reserved connections.
-- hopngo_ops_remediate (the terminate actions) adds pg_signal_backend: pg_terminate_backend on
--   non-superuser sessions only. Terminating a superuser's session needs superuser, which
--   hopngo-ops never gets: include_superusers=True then fails with "permission denied".
-- hopngo_ops (the login) is a member of hopngo_ops_remediate; a read-only deployment grants
--   it hopngo_ops_read instead.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hopngo_ops_read') THEN
        CREATE ROLE hopngo_ops_read NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hopngo_ops_remediate') THEN
        CREATE ROLE hopngo_ops_remediate NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hopngo_ops') THEN
        CREATE ROLE hopngo_ops LOGIN;
    END IF;
END
$$;

-- The login never holds more than its grants.
ALTER ROLE hopngo_ops NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT;

GRANT pg_monitor TO hopngo_ops_read;
GRANT hopngo_ops_read TO hopngo_ops_remediate;
GRANT pg_signal_backend TO hopngo_ops_remediate;
GRANT hopngo_ops_remediate TO hopngo_ops;

DO $$
BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO hopngo_ops_read', current_database());
END
$$;

-- The index hints read pg_stats, which shows a column's statistics only to roles that may read
-- its table. This is the one grant on data: leave it out to keep hopngo-ops off the rows (the
-- index hints step then lists no columns).
GRANT USAGE ON SCHEMA public TO hopngo_ops_read;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO hopngo_ops_read;
