"""The Prometheus-backed probes against VictoriaMetrics and Thanos Query (over a sidecar): the
same staged history gives the same findings as a real Prometheus (PromQL and MetricsQL differ in corner cases: NaN results are
dropped by VictoriaMetrics, lookback and staleness differ), live scrape health comes from its
own scraper, and alerts from a real vmalert writing ``ALERTS`` back."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from diagnostics import Finding, Severity, Status
from diagnostics.testing import ProbeRun, run_probe
from probes.prometheus.alerts import AlertsProbe
from probes.prometheus.anomalies import AnomaliesProbe
from probes.prometheus.scrape import ScrapeProbe
from probes.resources.containers import ContainerResourcesProbe
from probes.resources.nodes import NodeResourcesProbe
from tests.probes.prometheus.incidents import AT, HEALTHY_AT, SHOP
from tests.probes.resources import fleets
from tests.support.prometheus import PrometheusDataset, PrometheusServer

pytestmark = pytest.mark.integration

Server = Callable[[PrometheusDataset], PrometheusServer]
STEP = timedelta(seconds=30)  # the recent grid of a 1h window


def signature(run: ProbeRun) -> set[tuple[str, str, str, str]]:
    """What a finding says, without the numbers' last digits: kind, entity, query, severity."""
    return {
        (f.kind, f.entity.name, str(f.evidence.details.get("query_name", "")), f.severity.label)
        for f in run.findings
    }


OTHER_STORES = ("victoriametrics", "thanos")


@pytest.fixture(scope="module")
def stores(
    prometheus_server: Server, victoriametrics_server: Server, thanos_query: Server
) -> dict[str, PrometheusServer]:
    return {
        "prometheus": prometheus_server(SHOP),
        "victoriametrics": victoriametrics_server(SHOP),
        "thanos": thanos_query(SHOP),
    }


@pytest.mark.parametrize("at", [AT, HEALTHY_AT], ids=["incident", "healthy"])
def test_anomalies_are_the_same_on_both_stores(stores: dict[str, PrometheusServer], at: datetime) -> None:
    runs = {
        name: run_probe(AnomaliesProbe, config={"prometheus": server.config()}, at=at)
        for name, server in stores.items()
    }
    for store in OTHER_STORES:
        assert runs[store].outcome.status is runs["prometheus"].outcome.status, store
        assert signature(runs[store]) == signature(runs["prometheus"]), store
        if at == AT:
            assert ("metric_anomaly", "checkout", "error ratio", "critical") in signature(runs[store])


def test_onsets_and_values_agree(stores: dict[str, PrometheusServer]) -> None:
    def by_key(run: ProbeRun) -> dict[tuple[str, str], Finding]:
        return {(f.entity.name, str(f.evidence.details.get("query_name"))): f for f in run.findings}

    prometheus = by_key(
        run_probe(AnomaliesProbe, config={"prometheus": stores["prometheus"].config()}, at=AT)
    )
    for store in OTHER_STORES:
        other_run = by_key(run_probe(AnomaliesProbe, config={"prometheus": stores[store].config()}, at=AT))
        assert set(other_run) == set(prometheus), store
        for key, finding in prometheus.items():
            other = other_run[key]
            assert finding.onset is not None and other.onset is not None
            # lookback differs (PromQL: 5 minutes; MetricsQL: from the sampling interval): one step
            assert abs(other.onset - finding.onset) <= STEP, (store, key)
            assert other.severity is finding.severity, (store, key)


def test_staged_down_target_on_both_stores(stores: dict[str, PrometheusServer]) -> None:
    runs = {
        name: run_probe(ScrapeProbe, config={"prometheus": server.config()}, at=AT)
        for name, server in stores.items()
    }
    assert [f.title for f in runs["victoriametrics"].findings] == [
        f.title for f in runs["prometheus"].findings
    ]
    assert runs["victoriametrics"].findings[0].severity is Severity.WARNING


def _firing(server: PrometheusServer) -> bool:
    answer = server.api(
        "/api/v1/query?query=ALERTS%7Balertname%3D%22PaymentsTargetDown%22%2Calertstate%3D%22firing%22%7D"
    )
    return bool(answer["data"]["result"])


def test_live_scrape_and_alerts_from_vmalert(victoriametrics_server: Server) -> None:
    server = victoriametrics_server(SHOP)
    server.wait_for(_firing, timeout=40)
    now = datetime.now(UTC)
    scrape = run_probe(ScrapeProbe, config={"prometheus": server.config()}, at=now, window="5m")
    assert [f.entity.name for f in scrape.of_kind("target_down")] == ["payments"]
    alerts = run_probe(AlertsProbe, config={"prometheus": server.config()}, at=now, window="5m")
    firing = alerts.of_kind("alert_firing")
    assert [f.evidence.details["alertname"] for f in firing] == ["PaymentsTargetDown"]
    assert firing[0].severity is Severity.CRITICAL


@pytest.mark.parametrize("probe", [NodeResourcesProbe, ContainerResourcesProbe], ids=["nodes", "containers"])
def test_fleet_resources_are_the_same_on_both_stores(
    prometheus_server: Server, victoriametrics_server: Server, probe: type[NodeResourcesProbe]
) -> None:
    options = {"baseline": "2h"} if probe is NodeResourcesProbe else {}
    runs = {
        name: run_probe(
            probe,
            config={"prometheus": start(fleets.INCIDENTS).config()},
            options=options,
            at=fleets.AT,
            window=fleets.WINDOW,
        )
        for name, start in (("prometheus", prometheus_server), ("victoriametrics", victoriametrics_server))
    }
    assert runs["prometheus"].findings, "the staged fleet has incidents"
    assert signature(runs["victoriametrics"]) == signature(runs["prometheus"])


def test_thanos_with_a_store_out_of_reach_is_an_error_not_a_partial_picture(tmp_path: Path) -> None:
    """With its only store failing, Thanos Query would answer an empty result and a warning (a
    partial response): judged as the whole picture, every series would seem to have stopped.
    diag asks for ``partial_response=false``, so the probe fails and says so instead."""
    from dataclasses import replace as replaced

    from tests.support.thanos import _stop, start_thanos

    server, processes = start_thanos(replaced(SHOP, name="shop-partial"), tmp_path)
    try:
        assert run_probe(ScrapeProbe, config={"prometheus": server.config()}, at=AT).outcome.status.checked
        prometheus = processes[0]  # the Prometheus behind the sidecar
        prometheus.terminate()
        prometheus.wait(timeout=10)
        run = run_probe(AnomaliesProbe, config={"prometheus": server.config()}, at=AT)
        assert run.outcome.status in (Status.ERROR, Status.TIMEOUT), run.outcome
        assert run.findings == ()
    finally:
        _stop(processes)
