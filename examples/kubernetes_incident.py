"""Stage a Kubernetes incident on the test API server and diagnose it with ``diag run``.

    .venv/bin/python examples/kubernetes_incident.py [--format text|json|markdown]

The staged cluster (``tests/probes/kubernetes/healthy.py`` with four things broken): the pods of
the admission webhook ``policy-validating`` are not ready, so its Service has no endpoint and the
API server refuses the pods of ``shop/api``; ``shop/checkout`` was rolled out to a version that
crash-loops, leaving its Service without a ready endpoint; Service ``shop/web`` lost its pods; a
claim names a StorageClass that does not exist. The real client talks to
``tests/support/kube_api.py`` over HTTP; the report is what ``docs/kubernetes.md`` shows.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.probes.kubernetes.conftest import crashing_rollout  # noqa: E402
from tests.probes.kubernetes.healthy import healthy_shop  # noqa: E402
from tests.support import kube_around as a  # noqa: E402
from tests.support.kube_api import Cluster, KubeApiServer  # noqa: E402
from tests.support.kube_meta import ts  # noqa: E402

PROBES = (
    "workloads.replicas",
    "workloads.services",
    "workloads.storage",
    "workloads.batch",
    "workloads.autoscaling",
    "workloads.admission",
    "workloads.pods",
)


def stage(now: datetime) -> Cluster:
    """The healthy shop with the webhook, the checkout rollout, the web Service and a claim broken."""
    shop = healthy_shop(now)
    shop.objects["policy-slice"] = a.endpoint_slice(
        shop.objects["policy-svc"], shop.pods["policy"], ready=[False]
    )
    refused: dict[str, Any] = {
        "type": "ReplicaFailure",
        "status": "True",
        "reason": "FailedCreate",
        "message": 'Internal error occurred: failed calling webhook "pods.policy.example.com": failed to call '
        'webhook: Post "https://policy-webhook.policy-system.svc:443/validate?timeout=10s": no endpoints '
        'available for service "policy-webhook"',
        "lastTransitionTime": ts(now - timedelta(minutes=7)),
    }
    shop.objects["api-rs"]["status"] |= {"readyReplicas": 3, "availableReplicas": 3, "conditions": [refused]}
    shop.objects["api"]["status"] |= {"readyReplicas": 3, "availableReplicas": 3}
    for name in ("web", "web-rs", "web-slice", "web-hpa", "web-pdb"):
        shop.objects.pop(name)
    shop.pods.pop("web")
    rollout = crashing_rollout(now)
    checkout = a.service(
        "checkout", "shop", selector={"app.kubernetes.io/name": "checkout"}, created=now - timedelta(days=30)
    )
    uploads = a.claim(
        "uploads", "shop", created=now - timedelta(minutes=9), storage_class="fast-ssd", phase="Pending"
    )
    return Cluster.of(
        shop.all(),
        rollout.deployment,
        rollout.new_replica_set,
        rollout.new_pods,
        rollout.events,
        checkout,
        a.endpoint_slice(checkout, rollout.new_pods),
        uploads,
        logs=rollout.logs,
    )


def main() -> int:
    """Serve the staged cluster, run ``diag run`` on it, print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--format", default="text", choices=["text", "json", "markdown"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        server = KubeApiServer(Path(directory))
        server.load(stage(datetime.now(UTC).replace(microsecond=0)))
        config = Path(directory) / "diag.yaml"
        config.write_text(f"kubernetes: {{kubeconfig: {server.kubeconfig}}}\n")
        command = [sys.executable, "-m", "diagnostics", "run", "--config", str(config), "--no-progress"]
        command += ["--format", args.format, *(f"--probe={p}" for p in PROBES)]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        server.close()
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
