"""A real VictoriaMetrics for tests (Debian's victoria-metrics, Prometheus-compatible API).

``victoriametrics_server(DATASET)`` holds the same staged history as ``prometheus_server``:
the series are imported through ``/api/v1/import/prometheus`` (text format with millisecond
timestamps) and flushed before the tests query them. Live scrape jobs (``scrape_self``,
``scrape_down_job``, ``scrape_targets``) are VictoriaMetrics' own ``-promscrape.config``; alert
rules are evaluated by a real ``vmalert`` that writes ``ALERTS`` back, as in a VictoriaMetrics
stack. The server object is a :class:`tests.support.prometheus.PrometheusServer`, so tests
use either store the same way.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.ports import free_port
from tests.support.processes import stop_processes, wait_ready
from tests.support.prometheus import PrometheusDataset, PrometheusServer, StagedSeries, _escape

STARTUP_TIMEOUT_S = 30.0
IMPORT_CHUNK_LINES = 200_000


def ensure_victoriametrics() -> tuple[str, str]:
    """Paths of victoria-metrics and vmalert, installing the Debian package when missing."""
    server, alert = shutil.which("victoria-metrics"), shutil.which("vmalert")
    if server and alert:
        return server, alert
    env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, capture_output=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "victoria-metrics"],
        check=True,
        env=env,
        capture_output=True,
    )
    server, alert = shutil.which("victoria-metrics"), shutil.which("vmalert")
    if not (server and alert):
        raise RuntimeError("the Debian package victoria-metrics did not install its binaries")
    return server, alert


def import_lines(series: Iterable[StagedSeries]) -> Iterator[str]:
    """Prometheus text lines with millisecond timestamps (what /api/v1/import/prometheus reads)."""
    for item in series:
        labels = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(item.labels.items()))
        prefix = f"{item.name}{{{labels}}}" if labels else item.name
        for t, v in zip(item.timestamps, item.values, strict=True):
            yield f"{prefix} {float(v)!r} {round(float(t) * 1000)}"


@dataclass(slots=True, kw_only=True)
class _Processes:
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def stop(self) -> None:
        stop_processes(self.started)


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, what: str) -> None:
    wait_ready(url, process, log, what, STARTUP_TIMEOUT_S)


def _scrape_config(dataset: PrometheusDataset, port: int, down_port: int | None) -> str:
    jobs = []
    if dataset.scrape_self:
        jobs.append({"job_name": "prometheus", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]})
    if dataset.scrape_down_job and down_port:
        jobs.append(
            {
                "job_name": dataset.scrape_down_job,
                "scrape_timeout": "500ms",
                "static_configs": [{"targets": [f"127.0.0.1:{down_port}"]}],
            }
        )
    jobs += [
        {"job_name": job, "static_configs": [{"targets": [target]}]}
        for job, target in dataset.scrape_targets.items()
    ]
    return json.dumps({"global": {"scrape_interval": "1s"}, "scrape_configs": jobs})


def start_victoriametrics(dataset: PrometheusDataset, workdir: Path) -> tuple[PrometheusServer, _Processes]:
    binary, vmalert = ensure_victoriametrics()
    processes = _Processes()
    port = free_port()
    down_port = free_port() if dataset.scrape_down_job else None
    scrape = workdir / "scrape.yml"
    scrape.write_text(_scrape_config(dataset, port, down_port))
    log = workdir / "victoria-metrics.log"
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as output:
        processes.started.append(
            subprocess.Popen(
                [
                    binary,
                    f"-storageDataPath={workdir / 'data'}",
                    f"-httpListenAddr=127.0.0.1:{port}",
                    "-retentionPeriod=100y",
                    f"-promscrape.config={scrape}",
                    # live data becomes visible 30 s late by default: tests look at "now"
                    "-search.latencyOffset=0s",
                    "-search.disableCache",
                    "-loggerLevel=ERROR",
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        )
    try:
        _wait_ready(url + "/health", processes.started[0], log, "victoria-metrics")
        lines = list(import_lines(dataset.series()))
        for begin in range(0, len(lines), IMPORT_CHUNK_LINES):
            body = ("\n".join(lines[begin : begin + IMPORT_CHUNK_LINES]) + "\n").encode()
            request = urllib.request.Request(url + "/api/v1/import/prometheus", data=body, method="POST")
            with urllib.request.urlopen(request, timeout=120) as answer:
                answer.read()
        with urllib.request.urlopen(url + "/internal/force_flush", timeout=30) as answer:
            answer.read()
        if dataset.rules:
            rules = workdir / "rules.yml"
            rules.write_text(dataset.rules)
            alert_port = free_port()
            alert_log = workdir / "vmalert.log"
            with alert_log.open("wb") as output:
                processes.started.append(
                    subprocess.Popen(
                        [
                            vmalert,
                            f"-rule={rules}",
                            f"-datasource.url={url}",
                            f"-remoteWrite.url={url}",
                            f"-remoteRead.url={url}",
                            "-evaluationInterval=1s",
                            f"-httpListenAddr=127.0.0.1:{alert_port}",
                            "-notifier.url=http://127.0.0.1:1",  # no Alertmanager: ALERTS is what counts
                            "-loggerLevel=ERROR",
                        ],
                        stdout=output,
                        stderr=subprocess.STDOUT,
                    )
                )
            _wait_ready(f"http://127.0.0.1:{alert_port}/health", processes.started[-1], alert_log, "vmalert")
    except BaseException:
        processes.stop()
        raise
    server = PrometheusServer(
        url=url,
        port=port,
        data_dir=workdir / "data",
        process=processes.started[0],
        down_target=f"127.0.0.1:{down_port}" if down_port else None,
        log=log,
    )
    return server, processes


@pytest.fixture(scope="session")
def victoriametrics_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[PrometheusDataset], PrometheusServer]]:
    """Start (once per session per dataset name) a VictoriaMetrics holding a dataset."""
    servers: dict[str, tuple[PrometheusServer, _Processes]] = {}

    def get(dataset: PrometheusDataset) -> PrometheusServer:
        if dataset.name not in servers:
            servers[dataset.name] = start_victoriametrics(
                dataset, tmp_path_factory.mktemp(f"victoriametrics-{dataset.name}")
            )
        return servers[dataset.name][0]

    yield get
    for _, processes in servers.values():
        processes.stop()
