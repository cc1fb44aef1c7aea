-- Standbys fed by this server, and how far behind they replay. PostgreSQL 12-17.
-- pg_current_wal_lsn() fails during recovery: a cascading standby measures from what it received.
SELECT r.application_name AS name,
       host(r.client_addr) AS client,
       r.state,
       r.sync_state,
       pg_wal_lsn_diff(
           CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END,
           r.replay_lsn
       )::bigint AS replay_lag_bytes,
       extract(epoch FROM r.replay_lag)::float8 AS replay_lag_s
FROM pg_stat_replication r
ORDER BY r.application_name
