"""Shared fixtures. Real servers are started once per session by the plugins in tests/support."""

from __future__ import annotations

pytest_plugins = [
    "tests.support.postgres",
    "tests.support.prometheus",
    "tests.support.kube_api",
    "tests.support.http_servers",
]
