-- Replication slots and the WAL each retains. PostgreSQL 12-17 (wal_status: 13+, NULL before).
SELECT s.slot_name AS name,
       s.slot_type,
       s.active,
       s.database,
       {wal_status} AS wal_status,
       pg_wal_lsn_diff(
           CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END,
           s.restart_lsn
       )::bigint AS retained_bytes,
       greatest(age(s.xmin), age(s.catalog_xmin))::bigint AS xmin_age
FROM pg_replication_slots s
ORDER BY s.slot_name
