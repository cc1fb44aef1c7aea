"""Staged incidents across real backends, diagnosed end to end by ``diag run``: the summary
must name the right suspect with the supporting findings, and claim nothing when nothing
correlates.

Backends: the fake Kubernetes API (real client over HTTP), a real Prometheus with backfilled
history, a real PostgreSQL with concurrent sessions, real HTTP servers. Metric histories are
staged relative to the moment the test stages the live part (a rollout's time, the first lock
wait), so time order across backends is real.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from diagnostics.cli import cli
from tests.support import kube_objects as k
from tests.support.http_servers import HttpServers
from tests.support.kube_api import Cluster, KubeApiServer
from tests.support.postgres import PostgresServer, SessionPool
from tests.support.prometheus import PrometheusDataset, PrometheusServer, StagedSeries, staged

pytestmark = pytest.mark.integration

STEP = 30.0
HISTORY = timedelta(days=1, hours=2)
V142 = "registry.example.com/shop/checkout:v1.4.2"
V150 = "registry.example.com/shop/checkout:v1.5.0"


@dataclass
class ShopMetrics:
    """checkout's traffic and latency up to ``end``, with an error spike and/or a latency rise."""

    end: datetime
    error_onset: datetime | None = None
    latency_onset: datetime | None = None
    seed: int = 7
    series_made: list[str] = field(default_factory=list)

    def series(self) -> Iterator[StagedSeries]:
        rng = np.random.default_rng(self.seed)
        start = (self.end - HISTORY).timestamp()
        times = start + STEP * np.arange(int(HISTORY.total_seconds() // STEP) + 1)
        rps = 50.0 * (1 + rng.normal(0, 0.03, len(times)))
        error_share = np.clip(rng.normal(0.003, 0.0008, len(times)), 0, 1)
        if self.error_onset is not None:
            error_share = np.where(times >= self.error_onset.timestamp(), 0.3, error_share)
        ok = np.cumsum(rps * (1 - error_share) * STEP)
        failed = np.cumsum(rps * error_share * STEP)
        labels = {"job": "checkout", "instance": "checkout-1:8080"}
        yield staged("http_requests_total", {**labels, "code": "200"}, start, STEP, ok)
        yield staged("http_requests_total", {**labels, "code": "500"}, start, STEP, failed)
        p99 = 0.2 * (1 + rng.normal(0, 0.05, len(times)))
        if self.latency_onset is not None:
            p99 = np.where(times >= self.latency_onset.timestamp(), 1.6, p99)
        yield staged("checkout_request_p99_seconds", labels, start, STEP, p99)


def start_metrics(prometheus_server: Any, name: str, metrics: ShopMetrics) -> PrometheusServer:
    server: PrometheusServer = prometheus_server(PrometheusDataset(name=name, series=metrics.series))
    return server


def diagnose(tmp_path: Path, config: dict[str, Any], *args: str) -> dict[str, Any]:
    """``diag run --format json`` with ``config`` as diag.yaml; returns the report."""
    path = tmp_path / "diag.yaml"
    path.write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(cli, ["run", "--config", str(path), "--format", "json", *args])
    assert result.exit_code in (0, 1, 2), result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def finding(report: dict[str, Any], probe: str, kind: str) -> dict[str, Any]:
    matches = [f for f in report["findings"] if f["probe"] == probe and f["kind"] == kind]
    assert matches, f"no {probe} {kind} finding in {[(f['probe'], f['kind']) for f in report['findings']]}"
    return matches[0]


def anomalies_options(**extra: Any) -> dict[str, Any]:
    return {"baseline": "1d", **extra}


def test_a_rollout_followed_by_an_error_spike_of_the_same_service(
    tmp_path: Path, kube_cluster: KubeApiServer, prometheus_server: Any
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    rollout = k.deployment_rollout(
        "checkout", "shop", old_image=V142, new_image=V150, rolled_out_at=now - timedelta(minutes=12)
    )
    kube_cluster.load(Cluster.of(rollout.objects(), logs=rollout.logs))
    metrics = start_metrics(
        prometheus_server, "e2e-rollout", ShopMetrics(end=now, error_onset=now - timedelta(minutes=9))
    )
    report = diagnose(
        tmp_path,
        {
            "kubernetes": {"kubeconfig": str(kube_cluster.kubeconfig), "namespaces": ["shop"]},
            "prometheus": metrics.config(),
            "services": {"checkout": {"user_facing": True}},
            "probes": {"metrics.anomalies": anomalies_options()},
        },
        "--probe", "deploys.rollouts", "--probe", "metrics.anomalies",
    )  # fmt: skip
    rolled = finding(report, "deploys.rollouts", "rollout")
    errors = finding(report, "metrics.anomalies", "metric_anomaly")
    assert errors["evidence"]["details"]["signal"] == "error_ratio"
    summary = report["summary"]
    top = summary["suspects"][0]
    assert top["rule"] == "rollout_before_symptom"
    assert top["cause"] == rolled["fingerprint"]
    assert errors["fingerprint"] in top["supports"]
    assert top["reasoning"].startswith("The rollout of shop/checkout came 3m")
    assert "on the same service (checkout)" in top["reasoning"]
    assert summary["severity"]["level"] == "SEV1"
    assert summary["severity"]["reasons"][0].startswith("user-facing checkout: error ratio")
    timeline = [e["fingerprint"] for e in summary["timeline"]]
    assert timeline.index(rolled["fingerprint"]) < timeline.index(errors["fingerprint"])


def test_two_unrelated_findings_are_not_linked(
    tmp_path: Path, kube_cluster: KubeApiServer, prometheus_server: Any
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    rollout = k.deployment_rollout(
        "search",
        "shop",
        old_image="search:v3",
        new_image="search:v4",
        rolled_out_at=now - timedelta(minutes=12),
    )
    kube_cluster.load(Cluster.of(rollout.objects(), logs=rollout.logs))
    metrics = start_metrics(
        prometheus_server, "e2e-unrelated", ShopMetrics(end=now, error_onset=now - timedelta(minutes=9))
    )
    report = diagnose(
        tmp_path,
        {
            "kubernetes": {"kubeconfig": str(kube_cluster.kubeconfig), "namespaces": ["shop"]},
            "prometheus": metrics.config(),
            "probes": {"metrics.anomalies": anomalies_options()},
        },
        "--probe", "deploys.rollouts", "--probe", "metrics.anomalies",
    )  # fmt: skip
    finding(report, "deploys.rollouts", "rollout")
    finding(report, "metrics.anomalies", "metric_anomaly")
    assert report["summary"]["suspects"] == []
    assert report["summary"]["no_cause"].startswith("No finding explains another")


def hold_rows(pool: SessionPool) -> tuple[int, list[int]]:
    """A root blocker holding two rows, and two sessions waiting behind it."""
    root = pool.open("billing")
    root.execute("BEGIN")
    root.execute("UPDATE orders SET status = 'held' WHERE id IN (1, 2)")
    waiters = []
    for row in (1, 2):
        conn = pool.open("web")
        waiters.append(pool.pid(conn))
        pool.in_background(conn, f"UPDATE orders SET status = 'x' WHERE id = {row}")
    pool.wait_for_lock_waiters(waiters)
    time.sleep(0.3)  # the waits pass the 0.1 s threshold of these tests
    return pool.pid(root), waiters


def first_wait(server: PostgresServer, pids: list[int]) -> datetime:
    [(started,)] = server.execute(
        "SELECT min(waitstart) FROM pg_locks WHERE pid = ANY(%s) AND NOT granted", (pids,)
    )
    moment: datetime = started.astimezone(UTC)
    return moment


def test_lock_contention_followed_by_a_latency_rise_names_the_root_blocker(
    tmp_path: Path,
    pg_sessions: SessionPool,
    postgres_server: PostgresServer,
    postgres_config: dict[str, Any],
    prometheus_server: Any,
) -> None:
    root, waiters = hold_rows(pg_sessions)
    locked_at = first_wait(postgres_server, waiters)
    # checkout's p99 latency rises 5 s after the first lock wait; the history is staged up to
    # a minute after it and diagnosed as of then (diag accepts --at up to a minute ahead of its
    # clock), so the rise has lasted long enough to judge
    rise = locked_at + timedelta(seconds=5)
    until = locked_at + timedelta(seconds=60)
    metrics = start_metrics(prometheus_server, "e2e-locks", ShopMetrics(end=until, latency_onset=rise))
    report = diagnose(
        tmp_path,
        {
            **postgres_config,
            "prometheus": metrics.config(),
            "services": {"checkout": {"databases": ["orders"], "user_facing": True}},
            "probes": {
                "db.locks": {"wait_warning": "0.1s"},
                "metrics.anomalies": anomalies_options(
                    queries=[{"name": "checkout p99 latency", "query": "checkout_request_p99_seconds", "unit": "s"}],
                ),
            },
        },
        "--probe", "db.locks", "--probe", "metrics.anomalies",
        "--at", until.isoformat(), "--window", "10m",
    )  # fmt: skip
    assert report["probes"][0]["status"] != "error", report["probes"]
    blocked = finding(report, "db.locks", "lock_blocking")
    latency = finding(report, "metrics.anomalies", "metric_anomaly")
    assert blocked["evidence"]["details"]["root"]["pid"] == root
    top = report["summary"]["suspects"][0]
    assert top["rule"] == "database_before_symptom"
    assert top["cause"] == blocked["fingerprint"]
    assert top["supports"] == [latency["fingerprint"]]
    assert f"behind pid {root}" in top["title"]
    assert re.search(r"on database orders began \d+s before 'checkout p99 latency", top["reasoning"])
    assert "of checkout, which uses it" in top["reasoning"], top["reasoning"]


def test_a_dependency_down_explains_the_errors_of_its_caller(
    tmp_path: Path, http_servers: HttpServers, prometheus_server: Any
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    metrics = start_metrics(
        prometheus_server, "e2e-dependency", ShopMetrics(end=now, error_onset=now - timedelta(minutes=9))
    )
    report = diagnose(
        tmp_path,
        {
            "dependencies": [{"name": "payments-api", "url": http_servers.url("/status/503")}],
            "prometheus": metrics.config(),
            "services": {"checkout": {"dependencies": ["payments-api"]}},
            "probes": {"metrics.anomalies": anomalies_options()},
        },
        "--probe", "deps.http", "--probe", "metrics.anomalies",
    )  # fmt: skip
    down = next(f for f in report["findings"] if f["probe"] == "deps.http" and f["severity"] == "critical")
    errors = finding(report, "metrics.anomalies", "metric_anomaly")
    top = report["summary"]["suspects"][0]
    assert top["rule"] == "dependency_before_callers"
    assert top["cause"] == down["fingerprint"]
    assert top["supports"] == [errors["fingerprint"]]
    assert top["reasoning"].startswith(
        "Dependency payments-api is failing (payments-api: HTTP 503 on 3/3 attempts"
    )
    assert "of a service that calls it" in top["reasoning"]


def test_fingerprints_are_stable_and_the_diff_shows_the_fix(
    tmp_path: Path, pg_sessions: SessionPool, postgres_config: dict[str, Any]
) -> None:
    config = {**postgres_config, "probes": {"db.locks": {"wait_warning": "0.1s"}}}
    hold_rows(pg_sessions)
    first = diagnose(tmp_path, config, "--probe", "db.locks")
    second = diagnose(tmp_path, config, "--probe", "db.locks")
    assert [f["fingerprint"] for f in first["findings"]] == [f["fingerprint"] for f in second["findings"]]
    assert [f["kind"] for f in first["findings"]] == ["lock_blocking"]
    pg_sessions.close()  # the fix: the blocker and its waiters are gone

    (tmp_path / "before.json").write_text(json.dumps(first))
    after = diagnose(tmp_path, config, "--probe", "db.locks", "--baseline", str(tmp_path / "before.json"))
    comparison = after["comparison"]
    assert comparison["new"] == [] and comparison["unchanged"] == []
    assert [f["fingerprint"] for f in comparison["resolved"]] == [first["findings"][0]["fingerprint"]]
    (tmp_path / "after.json").write_text(json.dumps(after))
    result = CliRunner().invoke(cli, ["diff", str(tmp_path / "before.json"), str(tmp_path / "after.json")])
    assert result.exit_code == 0
    assert "0 new, 1 resolved, 0 unchanged" in result.stdout


def test_statements_waiting_behind_a_lock_are_grouped_under_the_root_blocker(
    tmp_path: Path, pg_sessions: SessionPool, postgres_config: dict[str, Any]
) -> None:
    root, waiters = hold_rows(pg_sessions)
    options = {
        "db.locks": {"wait_warning": "0.1s"},
        "db.queries": {"long_running_warning": "0.2s", "slowdown_min_runtime": "0.1s"},
    }
    report = diagnose(
        tmp_path, {**postgres_config, "probes": options}, "--probe", "db.locks", "--probe", "db.queries"
    )
    blocked = finding(report, "db.locks", "lock_blocking")
    waiting = finding(report, "db.queries", "statement_lock_wait")
    details = waiting["evidence"]["details"]
    assert (details["symptom_of"], details["lock_root_pid"]) == (blocked["fingerprint"], root)
    assert sorted(details["pids"]) == sorted(waiters)
    assert waiting["title"].endswith(f"behind pid {root}")
    assert not [f for f in report["findings"] if f["kind"] == "statement_slowdown"]
    assert len({f["fingerprint"] for f in report["findings"]}) == len(report["findings"])
    first = report["summary"]["ranking"][0]
    assert first["lead"] == blocked["fingerprint"] and waiting["fingerprint"] in first["members"]
    top = report["summary"]["suspects"][0]
    assert (top["rule"], top["cause"]) == ("symptom_of_cause", blocked["fingerprint"])
    assert waiting["fingerprint"] in top["supports"]
    assert f"behind pid {root}" in report["headline"]


def test_a_lock_pile_up_leads_over_the_saturated_machine_it_runs_on(
    tmp_path: Path, pg_sessions: SessionPool, postgres_config: dict[str, Any]
) -> None:
    root, _ = hold_rows(pg_sessions)
    # the real machine, judged saturated whatever its load: the noise that must not lead
    saturated = {"load_per_core_warning": 1e-6, "load_per_core_critical": 2e-6}
    calm_disks = {"disk_used_warning": 1, "disk_used_critical": 1, "inodes_used_warning": 1,
                  "inodes_used_critical": 1, "time_to_full_warning": "1s", "time_to_full_critical": "1s"}  # fmt: skip
    options = {
        "db.locks": {"wait_warning": "0.1s", "wait_critical": "0.2s"},
        "resources.host": {**saturated, **calm_disks},
    }
    report = diagnose(
        tmp_path, {**postgres_config, "probes": options}, "--probe", "db.locks", "--probe", "resources.host"
    )
    blocked = finding(report, "db.locks", "lock_blocking")
    cpu = finding(report, "resources.host", "cpu_saturation")
    assert (blocked["severity"], cpu["severity"]) == ("critical", "critical")
    assert f"behind pid {root}" in blocked["title"]
    assert report["headline"].split(": ", 1)[1].startswith(blocked["title"])
    ranking = report["summary"]["ranking"]
    assert (ranking[0]["lead"], ranking[0]["impact"]) == (blocked["fingerprint"], "blocked")
    assert (ranking[-1]["lead"], ranking[-1]["impact"]) == (cpu["fingerprint"], "saturation")
    severity = report["summary"]["severity"]
    assert severity["level"] == "SEV2"
    assert severity["reasons"] == [f"critical: {blocked['title']} [database {blocked['entity']['name']}]"]
    assert report["findings"][0]["fingerprint"] == blocked["fingerprint"]
