"""A Prometheus that starts answering and then stalls (a slow baseline query) is a timeout that
names the query and the setting to raise, never "cannot reach Prometheus"."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from diagnostics import ErrorKind, ProbeTimeout
from probes.prometheus.client import PrometheusClient
from probes.prometheus.config import PrometheusConfig

pytestmark = pytest.mark.integration


@pytest.fixture
def stalling_server() -> Iterator[str]:
    """Answers every request with headers and the first byte of a JSON body, then stalls."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{"
            )
            held.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in held:
            conn.close()
        listener.close()


def test_a_range_query_stalling_mid_answer_names_the_query_and_the_timeout(stalling_server: str) -> None:
    client = PrometheusClient(
        PrometheusConfig(url=stalling_server, timeout="1s"), deadline=time.monotonic() + 30
    )
    end = datetime(2026, 12, 1, tzinfo=UTC)
    began = time.monotonic()
    with pytest.raises(ProbeTimeout) as raised:
        client.query_range("avg_over_time(up[1d])", end - timedelta(days=1), end, 300)
    assert time.monotonic() - began < 5
    message = str(raised.value)
    assert raised.value.kind is ErrorKind.TIMEOUT
    assert "cannot reach" not in message
    assert message == (
        f"Prometheus at {stalling_server} accepted the connection but did not answer query "
        "avg_over_time(up[1d]) within prometheus.timeout (1s): raise it (read timeout)"
    )


def test_an_instant_query_cut_by_the_probes_deadline_says_so(stalling_server: str) -> None:
    client = PrometheusClient(
        PrometheusConfig(url=stalling_server, timeout="5s"), deadline=time.monotonic() + 1.0
    )
    with pytest.raises(ProbeTimeout) as raised:
        client.query("up", datetime(2026, 12, 1, tzinfo=UTC))
    assert "left before the probe's deadline: raise the run's --timeout" in str(raised.value)
