"""How many API calls the Kubernetes probes make on a big cluster, and how long our own code takes.

Stages a cluster of 2,000 pods and 300 Deployments (600 ReplicaSets, 5 of them rolled out in the
last hour with crash-looping pods), 40 StatefulSets, 20 DaemonSets, 50 nodes (2 NotReady), 300
Helm release secrets and 410 Warning events (400 Unhealthy, 10 BackOff of the crash-looping
pods) on the test API server (tests/support/kube_api.py, real HTTP, full objects), then runs
each probe RUNS times through the real pipeline (``diagnostics.testing.run_probe``) and prints,
per probe:

- the requests the server received (list pages and single reads) and how many objects were read;
- the median wall time of a run, and of it the time spent in our own processing: the run minus
  the time inside HTTP requests (the server shares this process, so its serialisation time is
  excluded that way), i.e. JSON decoding, parsing, judging and the runner around them. The
  staged objects are frozen out of the garbage collector (``gc.freeze``): in a real run they
  are not in the process.

One diagnosis runs the three probes, so the budget (1 s of our own processing, issue 5) is
checked against the sum of their medians; the exit status is 1 when it is over.

    .venv/bin/python benchmarks/bench_kubernetes.py [--runs 5]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from diagnostics.testing import run_probe
from probes.kubernetes import client
from probes.kubernetes.admission import AdmissionProbe
from probes.kubernetes.autoscaling import AutoscalingProbe
from probes.kubernetes.batch import BatchProbe
from probes.kubernetes.nodes import NodesProbe
from probes.kubernetes.pods import PodsProbe
from probes.kubernetes.replicas import ReplicasProbe
from probes.kubernetes.rollouts import RolloutsProbe
from probes.kubernetes.services import ServicesProbe
from probes.kubernetes.storage import StorageProbe
from tests.support import kube_around as a
from tests.support import kube_objects as k
from tests.support.kube_api import PLURALS, Cluster, KubeApiServer

PODS = 2000
DEPLOYMENTS = 300
SERVICES = 500
CLAIMS = 200
AUTOSCALERS = 100
NAMESPACES = 10
PROBES = (
    RolloutsProbe,
    PodsProbe,
    NodesProbe,
    ReplicasProbe,
    ServicesProbe,
    StorageProbe,
    BatchProbe,
    AutoscalingProbe,
    AdmissionProbe,
)
BUDGET_S = 2.0
"""Our own processing of one diagnosis (every Kubernetes probe), at most."""
UNHEALTHY_EVENTS = 400
WARNING_EVENTS = 410
"""The Unhealthy events plus a BackOff event per crash-looping pod (2 in each of 5 Deployments)."""


def stage(now: datetime) -> Cluster:
    """The big cluster of the module docstring, as of ``now``."""
    objects: list[Any] = []
    logs: dict[tuple[str, str, str, bool], str] = {}
    pods = 0
    for index in range(DEPLOYMENTS):
        namespace = f"team-{index % NAMESPACES}"
        crashing = index < 5
        replicas = 7 if index < 200 else 6
        staged = k.deployment_rollout(
            f"svc-{index:03d}",
            namespace,
            old_image=f"registry.example.com/{namespace}/svc-{index:03d}:v1.{index % 9}.0",
            new_image=f"registry.example.com/{namespace}/svc-{index:03d}:v1.{index % 9}.1",
            rolled_out_at=now
            - (timedelta(minutes=10 + index) if crashing else timedelta(days=2, minutes=index)),
            replicas=replicas - (2 if crashing else 0),
            crash_new_pods=2 if crashing else 0,
            crash_log="starting\npanic: boom\n",
        )
        objects += staged.objects()
        logs.update(staged.logs)
        pods += len(staged.old_pods) + len(staged.new_pods)
    assert pods == PODS, pods
    for index in range(40):
        template = k.pod_template(f"db-{index}", [k.container("postgres", "postgres:16.3")])
        name = k.revision_name(f"db-{index}", template)
        sts = k.stateful_set(
            f"db-{index}",
            "data",
            template=template,
            created=now - timedelta(days=50),
            current_revision=name,
            update_revision=name,
        )
        objects += [
            sts,
            k.controller_revision(sts, template=template, revision=1, created=now - timedelta(days=50)),
        ]
    for index in range(20):
        template = k.pod_template(f"agent-{index}", [k.container("agent", "agent:2.4")])
        ds = k.daemon_set(
            f"agent-{index}", "ops", template=template, created=now - timedelta(days=50), desired=50
        )
        objects += [
            ds,
            k.controller_revision(ds, template=template, revision=1, created=now - timedelta(days=50)),
        ]
    for index in range(50):
        down = index < 2
        objects.append(
            k.node(
                f"node-{index:02d}",
                created=now - timedelta(days=90),
                ready="False" if down else "True",
                ready_since=now - timedelta(minutes=5) if down else None,
            )
        )
    for index in range(100):
        for revision in (1, 2, 3):
            objects.append(
                k.helm_release_secret(
                    f"release-{index:03d}",
                    f"team-{index % NAMESPACES}",
                    revision=revision,
                    status="deployed" if revision == 3 else "superseded",
                    chart=f"chart-{index}",
                    chart_version=f"2.{revision}.0",
                    created=now - timedelta(days=10 - revision)
                    if index >= 3 or revision < 3
                    else now - timedelta(minutes=20),
                    values={"password": "not-printed"},
                )
            )
    pod_objects = [o for o in objects if o["kind"] == "Pod"]
    for index in range(UNHEALTHY_EVENTS):
        target = pod_objects[(index * 7) % len(pod_objects)]
        objects.append(
            k.event(
                target,
                reason="Unhealthy",
                message="Readiness probe failed: HTTP probe failed with statuscode: 503",
                first=now - timedelta(minutes=50),
                last=now - timedelta(minutes=index % 40),
                count=3,
            )
        )
    events = sum(1 for o in objects if o["kind"] == "Event")
    assert events == WARNING_EVENTS, events
    objects += stage_around(now, objects)
    return Cluster.of(objects, logs=logs)


def stage_around(now: datetime, workloads: list[Any]) -> list[Any]:
    """Services with their EndpointSlices, Ingresses, claims, volumes, HPAs, PDBs, Jobs, webhooks."""
    objects: list[Any] = []
    pods_of: dict[str, list[Any]] = {}
    for obj in workloads:
        if obj["kind"] == "Pod":
            pods_of.setdefault(obj["metadata"]["labels"]["app.kubernetes.io/name"], []).append(obj)
    for index in range(SERVICES):
        app = f"svc-{index % DEPLOYMENTS:03d}"
        namespace = f"team-{index % DEPLOYMENTS % NAMESPACES}"
        name = app if index < DEPLOYMENTS else f"{app}-metrics"
        service = a.service(
            name, namespace, selector={"app.kubernetes.io/name": app}, created=now - timedelta(days=60)
        )
        objects += [service, a.endpoint_slice(service, pods_of[app])]
    objects.append(a.ingress_class("nginx", created=now - timedelta(days=300), default=True))
    for index in range(50):
        namespace = f"team-{index % NAMESPACES}"
        objects.append(
            a.ingress(
                f"svc-{index:03d}",
                namespace,
                backends={f"svc-{index}.example.com/": f"svc-{index:03d}"},
                created=now - timedelta(days=30),
            )
        )
    objects.append(a.storage_class("gp3", created=now - timedelta(days=300), default=True))
    for index in range(CLAIMS):
        claim = a.claim(f"data-{index:03d}", f"team-{index % NAMESPACES}", created=now - timedelta(days=20))
        objects += [claim, a.volume(claim, created=now - timedelta(days=20))]
    for index in range(AUTOSCALERS):
        objects.append(
            a.autoscaler(
                f"svc-{index:03d}",
                f"team-{index % NAMESPACES}",
                target=("Deployment", f"svc-{index:03d}"),
                created=now - timedelta(days=30),
            )
        )
    for index in range(50):
        objects.append(
            a.disruption_budget(
                f"svc-{index:03d}",
                f"team-{index % NAMESPACES}",
                selector={"app.kubernetes.io/name": f"svc-{index:03d}"},
                created=now - timedelta(days=30),
                min_available=1,
                expected=7,
                healthy=7,
            )
        )
    for index in range(30):
        cron = a.cron_job(
            f"report-{index}",
            f"team-{index % NAMESPACES}",
            schedule="0 * * * *",
            created=now - timedelta(days=30),
            last_schedule=now.replace(minute=0, second=0),
        )
        objects += [
            cron,
            *a.cron_runs(
                cron,
                every=timedelta(hours=1),
                last=now.replace(minute=0, second=0) - timedelta(hours=1),
                outcomes=[True] * 3,
            ),
        ]
    for index in range(3):
        objects.append(
            a.webhook_configuration(
                f"policy-{index}", service=("team-0", "svc-000"), created=now - timedelta(days=30)
            )
        )
    return objects


class IoClock:
    """Sums the time spent inside KubeApi._request (HTTP to the in-process server)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._lock = threading.Lock()
        self._original: Callable[..., bytes] = client.KubeApi._request

    def install(self) -> None:
        original = self._original
        clock = self

        def timed(api: client.KubeApi, *args: Any, **kwargs: Any) -> bytes:
            began = time.perf_counter()
            try:
                return original(api, *args, **kwargs)
            finally:
                with clock._lock:
                    clock.seconds += time.perf_counter() - began

        client.KubeApi._request = timed  # type: ignore[method-assign,assignment]


