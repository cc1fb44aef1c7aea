"""Staged incidents in a real traced chain, stored by a real Jaeger, once per session.

Four scenarios, one after another, each a healthy baseline phase then a window phase:

- ``healthy``: noisy but healthy traffic throughout (payments fails 2 % of charges anyway);
- ``failure``: in the window, after 20 healthy requests, payments fails 90 % of charges;
- ``slowdown``: in the window, after 20 healthy requests, payments takes 60 ms longer;
- ``unreachable``: in the window, after 20 healthy requests, payments is down (refused).

:meth:`Scenario.run` runs a probe on one scenario: ``at`` is the end of its window, the window
starts where its faulty phase's stretch of traffic starts, and the baseline option covers its
healthy phase.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from diagnostics import Probe
from diagnostics.testing import ProbeRun, run_probe
from tests.support.jaeger import JaegerServer
from tests.support.traced_chain import Faults, Phase, TracedChain

BASELINE_REQUESTS = 60
HEALTHY_BEFORE_FAULT = 20
FAULTY_REQUESTS = 50
SCENARIOS: Mapping[str, Faults] = {
    "healthy": Faults(),
    "failure": Faults(failure_rate=0.9),
    "slowdown": Faults(extra_delay_s=0.06),
    "unreachable": Faults(down=True),
}


@dataclass(frozen=True, slots=True)
class Scenario:
    """One staged scenario: its healthy baseline phase and its window phase."""

    name: str
    baseline: Phase
    window: Phase

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(self.window.end + 0.05, tz=UTC)

    @property
    def length(self) -> timedelta:
        return self.at - datetime.fromtimestamp(self.window.start, tz=UTC)

    @property
    def fault_start(self) -> datetime:
        assert self.window.fault_start is not None
        return datetime.fromtimestamp(self.window.fault_start, tz=UTC)

    def run(
        self, probe: type[Probe], traces: Mapping[str, Any], *, deadline: float = 30.0, **options: Any
    ) -> ProbeRun:
        """Run ``probe`` on this scenario with the ``traces`` section (``deadline``: the run's)."""
        baseline = self.window.start - self.baseline.start
        return run_probe(
            probe,
            config={"traces": dict(traces)},
            options={"baseline": baseline, **options},
            at=self.at,
            window=self.length,
            timeout=deadline,
        )


@dataclass(frozen=True, slots=True)
class StagedTraces:
    """The scenarios and every trace Jaeger stored for them (its raw answers)."""

    jaeger: JaegerServer
    scenarios: Mapping[str, Scenario]
    raw: tuple[Mapping[str, Any], ...]

    def __getitem__(self, name: str) -> Scenario:
        return self.scenarios[name]


def _stored(jaeger: JaegerServer, start: float, end: float) -> list[Mapping[str, Any]]:
    query = f"service=frontend&start={int(start * 1e6)}&end={int(end * 1e6) + 1_000_000}&limit=100000"
    with urllib.request.urlopen(f"{jaeger.query_url}/api/traces?{query}", timeout=10) as answer:
        return list(json.load(answer)["data"])


def _wait_for(jaeger: JaegerServer, start: float, end: float, expected: int) -> list[Mapping[str, Any]]:
    give_up = time.monotonic() + 30
    previous = -1
    while True:
        traces = _stored(jaeger, start, end)
        complete = [t for t in traces if len(t["spans"]) >= 1]
        spans = sum(len(t["spans"]) for t in complete)
        # the span count is a lower bound (a /buy has four or five spans): the snapshot is taken
        # once it also stops growing, so the Tempo and Zipkin answers built from it hold what
        # Jaeger holds when the tests compare them
        if len(complete) >= expected and spans >= _expected_spans(expected) and spans == previous:
            return complete
        previous = spans
        if time.monotonic() > give_up:
            raise RuntimeError(f"Jaeger stored {len(complete)} of {expected} traces ({spans} spans)")
        time.sleep(0.5)


def _expected_spans(traces: int) -> int:
    # GET /cart is one span; GET /buy is four or five (no payments span when payments is down)
    carts = traces // 5
    return carts + (traces - carts) * 4


@pytest.fixture(scope="session")
def staged_traces(jaeger: JaegerServer) -> Iterator[StagedTraces]:
    chain = TracedChain(jaeger.otlp_traces_url)
    try:
        scenarios = {}
        for name, faults in SCENARIOS.items():
            baseline = chain.stage(BASELINE_REQUESTS, 0, Faults())
            window = chain.stage(HEALTHY_BEFORE_FAULT, FAULTY_REQUESTS, faults)
            scenarios[name] = Scenario(name=name, baseline=baseline, window=window)
        chain.flush()
        first = next(iter(scenarios.values())).baseline.start
        last = list(scenarios.values())[-1].window.end
        expected = len(SCENARIOS) * (BASELINE_REQUESTS + HEALTHY_BEFORE_FAULT + FAULTY_REQUESTS)
        raw = _wait_for(jaeger, first, last, expected)
    finally:
        chain.close()
    yield StagedTraces(jaeger=jaeger, scenarios=scenarios, raw=tuple(raw))
