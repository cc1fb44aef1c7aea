"""What checking two clusters costs against one: ``contexts: [prod-eu, prod-us]`` vs ``context: prod-eu``.

Loads the big cluster of ``bench_kubernetes.py`` (2,000 pods, 300 Deployments, 500 Services...)
into two test API servers (tests/support/kube_api.py, real HTTP), then runs each Kubernetes probe
RUNS times with one context and with both, alternating, and prints the median wall time of each
and their ratio. Checking a context costs what it costs alone, so about 2.0 is expected here:
both test servers serialise their JSON in this process, under the same GIL as the probes'
decoding, so little overlaps; against real API servers their time (and the network's) is spent
elsewhere, and the contexts, checked at once (at most 4 per probe), overlap it. What the ratio
guards is that nothing grows faster than the number of contexts: the exit status is 1 when the
ratio for one diagnosis (the sum of the probes' medians) is above MAX_RATIO. Per probe, the
ratio of the fastest ones (nodes: a few ms) is mostly noise and thread start-up.

    .venv/bin/python benchmarks/bench_kubernetes_contexts.py [--runs 5]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_kubernetes import PROBES, stage
from diagnostics.testing import run_probe
from tests.support.kube_api import TOKEN, KubeApiServer
from tests.support.kube_fleet import EU, US, write_fleet_kubeconfig

MAX_RATIO = 2.5
"""One diagnosis of two contexts may cost at most this many times one (twice, plus noise)."""


def timed(probe: Any, config: dict[str, Any]) -> float:
    began = time.perf_counter()
    result = run_probe(probe, config=config, timeout=60)
    assert result.outcome.status.checked, result.outcome
    return time.perf_counter() - began


def main() -> int:
    """Time every probe with one context and with two; 1 when a diagnosis of two is over MAX_RATIO."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    cluster = stage(datetime.now(UTC).replace(microsecond=0))
    totals = [0.0, 0.0]
    with tempfile.TemporaryDirectory() as directory:
        for name in (EU, US):
            (Path(directory) / name).mkdir()
        servers = [KubeApiServer(Path(directory) / name) for name in (EU, US)]
        for server in servers:
            server.load(cluster)
        kubeconfig = write_fleet_kubeconfig(
            Path(directory) / "kubeconfig", {EU: (servers[0].url, TOKEN), US: (servers[1].url, TOKEN)}
        )
        one = {"kubernetes": {"kubeconfig": str(kubeconfig), "context": EU}}
        two = {"kubernetes": {"kubeconfig": str(kubeconfig), "contexts": [EU, US]}}
        timed(PROBES[2], two)  # warm-up: imports
        gc.freeze()  # the staged objects live in this process, unlike in a real run
        print(f"{'probe':<21} {'1 context':>10} {'2 contexts':>11} {'ratio':>6}")
        for probe in PROBES:
            singles, pairs = [], []
            for _ in range(args.runs):
                singles.append(timed(probe, one))
                pairs.append(timed(probe, two))
            single, pair = statistics.median(singles), statistics.median(pairs)
            totals = [totals[0] + single, totals[1] + pair]
            print(f"{probe.id:<21} {single * 1000:>8.0f}ms {pair * 1000:>9.0f}ms {pair / single:>6.2f}")
        for server in servers:
            server.close()
    ratio = totals[1] / totals[0]
    within = ratio <= MAX_RATIO
    print(
        f"\none diagnosis: {totals[0] * 1000:.0f}ms with 1 context, {totals[1] * 1000:.0f}ms with 2: "
        f"ratio {ratio:.2f} ({'within' if within else 'OVER'} {MAX_RATIO})"
    )
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
