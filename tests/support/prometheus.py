"""Session fixtures for tests that need a real prometheus backend (filled in by its probe issue)."""
