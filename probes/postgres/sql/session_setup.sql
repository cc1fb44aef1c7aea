-- The first statement of each of the probe's read-only transactions. set_config(..., true) is
-- SET LOCAL: the settings end with the transaction, so behind a transaction-pooling PgBouncer
-- they never leak into an application's session (and libpq options=-c, which PgBouncer
-- rejects, is not needed). PostgreSQL 12-17.
SELECT set_config('application_name', %(application_name)s, true),
       set_config('default_transaction_read_only', 'on', true),
       set_config('statement_timeout', %(statement_timeout)s, true),
       set_config('lock_timeout', %(lock_timeout)s, true),
       set_config('idle_in_transaction_session_timeout', %(idle_timeout)s, true)
