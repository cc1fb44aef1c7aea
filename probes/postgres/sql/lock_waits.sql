-- Sessions waiting on heavyweight locks and every session blocking them. PostgreSQL 12-17.
-- pg_blocking_pids() takes the lock manager's partition locks: it runs only for sessions
-- that wait on a lock (the MATERIALIZED CTE filters before it is called). It also reports
-- soft blockers (ahead in the wait queue) that a pg_locks self-join misses; 0 stands for a
-- prepared transaction (the awaited transactionid names which one). Other diag sessions
-- stay in: they link a chain of waiters; the judging never lists them as waiters.
-- The waitstart part is pg_locks.waitstart from 14, NULL before (the wait counts from query_start).
WITH waiting AS MATERIALIZED (
    SELECT a.pid, pg_blocking_pids(a.pid) AS blocked_by
    FROM pg_stat_activity a
    WHERE a.wait_event_type = 'Lock'
      AND a.pid <> pg_backend_pid()
),
involved AS (
    SELECT pid FROM waiting
    UNION
    SELECT unnest(blocked_by) FROM waiting
),
awaited AS (
    SELECT l.pid,
           l.locktype,
           l.mode,
           l.relation::regclass::text AS relation,
           l.transactionid::text::bigint AS awaited_xid,
           {waitstart} AS waitstart
    FROM pg_locks l
    WHERE NOT l.granted
      AND l.pid IN (SELECT pid FROM waiting)
)
SELECT i.pid,
       a.usename AS user,
       coalesce(a.application_name, '') AS application,
       host(a.client_addr) AS client,
       a.state,
       left(a.query, %(query_chars)s) AS query,
       extract(epoch FROM clock_timestamp() - a.xact_start)::float8 AS xact_age_s,
       extract(epoch FROM clock_timestamp() - a.state_change)::float8 AS state_age_s,
       extract(epoch FROM clock_timestamp() - a.query_start)::float8 AS query_age_s,
       a.state_change AS state_since,
       a.query_start,
       a.wait_event_type,
       a.wait_event,
       coalesce(w.blocked_by, ARRAY[]::int[]) AS blocked_by,
       aw.locktype,
       aw.mode,
       aw.relation,
       aw.awaited_xid,
       coalesce(aw.waitstart, a.query_start) AS wait_started,
       extract(epoch FROM clock_timestamp() - coalesce(aw.waitstart, a.query_start))::float8 AS wait_s
FROM involved i
LEFT JOIN pg_stat_activity a ON a.pid = i.pid
LEFT JOIN waiting w ON w.pid = i.pid
LEFT JOIN awaited aw ON aw.pid = i.pid
ORDER BY i.pid
