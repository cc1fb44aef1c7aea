"""deps.http sweeping 500 local endpoints: wall time, peak sockets and memory.

    .venv/bin/python benchmarks/bench_dependencies.py [--endpoints 500] [--rounds 3]

The endpoints are served by a separate process (an asyncio server on 127.0.0.1, so it does not
share the probe's interpreter lock): half healthy, the rest slow (400 ms, above a 300 ms
critical latency), failing with 503, answering the wrong body, or refusing connections. Each is
checked the default 3 times with the default concurrency (32) as ``diag run --probe deps.http``
does it: the YAML file is read and validated, then the probe runs. "wall" is all of that,
"probe" the probe's own duration. While it runs a sampler thread records the
process's open sockets and resident memory every 20 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

OK = b'{"status":"ok"}'
FAILING = ("slow", *("unavailable",) * 3, *("wrong",) * 3, *("refused",) * 3)
WRONG = b'{"status":"degraded"}'


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1].decode()
            status, body = 200, OK
            if path.startswith("/slow/"):
                await asyncio.sleep(0.4)
            elif path.startswith("/unavailable/"):
                status = 503
            elif path.startswith("/wrong/"):
                body = WRONG
            reason = b"OK" if status == 200 else b"Service Unavailable"
            writer.write(
                b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                % (status, reason, len(body), body)
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def _serve() -> None:
    server = await asyncio.start_server(_handle, "127.0.0.1", 0, backlog=4096)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


def endpoints(base: str, refused: str, count: int) -> list[dict[str, Any]]:
    """Half healthy; of the other half a tenth slow, the rest 503, wrong body or refused."""
    entries = []
    for n in range(count):
        kind = "healthz" if n % 2 == 0 else FAILING[(n // 2) % len(FAILING)]
        url = f"{refused}/healthz/{n}" if kind == "refused" else f"{base}/{kind}/{n}"
        entries.append(
            {
                "name": f"{kind}-{n}",
                "url": url,
                "expect_body": '"status":"ok"',
                "latency_critical": "300ms",
                "latency_warning": "200ms",
            }
        )
    return entries


class Sampler(threading.Thread):
    """Peak open sockets and resident memory of this process."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        import psutil

        self.process = psutil.Process()
        self.peak_sockets = 0
        self.peak_rss = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            sockets = 0
            for fd in os.listdir("/proc/self/fd"):
                try:
                    sockets += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
                except FileNotFoundError:
                    continue  # closed meanwhile (the directory listing's own descriptor, for one)
            self.peak_sockets = max(self.peak_sockets, sockets)
            self.peak_rss = max(self.peak_rss, self.process.memory_info().rss)
            time.sleep(0.005)


def sweep(entries: list[dict[str, Any]], concurrency: int | None, directory: Path) -> dict[str, Any]:
    """``diag run --probe deps.http`` as the CLI does it: read the YAML file, validate, run."""
    import yaml

    from diagnostics.api import diagnose

    config: dict[str, Any] = {"dependencies": entries, "run": {"timeout": "60s"}}
    if concurrency:
        config["probes"] = {"deps.http": {"concurrency": concurrency}}
    path = directory / "diag.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    sampler = Sampler()
    sampler.start()
    began, cpu = time.perf_counter(), time.process_time()
    report = diagnose(probes=["deps.http"], config=path, env={}).report
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    sampler.stopping.set()
    sampler.join()
    kinds: dict[str, int] = {}
    for finding in report.findings:
        kinds[finding.kind] = kinds.get(finding.kind, 0) + 1
    return {
        "wall": wall,
        "probe": report.probes[0].duration_s,
        "cpu": cpu,
        "sockets": sampler.peak_sockets,
        "rss": sampler.peak_rss,
        "kinds": dict(sorted(kinds.items())),
    }


def main() -> None:
    if "--serve" in sys.argv:
        asyncio.run(_serve())
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, help="override the default (32)")
    args = parser.parse_args()
    server = subprocess.Popen([sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True)
    directory = tempfile.mkdtemp(prefix="bench-deps-")
    try:
        assert server.stdout is not None
        base = f"http://127.0.0.1:{int(server.stdout.readline())}"
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            refused = f"http://127.0.0.1:{closed.getsockname()[1]}"
        concurrency = args.concurrency or "default"
        print(f"deps.http: endpoints x 3 attempts, concurrency {concurrency}, {os.cpu_count()} CPUs")
        for size in (args.endpoints,) * args.rounds + (args.endpoints * 4,):
            load = os.getloadavg()[0]
            figures = sweep(endpoints(base, refused, size), args.concurrency, Path(directory))
            print(
                f"  {size:>5} endpoints: wall {figures['wall']:5.2f} s (probe {figures['probe']:5.2f} s, "
                f"CPU {figures['cpu']:5.2f} s)   peak sockets {figures['sockets']:>3}   "
                f"peak RSS {figures['rss'] / 2**20:6.1f} MiB   load before {load:4.2f}   findings {figures['kinds']}"
            )
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
