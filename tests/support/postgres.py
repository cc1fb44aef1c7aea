"""Session fixtures for tests that need a real postgres backend (filled in by its probe issue)."""
