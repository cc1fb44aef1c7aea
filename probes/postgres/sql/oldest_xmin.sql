-- The session holding back the oldest snapshot (it keeps vacuum from freezing). PostgreSQL 12-17.
SELECT a.pid,
       a.usename AS user,
       a.application_name AS application,
       host(a.client_addr) AS client,
       a.state,
       left(a.query, %(query_chars)s) AS query,
       extract(epoch FROM clock_timestamp() - a.xact_start)::float8 AS xact_age_s,
       age(a.backend_xmin)::bigint AS xmin_age
FROM pg_stat_activity a
WHERE a.backend_xmin IS NOT NULL
  AND a.pid <> pg_backend_pid()
  AND a.application_name IS DISTINCT FROM %(application_name)s
ORDER BY age(a.backend_xmin) DESC
LIMIT 1
