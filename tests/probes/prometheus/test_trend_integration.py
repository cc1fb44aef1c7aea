"""A steady trend end to end: three instances of a series doubling every week, scraped every
minute, backfilled into a real Prometheus; a 30 % drop and a 30 % rise in the last half hour are
found, judged against the trend (expected: today's level, not the week's median), and the
growth itself is not reported."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import numpy as np
import pytest

from diagnostics.testing import run_probe
from probes.prometheus.anomalies import AnomaliesProbe
from tests.probes.prometheus.incidents import AT
from tests.support.prometheus import PrometheusDataset, PrometheusServer, StagedSeries, staged

pytestmark = pytest.mark.integration
Server = Callable[[PrometheusDataset], PrometheusServer]
SCRAPE = 60.0
CHANGE = AT - timedelta(minutes=30)


def _growing() -> Iterator[StagedSeries]:
    """Open sessions of three instances, 100 a week ago growing to 200 now, 1 % noise: "steady"
    unchanged, "dropping" at 0.7x from CHANGE, "rising" at 1.3x from CHANGE."""
    at = AT.timestamp()
    start = at - timedelta(days=7, hours=2).total_seconds()
    times = np.arange(start, at + 1, SCRAPE)
    rng = np.random.default_rng(5)
    for instance, factor in (("steady", 1.0), ("dropping", 0.7), ("rising", 1.3)):
        sessions = 100 * (2 + (times - at) / (7 * 86_400)) + rng.normal(size=len(times))
        sessions[times >= CHANGE.timestamp()] *= factor
        yield staged("open_sessions", {"instance": instance}, start, SCRAPE, sessions.tolist())


GROWING = PrometheusDataset(name="growing-sessions-1m", series=_growing)


def test_a_jump_and_a_drop_of_a_growing_series_are_found_the_growth_is_not(prometheus_server: Server) -> None:
    server = prometheus_server(GROWING)
    run = run_probe(
        AnomaliesProbe,
        config={"prometheus": server.config()},
        options={"queries": [{"name": "open sessions", "query": "open_sessions"}]},
        at=AT,
    )
    by_instance = {f.evidence.details["labels"]["instance"]: f for f in run.findings}
    assert sorted(by_instance) == ["dropping", "rising"], [f.title for f in run.findings]
    for instance, change in (("dropping", "down"), ("rising", "up")):
        finding = by_instance[instance]
        assert finding.evidence.details["change"] == change and finding.evidence.details["ongoing"]
        assert finding.onset is not None and CHANGE <= finding.onset <= CHANGE + timedelta(minutes=1)
        expected = {m.name: m.value for m in finding.evidence.values}["expected"]
        assert isinstance(expected, float) and 190 <= expected <= 205  # today's level, not the median (150)
    if __import__("os").environ.get("SHOW"):
        from diagnostics.report import render_text  # noqa
