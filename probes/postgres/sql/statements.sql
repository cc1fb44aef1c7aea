-- pg_stat_statements of the current database without query text (pg_stat_statements(false)
-- does not read the text file). {total}/{mean} are total_exec_time/mean_exec_time (1.8+,
-- PostgreSQL 13+) or total_time/mean_time before. PostgreSQL 12-17.
SELECT s.queryid AS query_id,
       s.userid::regrole::text AS role,
       s.calls,
       s.{total} AS total_ms,
       s.{mean} AS mean_ms,
       s.rows
FROM {schema}.pg_stat_statements(false) s
WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND s.calls > 0
  AND (%(query_ids)s::bigint[] IS NULL OR s.queryid = ANY(%(query_ids)s::bigint[]))
ORDER BY s.{total} DESC
LIMIT %(limit)s
