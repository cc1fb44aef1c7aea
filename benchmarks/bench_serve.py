"""diag serve in a long-lived process: memory and threads stay flat over 1,000 scheduled runs,
and /metrics answers from the cache (its time against one run of the probes, same process).

Claim: resident memory after 1,000 runs within 10 MiB of what it was after the first 100, no
thread growth; scrapes of /metrics run no probe (100 scrapes leave the newest run unchanged).

    .venv/bin/python benchmarks/bench_serve.py [RUNS]
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from diagnostics.serve.service import build_service
from tests.diagnostics.serve.helpers import switchable_service


def main(runs: int = 1000) -> None:
    process = psutil.Process()
    with switchable_service() as payments, switchable_service() as inventory:
        payments.failing.set()  # one failing dependency: findings in every run
        config = {
            "dependencies": [
                {"name": "payments", "url": payments.url},
                {"name": "inventory", "url": inventory.url},
                {"name": "inventory-tcp", "tcp": f"127.0.0.1:{inventory.port}"},
            ],
            "probes": {
                "resources.host": {"enabled": False},
                "deps.http": {"attempts": 1},
                "deps.tcp": {"attempts": 1},
            },
            "serve": {"listen": "127.0.0.1:0", "every": "1h"},
        }
        service = build_service(config, env={})
        threading.Thread(
            target=service.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        ).start()
        host, port = service.address
        metrics_url = f"http://{host}:{port}/metrics"
        run_times, scrape_times = [], []
        rss_after_100 = threads_after_100 = 0
        for number in range(1, runs + 1):
            began = time.perf_counter()
            service.runs.run(service.probe_ids)
            run_times.append(time.perf_counter() - began)
            if number % 10 == 0:
                began = time.perf_counter()
                with urllib.request.urlopen(metrics_url, timeout=10) as answer:
                    answer.read()
                scrape_times.append(time.perf_counter() - began)
            if number == 100:
                rss_after_100, threads_after_100 = process.memory_info().rss, threading.active_count()
        rss_end, threads_end = process.memory_info().rss, threading.active_count()
        last_run = service.latest.last_run
        for _ in range(100):
            with urllib.request.urlopen(metrics_url, timeout=10) as answer:
                answer.read()
        scrapes_ran_nothing = service.latest.last_run == last_run
        service.stop()
    run_median, scrape_median = statistics.median(run_times), statistics.median(scrape_times)
    growth = (rss_end - rss_after_100) / 2**20
    print(f"runs: {runs} of {len(service.probe_ids)} probes ({', '.join(service.probe_ids)})")
    print(
        f"resident memory after 100 runs: {rss_after_100 / 2**20:.1f} MiB; after {runs}: {rss_end / 2**20:.1f} MiB"
    )
    print(f"growth: {growth:+.1f} MiB (claim: within 10 MiB) -> {'met' if abs(growth) <= 10 else 'NOT met'}")
    print(f"threads after 100 runs: {threads_after_100}; after {runs}: {threads_end}")
    print(f"run median {run_median * 1000:.1f} ms; /metrics median {scrape_median * 1000:.2f} ms")
    print(f"100 scrapes ran no probe: {'met' if scrapes_ran_nothing else 'NOT met'}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
