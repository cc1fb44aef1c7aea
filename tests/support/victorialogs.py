"""A real VictoriaLogs for the log probes' tests, built with Go from the module proxy.

The binary is built once into ``~/.cache/diag-test-bin/victorialogs-<version>/`` (``scripts/
bootstrap`` does it; a test session on a machine without it builds it here). Fixture
``victorialogs``: one server per session on a free port with its data in a temp dir; lines are
ingested through its JSON-lines API (``/insert/jsonline``) and flushed before querying.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.ports import free_port

VERSION = "v1.52.2"
PACKAGE = "github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs"
CACHE = Path(os.environ.get("DIAG_TEST_BIN", Path.home() / ".cache" / "diag-test-bin"))


def victorialogs_binary() -> Path:
    """The built ``victoria-logs`` binary, building it first when the cache has none."""
    directory = CACHE / f"victorialogs-{VERSION}"
    binary = directory / "victoria-logs"
    if binary.is_file():
        return binary
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / f"victorialogs-{VERSION}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build even when several sessions start at once
        if not binary.is_file():
            go = shutil.which("go") or "/usr/local/go/bin/go"
            partial = CACHE / f"victorialogs-{VERSION}.partial"
            shutil.rmtree(partial, ignore_errors=True)
            subprocess.run(
                [go, "install", f"{PACKAGE}@{VERSION}"],
                check=True,
                env={**os.environ, "GOBIN": str(partial), "CGO_ENABLED": os.environ.get("CGO_ENABLED", "1")},
                capture_output=True,
                timeout=3000,
            )
            shutil.rmtree(directory, ignore_errors=True)
            partial.rename(directory)
    return binary


@dataclass
class VictoriaLogs:
    """A running server: its URL and ingestion."""

    url: str
    process: subprocess.Popen[bytes]

    def ingest(self, records: Iterable[dict[str, Any]], *, stream_fields: str = "service") -> None:
        """Send JSON records (``_time``, ``_msg``, fields) and wait until all are searchable."""
        lines = [json.dumps(r) for r in records]
        expected = self.count() + len(lines)
        request = urllib.request.Request(
            f"{self.url}/insert/jsonline?_stream_fields={stream_fields}",
            data="\n".join(lines).encode(),
            method="POST",
            headers={"Content-Type": "application/stream+json"},  # a form body would be read as parameters
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            answer.read()
        # the insert path buffers rows for about a second before storage sees them
        for _ in range(300):
            with urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=60) as answer:
                answer.read()
            if self.count() >= expected:
                return
            time.sleep(0.1)
        raise RuntimeError(f"VictoriaLogs holds {self.count()} rows, expected {expected}")

    def count(self) -> int:
        """How many rows the server can search."""
        form = urllib.parse.urlencode({"query": "* | stats count() as rows"}).encode()
        with urllib.request.urlopen(f"{self.url}/select/logsql/query", data=form, timeout=60) as answer:
            text = answer.read().decode().strip()
        return int(json.loads(text)["rows"]) if text else 0


@pytest.fixture(scope="session")
def victorialogs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaLogs]:
    """The session's VictoriaLogs server."""
    binary = victorialogs_binary()
    port = free_port()
    data = tmp_path_factory.mktemp("victorialogs")
    log = (data / "server.log").open("wb")
    process = subprocess.Popen(
        [str(binary), f"-storageDataPath={data / 'data'}", f"-httpListenAddr=127.0.0.1:{port}",
         "-retentionPeriod=30d", "-loggerLevel=ERROR"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError(
                        f"victoria-logs exited: {(data / 'server.log').read_text()[-2000:]}"
                    ) from None
                time.sleep(0.1)
        yield VictoriaLogs(url=url, process=process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
