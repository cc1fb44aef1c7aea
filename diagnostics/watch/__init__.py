"""``diag watch``: repeated runs that report only what changed, kept across restarts."""
