-- Facts every probe needs. PostgreSQL 12-17 (reserved_connections is 16+: NULL before,
-- read as 0 by sql_texts.reserved_connections).
SELECT current_setting('server_version_num')::int AS version_num,
       current_database() AS database,
       current_user AS user,
       clock_timestamp() AS now,
       current_setting('max_connections')::int AS max_connections,
       current_setting('superuser_reserved_connections')::int AS superuser_reserved,
       current_setting('reserved_connections', true) AS reserved,
       pg_has_role('pg_read_all_stats', 'USAGE') AS can_read_all_stats,
       pg_is_in_recovery() AS in_recovery
