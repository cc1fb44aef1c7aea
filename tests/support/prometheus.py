"""Real Prometheus servers for tests: staged history backfilled with promtool, one server per dataset.

    DATASET = PrometheusDataset(name="incidents", series=make_series, rules=RULES, scrape_down_job="payments")

    def test_something(prometheus_server):
        server = prometheus_server(DATASET)          # started once per session per dataset
        run_probe(AnomaliesProbe, config={"prometheus": server.config()}, at=STAGED_AT)

How: the dataset's series are written as OpenMetrics text (:func:`openmetrics`), turned into
TSDB blocks with ``promtool tsdb create-blocks-from openmetrics`` and Prometheus
(``/usr/bin/prometheus``, the Debian package, installed when missing) is started on a free
127.0.0.1 port on that directory with a retention long enough for any staged date. Backfilled
blocks are only read at startup, so the data is written before the server starts. Stage
incidents at fixed past timestamps and query them with ``at=``: PromQL looks back 5 minutes
for a sample (staleness), so a series that stops is absent 5 minutes after its last sample.
Rule files are evaluated every second on live data only (``ALERTS`` for staged alerts), and
scrape jobs (every second) can point at a closed port (a down target) or at the server itself.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.ports import free_port

STARTUP_TIMEOUT_S = 30.0
RETENTION = "100y"


@dataclass(frozen=True, slots=True, kw_only=True)
class StagedSeries:
    """One series to backfill: name, labels, unix timestamps (seconds) and values."""

    name: str
    labels: Mapping[str, str]
    timestamps: Sequence[float]
    values: Sequence[float]


def staged(
    name: str, labels: Mapping[str, str], start: float, step: float, values: Iterable[float]
) -> StagedSeries:
    """A series sampled every ``step`` seconds from ``start``; NaN values are left out (a gap)."""
    points = [(start + i * step, v) for i, v in enumerate(values)]
    kept = [(t, v) for t, v in points if v == v]
    return StagedSeries(
        name=name, labels=dict(labels), timestamps=[t for t, _ in kept], values=[v for _, v in kept]
    )


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def openmetrics(series: Iterable[StagedSeries]) -> str:
    """OpenMetrics text of the series, ending with ``# EOF`` (what promtool reads)."""
    lines: list[str] = []
    for item in series:
        labels = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(item.labels.items()))
        prefix = f"{item.name}{{{labels}}}" if labels else item.name
        lines.extend(
            f"{prefix} {float(v)!r} {round(float(t), 3)!r}"
            for t, v in zip(item.timestamps, item.values, strict=True)
        )
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def ensure_prometheus() -> tuple[str, str]:
    """Paths of prometheus and promtool, installing the Debian package when they are missing."""
    prometheus, promtool = shutil.which("prometheus"), shutil.which("promtool")
    if prometheus and promtool:
        return prometheus, promtool
    env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, capture_output=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "prometheus"],
        check=True,
        env=env,
        capture_output=True,
    )
    prometheus, promtool = shutil.which("prometheus"), shutil.which("promtool")
    if not (prometheus and promtool):
        raise RuntimeError("the Debian package prometheus did not install prometheus and promtool")
    return prometheus, promtool


def backfill(text: str, tsdb_dir: Path, promtool: str = "promtool") -> None:
    """Write ``text`` (OpenMetrics) as TSDB blocks into ``tsdb_dir``."""
    tsdb_dir.mkdir(parents=True, exist_ok=True)
    source = tsdb_dir.parent / f"{tsdb_dir.name}.om"
    source.write_text(text)
    result = subprocess.run(
        [
            promtool,
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "--quiet",
            "--max-block-duration=1000h",
            str(source),
            str(tsdb_dir),
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"promtool backfill failed: {result.stderr.strip()[-2000:]}")
    source.unlink()


@dataclass(frozen=True, slots=True, kw_only=True)
class PrometheusDataset:
    """What a test server holds: backfilled series, alerting rules, live scrape jobs."""

    name: str
    series: Callable[[], Iterable[StagedSeries]] = lambda: ()
    rules: str | None = None
    """YAML text of one rule file (``groups: [...]``), evaluated every second."""
    scrape_self: bool = False
    """A job ``prometheus`` scraping the server itself every second (an up target)."""
    scrape_down_job: str | None = None
    """A job scraping a closed port every second (a down target)."""
    scrape_targets: Mapping[str, str] = field(default_factory=dict)
    """More jobs scraped every second: job name -> ``host:port`` (e.g. a running ``diag serve``)."""


@dataclass(slots=True, kw_only=True)
class PrometheusServer:
    """A running test Prometheus."""

    url: str
    port: int
    data_dir: Path
    process: subprocess.Popen[bytes]
    down_target: str | None = None
    log: Path = field(default_factory=Path)

    def config(self, **extra: Any) -> dict[str, Any]:
        """The ``prometheus`` section pointing at this server."""
        return {"url": self.url, **extra}

    def api(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=5) as answer:
            return json.load(answer)

    def wait_for(self, check: Callable[[PrometheusServer], bool], timeout: float = 20.0) -> None:
        """Poll ``check`` until true (e.g. an alert firing after rule evaluation)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if check(self):
                return
            time.sleep(0.2)
        raise TimeoutError(f"condition not met within {timeout}s on {self.url}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def _config_text(dataset: PrometheusDataset, port: int, rule_file: Path | None, down_port: int | None) -> str:
    config: dict[str, Any] = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"}}
    if rule_file is not None:
        config["rule_files"] = [str(rule_file)]
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
    config["scrape_configs"] = jobs
    return json.dumps(config, indent=2)  # JSON is YAML


def start_prometheus(dataset: PrometheusDataset, workdir: Path) -> PrometheusServer:
    """Backfill ``dataset`` into a fresh TSDB under ``workdir`` and start Prometheus on it."""
    prometheus, promtool = ensure_prometheus()
    data_dir = workdir / "tsdb"
    backfill(openmetrics(dataset.series()), data_dir, promtool)
    rule_file = None
    if dataset.rules:
        rule_file = workdir / "rules.yml"
        rule_file.write_text(dataset.rules)
    port = free_port()
    down_port = free_port() if dataset.scrape_down_job else None
    config = workdir / "prometheus.yml"
    config.write_text(_config_text(dataset, port, rule_file, down_port))
    log = workdir / "prometheus.log"
    with log.open("wb") as output:  # the child keeps its own descriptor
        process = subprocess.Popen(
            [
                prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={data_dir}",
                f"--storage.tsdb.retention.time={RETENTION}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = PrometheusServer(
        url=f"http://127.0.0.1:{port}",
        port=port,
        data_dir=data_dir,
        process=process,
        down_target=f"127.0.0.1:{down_port}" if down_port else None,
        log=log,
    )
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prometheus exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(server.url + "/-/ready", timeout=1) as answer:
                if answer.status == 200:
                    return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"prometheus not ready within {STARTUP_TIMEOUT_S}s: {log.read_text()[-2000:]}")


@pytest.fixture(scope="session")
def prometheus_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[PrometheusDataset], PrometheusServer]]:
    """Start (once per session per dataset name) a Prometheus holding a dataset."""
    servers: dict[str, PrometheusServer] = {}

    def get(dataset: PrometheusDataset) -> PrometheusServer:
        if dataset.name not in servers:
            servers[dataset.name] = start_prometheus(
                dataset, tmp_path_factory.mktemp(f"prometheus-{dataset.name}")
            )
        return servers[dataset.name]

    yield get
    for server in servers.values():
        server.stop()
