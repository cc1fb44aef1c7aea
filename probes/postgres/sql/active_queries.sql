-- Client queries running longer than a floor, oldest first. PostgreSQL 12-17
-- ({query_id} is pg_stat_activity.query_id from 14, NULL before).
SELECT a.pid,
       a.usename AS user,
       a.application_name AS application,
       host(a.client_addr) AS client,
       a.state,
       left(a.query, %(query_chars)s) AS query,
       extract(epoch FROM clock_timestamp() - a.xact_start)::float8 AS xact_age_s,
       extract(epoch FROM clock_timestamp() - a.query_start)::float8 AS query_age_s,
       a.query_start,
       a.wait_event_type,
       a.wait_event,
       {query_id} AS query_id
FROM pg_stat_activity a
WHERE a.state = 'active'
  AND a.backend_type = 'client backend'
  AND a.pid <> pg_backend_pid()
  AND a.application_name IS DISTINCT FROM %(application_name)s
  AND a.query_start < clock_timestamp() - make_interval(secs => %(floor_s)s)
ORDER BY a.query_start
LIMIT %(limit)s
