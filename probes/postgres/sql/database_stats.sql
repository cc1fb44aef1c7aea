-- The current database's counters and the cluster's transaction-id age. PostgreSQL 12-17.
SELECT d.deadlocks,
       d.stats_reset,
       d.blks_hit,
       d.blks_read,
       oldest.datname AS oldest_database,
       oldest.xid_age,
       (SELECT max(mxid_age(datminmxid)) FROM pg_database)::bigint AS mxid_age,
       current_setting('autovacuum_freeze_max_age')::bigint AS freeze_max_age
FROM pg_stat_database d,
     LATERAL (
         SELECT datname, age(datfrozenxid)::bigint AS xid_age
         FROM pg_database
         ORDER BY age(datfrozenxid) DESC
         LIMIT 1
     ) oldest
WHERE d.datname = current_database()
