-- The text of a few statements only: with text, pg_stat_statements reads its whole file.
SELECT s.queryid AS query_id, left(s.query, %(query_chars)s) AS query
FROM {schema}.pg_stat_statements(true) s
WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND s.queryid = ANY(%(query_ids)s::bigint[])
