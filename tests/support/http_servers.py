"""Session fixtures for tests that need a real http_servers backend (filled in by its probe issue)."""
