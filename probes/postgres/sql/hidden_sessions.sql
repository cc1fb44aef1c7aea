-- Other roles' sessions the probe's role cannot see (no pg_read_all_stats). PostgreSQL 12-17.
SELECT count(*) AS hidden
FROM pg_stat_activity
WHERE query = '<insufficient privilege>' AND usesysid IS NOT NULL
