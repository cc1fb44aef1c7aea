"""The urllib3 internals that deps.http's phase timing overrides are still what it expects.

requests exposes no phase timings, so probes/dependencies/phases.py subclasses urllib3's
connections and pools (``_new_conn``, ``is_connected``, ``_put_conn``, ``_validate_conn``).
urllib3 is pinned to 2.x in pyproject.toml; this test names the hook that changed when an
upgrade breaks one, before the integration tests show wrong timings.
"""

from __future__ import annotations

import inspect

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from probes.dependencies import phases


def test_urllib3_is_the_pinned_major_version() -> None:
    assert urllib3.__version__.split(".")[0] == "2"


def test_the_overridden_methods_exist_with_the_expected_shape() -> None:
    for connection in (HTTPConnection, HTTPSConnection):
        assert list(inspect.signature(connection._new_conn).parameters) == ["self"]
        assert isinstance(inspect.getattr_static(connection, "is_connected"), property)
    for pool in (HTTPConnectionPool, HTTPSConnectionPool):
        assert list(inspect.signature(pool._put_conn).parameters) == ["self", "conn"]
    assert list(inspect.signature(HTTPSConnectionPool._validate_conn).parameters) == ["self", "conn"]


def test_the_timed_session_uses_the_timed_connections() -> None:
    session = phases.open_session()
    try:
        adapter = session.get_adapter("https://example.invalid/")
        pool = adapter.poolmanager.connection_from_url("https://example.invalid/")
        assert issubclass(pool.ConnectionCls, HTTPSConnection)
        assert pool.ConnectionCls.__module__ == phases.__name__
    finally:
        session.close()
