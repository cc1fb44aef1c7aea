"""PostgreSQL probes: connections, locks, queries and replication (psycopg 3).

Layout: ``backend`` (the shared ``postgres`` section); the I/O: ``session`` (the one safe
session per database and connection errors), ``collect`` (statistics views into snapshots),
``statements`` (pg_stat_statements), ``pgbouncer`` (SHOW POOLS), with the SQL in ``sql/`` and its
version-dependent parts in ``sql_texts``; ``snapshot`` (the plain values they return); the pure
judging: ``judge_*``, ``trees``, ``visibility``, ``quoting`` (suggested SQL) and ``query_text``
(secrets masked); ``base`` (the per-target loop every probe shares) and one module per probe:
``connections``, ``locks``, ``queries``, ``replication``.
"""
