-- Prepared transactions: pg_blocking_pids() reports them as pid 0; a waiter's awaited
-- transactionid (pg_locks) is one of their xids. PostgreSQL 12-17.
SELECT gid,
       transaction::text::bigint AS xid,
       owner,
       database,
       extract(epoch FROM clock_timestamp() - prepared)::float8 AS age_s
FROM pg_prepared_xacts
ORDER BY prepared
LIMIT 20
