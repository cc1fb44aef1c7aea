-- Evictions and the last reset of pg_stat_statements (1.9+, PostgreSQL 14+).
SELECT dealloc, stats_reset FROM {schema}.pg_stat_statements_info
