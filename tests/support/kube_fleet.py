"""Two clusters behind one kubeconfig, for ``kubernetes: {contexts: [...]}``.

Two :class:`~tests.support.kube_api.KubeApiServer` instances (two local API servers on two
ports, each with its own staged :class:`~tests.support.kube_api.Cluster`) and a kubeconfig whose
contexts point at them:

- ``prod-eu``: the session's ``kube_api`` server; ``prod-us``: a second server;
- ``prod-down``: a closed port (connection refused);
- ``prod-intruder``: the ``prod-us`` server with a token it rejects (401).

Fixture: ``kube_fleet`` (both servers emptied before and after the test).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.support.kube_api import TOKEN, KubeApiServer, closed_port_url

EU, US, DOWN, INTRUDER = "prod-eu", "prod-us", "prod-down", "prod-intruder"


@dataclass(frozen=True)
class Fleet:
    """The two servers and the kubeconfig naming them (plus an unreachable and a 401 context)."""

    eu: KubeApiServer
    us: KubeApiServer
    kubeconfig: Path


def write_fleet_kubeconfig(path: Path, contexts: Mapping[str, tuple[str, str]]) -> Path:
    """A kubeconfig with one cluster and user per context: ``{context: (server URL, token)}``."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": url}} for name, (url, _) in contexts.items()],
        "users": [{"name": name, "user": {"token": token}} for name, (_, token) in contexts.items()],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}} for name in contexts],
        "current-context": next(iter(contexts)),
    }
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="session")
def kube_api_us(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeApiServer]:
    """The session's second Kubernetes API server (context ``prod-us``)."""
    server = KubeApiServer(tmp_path_factory.mktemp("kube-us"))
    yield server
    server.close()


@pytest.fixture
def kube_fleet(kube_api: KubeApiServer, kube_api_us: KubeApiServer, tmp_path: Path) -> Iterator[Fleet]:
    """Both servers, empty; ``.eu.load(...)`` and ``.us.load(...)`` stage each cluster."""
    kubeconfig = write_fleet_kubeconfig(
        tmp_path / "fleet-kubeconfig",
        {
            EU: (kube_api.url, TOKEN),
            US: (kube_api_us.url, TOKEN),
            DOWN: (closed_port_url(), TOKEN),
            INTRUDER: (kube_api_us.url, "not-the-right-token"),
        },
    )
    for server in (kube_api, kube_api_us):
        server.reset()
    yield Fleet(eu=kube_api, us=kube_api_us, kubeconfig=kubeconfig)
    for server in (kube_api, kube_api_us):
        server.reset()
