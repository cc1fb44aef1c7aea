"""Session fixtures for tests that need a real kube_api backend (filled in by its probe issue)."""
