-- Prepared transactions: pg_blocking_pids() reports them as pid 0. PostgreSQL 12-17.
SELECT gid,
       owner,
       database,
       extract(epoch FROM clock_timestamp() - prepared)::float8 AS age_s
FROM pg_prepared_xacts
ORDER BY prepared
LIMIT 20
