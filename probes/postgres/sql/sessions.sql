-- Client sessions, the probe's own excluded. PostgreSQL 12-17.
-- Without pg_read_all_stats other roles' rows have a NULL backend_type: a role (usesysid)
-- still marks them as client sessions.
SELECT a.pid,
       a.usename AS user,
       a.application_name AS application,
       host(a.client_addr) AS client,
       a.state,
       left(a.query, %(query_chars)s) AS query,
       extract(epoch FROM clock_timestamp() - a.xact_start)::float8 AS xact_age_s,
       extract(epoch FROM clock_timestamp() - a.state_change)::float8 AS state_age_s,
       a.state_change AS state_since,
       a.wait_event_type,
       a.wait_event
FROM pg_stat_activity a
WHERE a.pid <> pg_backend_pid()
  AND a.application_name IS DISTINCT FROM %(application_name)s
  AND (a.backend_type = 'client backend' OR (a.backend_type IS NULL AND a.usesysid IS NOT NULL))
