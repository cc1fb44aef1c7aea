"""The runner's parallelism and overhead.

Claims: ten probes that each take 1 s finish in under 1.2 s wall; runner overhead per probe
under 5 ms (measured with 200 probes that do nothing, with the default concurrency of 16 and
with all 200 at once).

    .venv/bin/python benchmarks/bench_runner.py
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import timedelta

from diagnostics import ChecklistItem, Duration, Finding, Probe, ProbeContext, ProbeOptions
from diagnostics.api import diagnose
from diagnostics.registry import Registry


class SleepOptions(ProbeOptions):
    sleep: Duration = timedelta(0)


def make_probes(count: int) -> Registry:
    def run(self: Probe, ctx: ProbeContext) -> Iterable[Finding]:
        assert isinstance(ctx.options, SleepOptions)
        if ctx.options.sleep:
            time.sleep(ctx.options.sleep.total_seconds())
        return []

    classes: dict[str, type[Probe]] = {}
    for index in range(count):
        probe_id = f"bench.p{index}"
        classes[probe_id] = type(
            f"P{index}",
            (Probe,),
            {
                "id": probe_id,
                "checklist_item": ChecklistItem.METRICS,
                "description": "benchmark",
                "options_model": SleepOptions,
                "run": run,
            },
        )
    return Registry(probes=classes, broken={})


def timed(registry: Registry, config: dict[str, object]) -> float:
    began = time.perf_counter()
    diagnose(probes=list(registry.probes), config=config, env={}, registry=registry, timeout=60)
    return time.perf_counter() - began


def main() -> None:
    ten = make_probes(10)
    walls = [timed(ten, {"probes": {pid: {"sleep": "1s"} for pid in ten.probes}}) for _ in range(3)]
    print(f"10 probes x 1 s: wall {min(walls):.3f} s best, {max(walls):.3f} s worst of 3")
    many = make_probes(200)
    timed(many, {})  # warm-up: validators are built on first use
    for concurrency in (16, 200):
        config = {"run": {"concurrency": concurrency}}
        best = min(timed(many, config) for _ in range(5))
        print(
            f"200 no-op probes, concurrency {concurrency:>3}: {best * 1000:.1f} ms, {best / 200 * 1000:.2f} ms per probe"
        )


if __name__ == "__main__":
    main()
