"""The dependency probes honour proxy and CA variables from the environment: start each test
without the machine's own, so a proxy configured for package downloads cannot reroute them."""

from __future__ import annotations

import pytest

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
