-- This server as a standby: received vs replayed WAL and the WAL receiver. PostgreSQL 12-17.
SELECT w.status AS receiver_status,
       w.sender_host AS sender,
       pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::bigint AS replay_backlog_bytes,
       CASE
           WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
           ELSE extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())
       END::float8 AS replay_delay_s,
       extract(epoch FROM clock_timestamp() - w.last_msg_receipt_time)::float8 AS receiver_silence_s
FROM (SELECT 1) one
LEFT JOIN pg_stat_wal_receiver w ON true
