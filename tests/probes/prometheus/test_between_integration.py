"""Step 8 end to end: a gauge scraped every 15 s, backfilled into a real Prometheus; a burst
between the 5-minute grid's points is found through the step extremes the probe reads for it
(``max_over_time``/``min_over_time`` subqueries), a burst the series makes every day is not."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import numpy as np
import pytest

from diagnostics.testing import ProbeRun, run_probe
from probes.prometheus import anomalies_reading
from probes.prometheus.anomalies import AnomaliesProbe
from tests.probes.prometheus.incidents import AT
from tests.support.prometheus import PrometheusDataset, PrometheusServer, StagedSeries, staged

pytestmark = pytest.mark.integration
Server = Callable[[PrometheusDataset], PrometheusServer]
SCRAPE = 15.0
BURST = AT - timedelta(minutes=19)  # 60 s after a grid point (grid: AT - k x 5 min)
DROP = AT - timedelta(minutes=38)
DAILY = AT - timedelta(minutes=9)


def _queue_depths() -> Iterator[StagedSeries]:
    """Four workers' queue depth, 100 +- 5, every 15 s for 7 days and 2 hours: worker-0 bursts
    to 300 for 90 s at BURST, worker-1 falls to 0 for 90 s at DROP, worker-2 bursts to 300 for
    60 s every day at DAILY's time (today too), worker-3 is healthy."""
    at = AT.timestamp()
    start = at - timedelta(days=7, hours=2).total_seconds()
    times = np.arange(start, at + 1, SCRAPE)
    rng = np.random.default_rng(17)
    for worker in range(4):
        depth = 100 + 5 * rng.normal(size=len(times))
        if worker == 0:
            depth[(times >= BURST.timestamp()) & (times < BURST.timestamp() + 90)] = 300.0
        if worker == 1:
            depth[(times >= DROP.timestamp()) & (times < DROP.timestamp() + 90)] = 0.0
        if worker == 2:
            depth[((times - DAILY.timestamp()) % 86_400) < 60] = 300.0
        yield staged("worker_queue_depth", {"pod": f"worker-{worker}"}, start, SCRAPE, depth.tolist())


QUEUES = PrometheusDataset(name="queue-depths-15s", series=_queue_depths)
QUERY = {"name": "queue depth", "query": "worker_queue_depth"}


def recorded_queries(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every PromQL range query the probe's reading sends, in order."""
    read: list[str] = []
    reader = anomalies_reading.query_range_sliced

    def recorded(client: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        read.append(query)
        return reader(client, query, *args, **kwargs)

    monkeypatch.setattr(anomalies_reading, "query_range_sliced", recorded)
    return read


def anomalies_as_of_at(server: PrometheusServer, query: dict[str, str]) -> ProbeRun:
    """metrics.anomalies on ``query`` as of AT."""
    return run_probe(
        AnomaliesProbe, config={"prometheus": server.config()}, options={"queries": [query]}, at=AT
    )


def test_bursts_between_the_grid_points_are_found_a_daily_one_is_not(
    prometheus_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    read = recorded_queries(monkeypatch)
    run = anomalies_as_of_at(prometheus_server(QUEUES), QUERY)
    by_pod = {f.evidence.details["labels"]["pod"]: f for f in run.findings}
    assert sorted(by_pod) == ["worker-0", "worker-1"], [f.title for f in run.findings]
    burst, drop = by_pod["worker-0"], by_pod["worker-1"]
    for finding, moment in ((burst, BURST), (drop, DROP)):
        details = finding.evidence.details
        assert details["between_grid_points"] and not details["ongoing"]
        assert details["baseline_step_s"] == 300 and details["sampling_interval_s"] == 300
        assert finding.onset is not None and moment <= finding.onset <= moment + timedelta(seconds=30)
        assert "Seen only between the 5m points" in finding.summary
    assert "queue depth {pod=worker-0} spiked to 300 at 18:41Z, 3x normal" in burst.title, burst.title
    assert "queue depth {pod=worker-1} dipped to 0 at 18:22Z, 100 % below normal" in drop.title, drop.title
    subqueries = [q for q in read if q.startswith(("max_over_time(", "min_over_time("))]
    assert len(subqueries) == 2 and all("[300s:30s]" in q for q in subqueries), read
    assert all("worker-3" not in q for q in subqueries)  # only the candidates' step extremes


SPIKE = AT - timedelta(minutes=20) + timedelta(seconds=10)  # 10 s after a grid point


def _jittered_temperatures() -> Iterator[StagedSeries]:
    """Three sensors sampled every 5 minutes, stamped up to 30 s either side of the grid's points,
    for 7 days and 2 hours: sensor-0 reads 300 once at SPIKE, a sample the grid never takes
    (the next one comes 280 s later, in the same step); the others are healthy."""
    at = AT.timestamp()
    nominal = np.arange(at - timedelta(days=7, hours=2).total_seconds(), at - 299, 300.0)
    rng = np.random.default_rng(23)
    for sensor in range(3):
        times = nominal + rng.uniform(-30, 30, len(nominal))
        values = 100 + 5 * rng.normal(size=len(times))
        if sensor == 0:
            late = int(np.argmin(np.abs(times - SPIKE.timestamp())))
            times[late], times[late + 1] = SPIKE.timestamp(), SPIKE.timestamp() + 280
            values[late] = 300.0
            order = np.argsort(times, kind="stable")
            times, values = times[order], values[order]
        yield StagedSeries(
            name="sensor_temperature",
            labels={"sensor": f"sensor-{sensor}"},
            timestamps=times.tolist(),
            values=values.tolist(),
        )


JITTERED = PrometheusDataset(name="jittered-5m", series=_jittered_temperatures)


def test_a_sample_the_grid_misses_is_found_through_its_step(
    prometheus_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    read = recorded_queries(monkeypatch)
    run = anomalies_as_of_at(
        prometheus_server(JITTERED), {"name": "temperature", "query": "sensor_temperature"}
    )
    assert [f.evidence.details["labels"]["sensor"] for f in run.findings] == ["sensor-0"], [
        f.title for f in run.findings
    ]
    details = run.findings[0].evidence.details
    assert details["between_grid_points"] and details["sampling_interval_s"] == 300
    peak = {m.name: m.value for m in run.findings[0].evidence.values}["peak"]
    assert peak == 300.0
    subqueries = [q for q in read if q.startswith(("max_over_time(", "min_over_time("))]
    assert subqueries and all("sensor-0" in q for q in subqueries), read
