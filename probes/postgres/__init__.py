"""PostgreSQL probes: connections, locks, queries and replication (psycopg 3).

Layout: ``config`` (the shared ``postgres`` section); the I/O: ``client_session`` (the one safe
session per database and connection errors), ``client`` (statistics views into snapshots),
``client_statements`` (pg_stat_statements), ``client_pgbouncer`` (SHOW POOLS), with the SQL in
``sql/`` and its version-dependent parts in ``sql_texts``; ``snapshot`` (the plain values they
return); the pure judging: ``judge_*``, ``trees``, ``quoting`` (suggested SQL) and ``query_text``
(secrets masked); ``base`` (the per-target loop every probe shares) and one module per probe:
``connections``, ``locks``, ``queries``, ``replication``.
"""