def main() -> int:
    """Run the probes on the staged cluster; 1 when one diagnosis is over the budget."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    now = datetime.now(UTC).replace(microsecond=0)
    began = time.perf_counter()
    cluster = stage(now)
    counts = {plural: len(items) for plural, items in sorted(cluster.objects.items())}
    print(
        f"staged in {time.perf_counter() - began:.1f}s: " + ", ".join(f"{n} {p}" for p, n in counts.items())
    )
    clock = IoClock()
    clock.install()
    with tempfile.TemporaryDirectory() as directory:
        server = KubeApiServer(Path(directory))
        server.load(cluster)
        config = {"kubernetes": {"kubeconfig": str(server.kubeconfig)}}
        run_probe(NodesProbe, config=config)  # warm-up: imports
        # the staged cluster lives in this process (the server's data), unlike in a real run:
        # keep its million objects out of the garbage collector's full collections
        gc.freeze()
        print(
            f"\n{'probe':<21} {'requests':>8} {'lists':>6} {'reads':>6} {'findings':>9} {'wall':>8} {'own':>8}"
        )
        own_total = 0.0
        for probe in PROBES:
            walls, owns = [], []
            findings = 0
            for _ in range(args.runs):
                server.load(cluster)
                clock.seconds = 0.0
                start = time.perf_counter()
                result = run_probe(probe, config=config, timeout=60)
                wall = time.perf_counter() - start
                assert result.outcome.status.checked, result.outcome
                walls.append(wall)
                owns.append(wall - clock.seconds)
                findings = len(result.findings)
            requests = server.requests
            lists = sum(1 for r in requests if r.path.rsplit("/", 1)[1] in PLURALS)
            reads = len(requests) - lists
            own = statistics.median(owns)
            own_total += own
            print(
                f"{probe.id:<21} {len(requests):>8} {lists:>6} {reads:>6} {findings:>9} "
                f"{statistics.median(walls) * 1000:>6.0f}ms {own * 1000:>6.0f}ms"
            )
            for request in requests:
                query = "&".join(f"{k}={v[:12]}" for k, v in request.query.items())
                print(f"{'':<21}   GET {request.path}{'?' + query if query else ''}")
        server.close()
    within = own_total <= BUDGET_S
    print(
        f"\nown processing of one diagnosis (the {len(PROBES)} probes) {own_total * 1000:.0f}ms: "
        f"{'within' if within else 'OVER'} the {BUDGET_S:.0f}s budget"
    )
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
