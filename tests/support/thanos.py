"""A real Thanos Query over a Thanos sidecar in front of a real Prometheus, for tests.

Thanos is built with Go from the module proxy, once, into
``~/.cache/diag-test-bin/thanos-<version>/`` (``scripts/bootstrap`` does it; a test session on a
machine without it builds it here). Its go.mod has replace directives, so ``go install
module@version`` refuses it: the module's source is downloaded (``go mod download``) and built
in a scratch copy. v0.31.0 is the newest release whose dependencies the module proxy serves
here (0.37 needs a module it refuses).

``thanos_query(DATASET)`` starts (once per session per dataset) a Prometheus holding the
dataset with an external label, a sidecar reading it through Prometheus' remote-read API, and
a querier in front of the sidecar; the returned server's URL is the querier's, which speaks
Prometheus' HTTP API, so tests use it like ``prometheus_server``.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.support.ports import free_port
from tests.support.processes import stop_processes, wait_ready
from tests.support.prometheus import PrometheusDataset, PrometheusServer, start_prometheus

VERSION = "v0.31.0"
MODULE = "github.com/thanos-io/thanos"
CACHE = Path(os.environ.get("DIAG_TEST_BIN", Path.home() / ".cache" / "diag-test-bin"))
STARTUP_TIMEOUT_S = 60.0
EXTERNAL_LABELS = {"cluster": "test", "replica": "a"}


def thanos_binary() -> Path:
    """The built ``thanos`` binary, building it first when the cache has none."""
    directory = CACHE / f"thanos-{VERSION.removeprefix('v')}"
    binary = directory / "thanos"
    if binary.is_file():
        return binary
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / f"thanos-{VERSION}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build even when several sessions start at once
        if not binary.is_file():
            go = shutil.which("go") or "/usr/local/go/bin/go"
            env = {**os.environ, "GOFLAGS": "-mod=mod"}
            download = subprocess.run(
                [go, "mod", "download", "-json", f"{MODULE}@{VERSION}"],
                check=True,
                capture_output=True,
                text=True,
                env=env,
                timeout=1800,
            )
            source = Path(json.loads(download.stdout)["Dir"])
            with tempfile.TemporaryDirectory() as scratch:
                work = Path(scratch) / "thanos"
                shutil.copytree(source, work)
                for path in work.rglob("*"):
                    path.chmod(path.stat().st_mode | 0o200)
                directory.mkdir(parents=True, exist_ok=True)
                partial = directory / "thanos.partial"
                subprocess.run(
                    [go, "build", "-o", str(partial), "./cmd/thanos"],
                    cwd=work,
                    check=True,
                    capture_output=True,
                    env=env,
                    timeout=3600,
                )
                partial.rename(binary)
    return binary


def _run_env() -> dict[str, str]:
    """Thanos 0.31 depends on go4.org/unsafe/assume-no-moving-gc, which refuses Go releases newer
    than it knows; no Go release has a moving garbage collector, so the build's Go is declared."""
    go = shutil.which("go") or "/usr/local/go/bin/go"
    version = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True).stdout.strip()
    major_minor = ".".join(version.removeprefix("go").split(".")[:2])
    return {**os.environ, "ASSUME_NO_MOVING_GC_UNSAFE_RISK_IT_WITH": f"go{major_minor}"}


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, what: str) -> None:
    wait_ready(url, process, log, what, STARTUP_TIMEOUT_S)


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    stop_processes(processes)


def start_thanos(
    dataset: PrometheusDataset, workdir: Path
) -> tuple[PrometheusServer, list[subprocess.Popen[bytes]]]:
    binary = str(thanos_binary())
    env = _run_env()
    prometheus = start_prometheus(replace(dataset, external_labels=EXTERNAL_LABELS), workdir / "prometheus")
    started: list[subprocess.Popen[bytes]] = [prometheus.process]
    try:
        sidecar_grpc, sidecar_http = free_port(), free_port()
        sidecar_log = workdir / "sidecar.log"
        with sidecar_log.open("wb") as output:
            started.append(
                subprocess.Popen(
                    [
                        binary,
                        "sidecar",
                        f"--prometheus.url={prometheus.url}",
                        f"--tsdb.path={prometheus.data_dir}",
                        f"--grpc-address=127.0.0.1:{sidecar_grpc}",
                        f"--http-address=127.0.0.1:{sidecar_http}",
                        "--log.level=warn",
                    ],
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    env=env,
                )
            )
        _wait_ready(f"http://127.0.0.1:{sidecar_http}/-/ready", started[-1], sidecar_log, "thanos sidecar")
        query_http, query_grpc = free_port(), free_port()
        query_log = workdir / "query.log"
        with query_log.open("wb") as output:
            started.append(
                subprocess.Popen(
                    [
                        binary,
                        "query",
                        f"--http-address=127.0.0.1:{query_http}",
                        f"--grpc-address=127.0.0.1:{query_grpc}",
                        f"--store=127.0.0.1:{sidecar_grpc}",
                        "--query.replica-label=replica",
                        "--log.level=warn",
                    ],
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    env=env,
                )
            )
        url = f"http://127.0.0.1:{query_http}"
        _wait_ready(url + "/-/ready", started[-1], query_log, "thanos query")
        # the querier learns its stores asynchronously: wait until the sidecar is one
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            with urllib.request.urlopen(url + "/api/v1/stores", timeout=5) as answer:
                if json.load(answer).get("data"):
                    break
            time.sleep(0.5)
        else:
            raise RuntimeError(f"thanos query found no store: {query_log.read_text()[-2000:]}")
    except BaseException:
        _stop(started)
        raise
    server = PrometheusServer(
        url=url,
        port=query_http,
        data_dir=prometheus.data_dir,
        process=started[-1],
        down_target=prometheus.down_target,
        log=query_log,
    )
    return server, started


@pytest.fixture(scope="session")
def thanos_query(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[PrometheusDataset], PrometheusServer]]:
    """Start (once per session per dataset name) Prometheus + sidecar + Thanos Query."""
    servers: dict[str, tuple[PrometheusServer, list[subprocess.Popen[bytes]]]] = {}

    def get(dataset: PrometheusDataset) -> PrometheusServer:
        if dataset.name not in servers:
            servers[dataset.name] = start_thanos(dataset, tmp_path_factory.mktemp(f"thanos-{dataset.name}"))
        return servers[dataset.name][0]

    yield get
    for _, processes in servers.values():
        _stop(processes)
