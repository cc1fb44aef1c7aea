"""How long does toggles.changes take to turn many flag changes into findings?

Two measurements, each against a reference measured in the same run (decoding the same JSON with
``json.loads``, the cost no client can avoid):

1. **Unleash events** (``--events``, default 10,000): an ``/api/admin/search/events`` answer
   (switches, rollout updates with constraints, variants, across 2,000 flags and three
   environments) -> ``event_change`` per event -> ``judge_changes``;
2. **flagd files** (``--flags``, default 5,000): two versions of a flag definition file, 10 % of
   the flags edited -> ``diff_flags`` (the state comparison a sweep does).

Run it from the repository:

    .venv/bin/python benchmarks/bench_toggles.py [--events 10000] [--flags 5000]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from diagnostics import ProbeContext, ProbeOptions
from probes.toggles.config import FlagProvider
from probes.toggles.flagd import diff_flags
from probes.toggles.flags import ProviderChanges
from probes.toggles.judge_changes import FlagWindow, judge_changes
from probes.toggles.unleash import event_change

AT = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)


def unleash_events(count: int, rng: random.Random) -> bytes:
    events: list[dict[str, Any]] = []
    for i in range(count):
        flag, environment = f"flag-{i % 2000}", rng.choice(["production", "staging", "development"])
        kind = rng.choice(
            ["feature-environment-enabled", "feature-environment-disabled", "feature-strategy-update"]
        )
        strategy = {
            "name": "flexibleRollout",
            "constraints": [{"contextName": "userId", "operator": "IN", "values": ["a", "b"]}],
            "parameters": {"rollout": str(rng.randint(0, 100)), "stickiness": "default", "groupId": flag},
            "segments": [],
            "variants": [],
        }
        events.append({
            "id": i, "type": kind, "createdBy": f"user{i % 40}@example.com",
            "createdAt": (AT - timedelta(seconds=i)).isoformat().replace("+00:00", "Z"),
            "featureName": flag, "project": "default", "environment": environment,
            "data": strategy if kind == "feature-strategy-update" else None,
            "preData": {**strategy, "parameters": {**strategy["parameters"], "rollout": "5"}}
            if kind == "feature-strategy-update" else None,
            "tags": [{"type": "simple", "value": "checkout"}],
        })  # fmt: skip
    return json.dumps({"events": events, "total": count}).encode()


def flag_files(count: int, rng: random.Random) -> tuple[bytes, bytes]:
    flags = {
        f"flag-{i}": {"state": "ENABLED", "variants": {"on": True, "off": False}, "defaultVariant": "off",
                      "targeting": {"fractional": [["on", 10], ["off", 90]]}}
        for i in range(count)
    }  # fmt: skip
    edited = json.loads(json.dumps(flags))
    for key in rng.sample(sorted(edited), count // 10):
        edited[key]["defaultVariant"] = "on"
    return json.dumps({"flags": flags}).encode(), json.dumps({"flags": edited}).encode()


def best_of(repeat: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        work()
        times.append(time.perf_counter() - began)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--flags", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(7)
    entry = FlagProvider.model_validate(
        {"name": "unleash", "unleash": {"url": "https://unleash.internal", "token": "t0ken-bench"}}
    )
    ctx = ProbeContext(probe_id="toggles.changes", at=AT, window=timedelta(hours=4), options=ProbeOptions())
    window = FlagWindow(start=AT - timedelta(hours=4), at=AT, lead=timedelta(minutes=15))

    body = unleash_events(args.events, rng)

    def judged() -> int:
        changes = tuple(c for c in map(event_change, json.loads(body)["events"]) if c is not None)
        read = ProviderChanges(source="unleash", provider="unleash", production="production", changes=changes)
        return len(judge_changes(read, entry, window=window, make=ctx.finding))

    reference = best_of(args.repeat, lambda: json.loads(body))
    measured = best_of(args.repeat, judged)
    findings = judged()
    print(f"unleash: {args.events} events ({len(body) / 1e6:.1f} MB) -> {findings} findings in {measured * 1000:.0f} ms; "
          f"json.loads alone {reference * 1000:.0f} ms; ratio {measured / reference:.1f}x")  # fmt: skip

    old, new = flag_files(args.flags, rng)

    def diffed() -> int:
        before, after = json.loads(old)["flags"], json.loads(new)["flags"]
        return len(diff_flags(before, after, at=AT, environment="production"))

    reference = best_of(args.repeat, lambda: (json.loads(old), json.loads(new)))
    measured = best_of(args.repeat, diffed)
    print(
        f"flagd: {args.flags} flags, {diffed()} changed -> diff in {measured * 1000:.0f} ms; "
        f"json.loads of both {reference * 1000:.0f} ms; ratio {measured / reference:.1f}x"
    )
    print(f"(best of {args.repeat} runs each)")


if __name__ == "__main__":
    main()
