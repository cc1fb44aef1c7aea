-- Where pg_stat_statements is installed, and its version (1.8+ names total_exec_time).
SELECT n.nspname AS schema, e.extversion AS version
FROM pg_extension e
JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname = 'pg_stat_statements'
