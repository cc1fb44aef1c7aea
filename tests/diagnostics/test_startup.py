"""Start-up stays cheap: loading the registry imports the probes' declarations, nothing more.

``diag probes`` (and every command) loads all 16 built-in probes through their entry points.
Their judging, collecting and snapshot modules and the client libraries load when a probe
runs, inside ``run``/``check``; imported at the top of a probe module they would cost every
invocation. A test on imports, not on timing (benchmarks/bench_startup.py measures that).
"""

from __future__ import annotations

import json
import subprocess
import sys

CLIENT_LIBRARIES = (
    "numpy",
    "psycopg",
    "kubernetes",
    "requests",
    "urllib3",
    "psutil",
    "rich",
    "cryptography",
)

# modules of the built-in probes that only their run needs
PROBE_INTERNALS = (
    "probes.postgres.judge_",
    "probes.postgres.snapshot",
    "probes.postgres.judge_visibility",
    "probes.postgres.client_session",
    "probes.postgres.client",
    "probes.postgres.trees",
    "probes.postgres.client_statements",
    "probes.postgres.client_pgbouncer",
    "probes.host.judge_host",
    "probes.host.client",
    "probes.kubernetes.judge_",
    "probes.kubernetes.client",
    "probes.kubernetes.client_workloads",
    "probes.prometheus.judge_series",
    "probes.prometheus.client",
    "probes.prometheus.discovery",
    "probes.resources.promql",
    "probes.resources.judge_nodes",
    "probes.resources.judge_containers",
    "probes.resources.client_nodes",
    "probes.resources.client_containers",
    "probes.resources.client",
    "probes.dependencies.http_",
    "probes.dependencies.tcp_",
    "probes.dependencies.statuspage_",
    "probes.dependencies.environment",
)

SCRIPT = """
import json, sys
from diagnostics.registry import load_registry
registry = load_registry()
print(json.dumps({"probes": sorted(registry.probes), "broken": sorted(registry.broken), "modules": sorted(sys.modules)}))
"""


def _load_registry_in_a_fresh_interpreter() -> dict[str, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    loaded: dict[str, list[str]] = json.loads(done.stdout)
    return loaded


def test_loading_the_registry_imports_no_client_library_nor_probe_internals() -> None:
    loaded = _load_registry_in_a_fresh_interpreter()
    assert loaded["broken"] == []
    assert "db.connections" in loaded["probes"] and "resources.host" in loaded["probes"]
    modules = loaded["modules"]
    clients = [m for m in modules if m.split(".")[0] in CLIENT_LIBRARIES]
    assert clients == []
    internals = [
        m
        for m in modules
        if m.startswith(PROBE_INTERNALS)
        or (
            m.startswith("probes.")
            and any(w in m.rsplit(".", 1)[-1] for w in ("judge", "client", "collect", "snapshot"))
        )
    ]
    assert internals == []
