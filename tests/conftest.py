"""Shared fixtures. Real servers are started once per session by the plugins in tests/support."""

from __future__ import annotations

import pytest

from diagnostics.fingerprints import STRICT_VARIABLE

pytest_plugins = [
    "tests.support.postgres",
    "tests.support.prometheus",
    "tests.support.kube_api",
    "tests.support.http_servers",
    "tests.support.alertmanager",
    "tests.support.victoriametrics",
    "tests.support.unleash",
    "tests.support.launchdarkly_api",
    "tests.support.victorialogs",
    "tests.support.loki_api",
    "tests.support.elasticsearch_api",
]

# Probes honour proxy and CA variables from the environment: every test starts without the
# machine's own, so a proxy configured for package downloads cannot reroute local servers.
TRANSPORT_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
)


@pytest.fixture(autouse=True)
def _no_transport_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in TRANSPORT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    # a probe returning two findings with one fingerprint fails its outcome in every test
    monkeypatch.setenv(STRICT_VARIABLE, "1")
