"""PostgreSQL probes: connections, locks, queries and replication (psycopg 3).

Layout: ``backend`` (the shared ``postgres`` section), ``collect`` (the one module that talks
to the server; SQL in ``sql/``), ``snapshot`` (the plain values it returns), ``judge_*`` and
``trees`` (pure judging), ``base`` (the per-target loop every probe shares) and one module
per probe: ``connections``, ``locks``, ``queries``, ``replication``.
"""
