"""Correlation speed: the summary of 1,000 findings (claim: under 50 ms).

The findings mix rollouts, metric anomalies, lock contention, failing dependencies and node
pressure over 200 services, with a services mapping, so every rule has work to do.

    .venv/bin/python benchmarks/bench_summary.py
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from diagnostics.model import ChecklistItem, Entity, Evidence, Finding, ProbeOutcome, Report, Severity, Status
from diagnostics.summary.build import summarize
from diagnostics.summary.settings import ServiceLinks

AT = datetime(2026, 11, 27, 12, tzinfo=UTC)
PROBES = {
    "deploys.rollouts": ChecklistItem.DEPLOYMENTS,
    "metrics.anomalies": ChecklistItem.METRICS,
    "db.locks": ChecklistItem.DATABASE,
    "deps.http": ChecklistItem.DEPENDENCIES,
    "workloads.nodes": ChecklistItem.RESOURCES,
    "workloads.pods": ChecklistItem.RESOURCES,
}


def findings(count: int, rng: random.Random) -> list[Finding]:
    made = []
    for index in range(count):
        service = f"svc{rng.randrange(200)}"
        probe = rng.choice(list(PROBES))
        entity = {
            "deploys.rollouts": Entity(kind="workload", name=f"shop/{service}"),
            "metrics.anomalies": Entity(kind="service", name=service),
            "db.locks": Entity(kind="database", name=f"db{rng.randrange(20)}"),
            "deps.http": Entity(kind="dependency", name=f"dep{rng.randrange(30)}"),
            "workloads.nodes": Entity(kind="node", name=f"node{rng.randrange(50)}"),
            "workloads.pods": Entity(
                kind="workload", name=f"shop/{service}", attributes={"node": f"node{rng.randrange(50)}"}
            ),
        }[probe]
        kind = {"db.locks": "lock_contention", "workloads.pods": "crash_loop"}.get(probe, "scripted")
        made.append(
            Finding(
                probe=probe,
                kind=f"{kind}{index}" if probe == "deps.http" else kind,
                severity=rng.choice((Severity.WARNING, Severity.CRITICAL)),
                title=f"finding {index}",
                summary="",
                entity=entity,
                evidence=Evidence(),
                onset=AT - timedelta(minutes=rng.randrange(60)),
            )
        )
    return made


def main() -> None:
    rng = random.Random(7)
    report = Report(
        at=AT,
        window=timedelta(hours=1),
        started_at=AT,
        duration_s=1.0,
        probes=tuple(
            ProbeOutcome(probe=p, checklist_item=i, status=Status.OK, duration_s=0.1)
            for p, i in PROBES.items()
        ),
        findings=tuple(findings(1000, rng)),
    )
    services = {
        f"svc{i}": ServiceLinks(
            databases=(f"db{i % 20}",), dependencies=(f"dep{i % 30}",), hosts=(f"node{i % 50}",)
        )
        for i in range(200)
    }
    summarize(report, services=services)  # warm-up
    times = []
    for _ in range(10):
        began = time.perf_counter()
        summary = summarize(report, services=services)
        times.append(time.perf_counter() - began)
    print(
        f"summary of 1,000 findings: median {statistics.median(times) * 1000:.1f} ms, "
        f"max {max(times) * 1000:.1f} ms; {len(summary.suspects)} suspects, {len(summary.timeline)} timeline events"
    )


if __name__ == "__main__":
    main()
