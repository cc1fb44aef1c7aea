"""A real run of traces.errors and traces.latency, as shown in docs/traces.md.

Starts the test Jaeger (scripts/build-jaeger builds it once) and the traced chain
frontend -> checkout -> payments (tests/support/traced_chain.py), sends 80 healthy requests,
then 20 healthy and 80 with payments failing 40 % of charges and taking 50 ms longer, and runs

    diag run --config <tmp>/diag.yaml --probe traces.errors --probe traces.latency \\
        --at <end> --window <length of the second phase>

printing its report. Needs the development install (`scripts/bootstrap`):

    .venv/bin/python examples/traces_demo.py [--format text|json|markdown]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.jaeger import JaegerServer, running_jaeger
from tests.support.traced_chain import Faults, TracedChain

BASELINE, HEALTHY, FAULTY = 80, 20, 80


def stored_traces(jaeger: JaegerServer, start: float) -> int:
    query = f"service=frontend&start={int(start * 1e6)}&end={int(time.time() * 1e6)}&limit=10000"
    with urllib.request.urlopen(f"{jaeger.query_url}/api/traces?{query}", timeout=10) as answer:
        return len(json.load(answer)["data"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--format", default="text", choices=["text", "json", "markdown"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir, running_jaeger(Path(workdir)) as jaeger:
        chain = TracedChain(jaeger.otlp_traces_url)
        try:
            baseline = chain.stage(BASELINE, 0, Faults())
            window = chain.stage(HEALTHY, FAULTY, Faults(failure_rate=0.4, extra_delay_s=0.05))
            chain.flush()
        finally:
            chain.close()
        while stored_traces(jaeger, baseline.start) < BASELINE + HEALTHY + FAULTY:
            time.sleep(0.3)
        at = datetime.fromtimestamp(window.end + 0.05, tz=UTC)
        window_ms = round((window.end + 0.05 - window.start) * 1000)
        baseline_ms = round((window.start - baseline.start) * 1000)
        config = Path(workdir) / "diag.yaml"
        config.write_text(
            f"traces:\n  jaeger: {{url: {jaeger.query_url}}}\n"
            f"probes:\n  traces.errors: {{baseline: {baseline_ms}ms}}\n"
            f"  traces.latency: {{baseline: {baseline_ms}ms}}\n"
        )
        command = [
            sys.executable, "-m", "diagnostics", "run", "--config", str(config),
            "--probe", "traces.errors", "--probe", "traces.latency",
            "--at", at.isoformat(), "--window", f"{window_ms}ms", "--format", args.format, "--no-progress",
        ]  # fmt: skip
        print(
            f"payments began failing and slowing at {datetime.fromtimestamp(window.fault_start or 0, tz=UTC):%H:%M:%S.%f} UTC",
            file=sys.stderr,
        )
        return subprocess.run(command, check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main())
