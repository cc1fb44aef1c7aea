-- Sequential and index scans per table of the current database, most rows read by sequential
-- scans first, with the server's clock (two samples give exact rates) and the start of the
-- statistics (their cumulative rate). PostgreSQL 12-17.
SELECT s.relid,
       s.relid::regclass::text AS table_name,
       s.relname,
       s.seq_scan,
       s.seq_tup_read,
       s.idx_scan,
       s.n_live_tup,
       clock_timestamp() AS sampled_at,
       coalesce(
           (SELECT d.stats_reset FROM pg_stat_database d WHERE d.datname = current_database()),
           pg_postmaster_start_time()
       ) AS stats_since
FROM pg_stat_user_tables s
ORDER BY s.seq_tup_read DESC
LIMIT %(limit)s
