"""A real Jaeger (v1.75.0 all-in-one, in-memory storage) for the trace probes' tests.

    def test_something(jaeger: JaegerServer) -> None:
        exporter_endpoint = jaeger.otlp_traces_url     # OTLP/HTTP, for the OpenTelemetry SDK
        config = {"traces": {"jaeger": {"url": jaeger.query_url}}}

The binary is built from the Go module proxy by ``scripts/build-jaeger`` (run by
``scripts/bootstrap``) into ``~/.cache/diag-test-bin/jaeger-<version>/``; this fixture runs the
same script when it is missing. The server gets a configuration of its own with free ports for
the OTLP/HTTP receiver, the query API (HTTP and gRPC) and the health check, and is stopped
at the end of the session.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.ports import free_port

JAEGER_VERSION = "1.75.0"
STARTUP_TIMEOUT_S = 60.0
ROOT = Path(__file__).resolve().parents[2]

CONFIG = """\
service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:{health}
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:{query}
    grpc:
      endpoint: 127.0.0.1:{query_grpc}
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 200000
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{otlp}
processors:
  batch:
    timeout: 100ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
"""


@dataclass(frozen=True, slots=True)
class JaegerServer:
    """A running Jaeger: its query API and its OTLP/HTTP traces endpoint."""

    query_url: str
    otlp_traces_url: str
    log: Path


def jaeger_binary() -> Path:
    """The cached Jaeger binary, built by scripts/build-jaeger when missing."""
    result = subprocess.run(
        [str(ROOT / "scripts" / "build-jaeger")],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"cannot build Jaeger {JAEGER_VERSION}: {result.stderr.strip()[-2000:]}")
    return Path(result.stdout.strip())


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    give_up = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < give_up:
        if process.poll() is not None:
            raise RuntimeError(f"Jaeger exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url + "/api/services", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"Jaeger did not answer within {STARTUP_TIMEOUT_S:.0f}s: {log.read_text()[-2000:]}")


@contextlib.contextmanager
def running_jaeger(workdir: Path) -> Iterator[JaegerServer]:
    """A Jaeger on free ports with its configuration and log in ``workdir``, stopped on exit."""
    binary = jaeger_binary()
    ports = {name: free_port() for name in ("health", "query", "query_grpc", "otlp")}
    config = workdir / "config.yaml"
    config.write_text(CONFIG.format(**ports))
    log = workdir / "jaeger.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(binary), "--config", str(config)], stdout=output, stderr=subprocess.STDOUT, cwd=workdir
        )
    server = JaegerServer(
        query_url=f"http://127.0.0.1:{ports['query']}",
        otlp_traces_url=f"http://127.0.0.1:{ports['otlp']}/v1/traces",
        log=log,
    )
    try:
        _wait_until_up(server.query_url, process, log)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def jaeger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JaegerServer]:
    with running_jaeger(tmp_path_factory.mktemp("jaeger")) as server:
        yield server
