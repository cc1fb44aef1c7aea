"""Shared helpers of the Kubernetes probe tests: a fixed "now", a finding factory, staged pods judged."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from diagnostics import Finding, ProbeContext, ProbeOptions, report_to_dict
from diagnostics.testing import ProbeRun
from probes.kubernetes.client_workloads import LogTarget
from probes.kubernetes.judge_events import by_subject, group_events
from probes.kubernetes.judge_pods import PodLimits, judge_pod_groups
from probes.kubernetes.parse import parse_event, parse_pod
from probes.kubernetes.pod_problems import group_problems, pod_problems
from tests.support import kube_around as a
from tests.support import kube_objects as k
from tests.support.kube_api import Cluster, KubeApiServer

HOUR = timedelta(hours=1)
POD_LIMITS = PodLimits(pending_warning_s=120, pending_critical_s=600)
V142 = "registry.example.com/shop/checkout:v1.4.2"
V150 = "registry.example.com/shop/checkout:v1.5.0"
PANIC = (
    "2026/03/01 10:02:11 dialing postgres://checkout:s3cr3t-pw@orders-db:5432/orders\n"
    "panic: PAYMENT_URL is not set\n\ngoroutine 1 [running]:\nmain.main()\n"
)


@pytest.fixture
def now() -> datetime:
    """The current second: stage relative to it, so the test API server's Date header agrees."""
    return datetime.now(UTC).replace(microsecond=0)


def finding_factory(probe_id: str, at: datetime) -> Callable[..., Finding]:
    """``ctx.finding`` of a context diagnosing ``at`` with the default one-hour window."""
    context = ProbeContext(probe_id=probe_id, at=at, window=timedelta(hours=1), options=ProbeOptions())
    return context.finding


def texts(findings: list[Finding]) -> str:
    """Everything a finding could show a reader, as one string (for leak checks)."""
    parts: list[Any] = []
    for f in findings:
        parts += [f.title, f.summary, *f.next_steps, *f.evidence.queries, repr(dict(f.evidence.details))]
        parts += [repr(m.value) for m in f.evidence.values]
    return "\n".join(str(p) for p in parts)


def judge_pods_of(
    pods: list[dict[str, Any]],
    now: datetime,
    *,
    logs: dict[LogTarget, str] | None = None,
    events: Sequence[dict[str, Any]] = (),
) -> list[Finding]:
    """The ``workloads.pods`` findings (without Warning-event ones) for staged pods and events."""
    parsed = [parse_pod(p) for p in pods]
    groups = group_problems(p for pod in parsed for p in pod_problems(pod, now - HOUR, now))
    event_groups = group_events(
        [parse_event(e) for e in events], parsed, now - HOUR, now, selected_only=False
    )
    return judge_pod_groups(
        groups,
        logs=logs or {},
        events=by_subject(event_groups),
        at=now,
        server_time=now,
        limits=POD_LIMITS,
        queries=["GET /api/v1/pods"],
        make=finding_factory("workloads.pods", now),
    )


def ledger_workload(now: datetime) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Template, Deployment and ReplicaSet of ``payments/ledger`` (container ``worker``, 256Mi)."""
    staged = k.steady_deployment(
        "ledger",
        "payments",
        container_name="worker",
        image="ledger:3.1",
        created=now - timedelta(days=4),
        memory_limit="256Mi",
    )
    return staged.template, staged.deployment, staged.replica_set


def crash_looping_pod(
    owner: k.StagedWorkload, *, created: datetime, restarts: int, last_crash: datetime, name: str
) -> dict[str, Any]:
    """A pod of ``owner`` crash-looping with ``restarts`` restarts, the last one at ``last_crash``."""
    return k.restarted_pod(
        owner.replica_set,
        template=owner.template,
        created=created,
        node="node-a",
        reason="Error",
        exit_code=1,
        started=last_crash - timedelta(seconds=2),
        finished=last_crash,
        restarts=restarts,
        crash_looping=True,
        name=name,
    )


def kube_config(server: KubeApiServer, **settings: Any) -> dict[str, Any]:
    """A diag config whose ``kubernetes`` section points at the test API server."""
    return {"kubernetes": {"kubeconfig": str(server.kubeconfig), **settings}}


def leaks(run: ProbeRun, *secrets: str) -> list[str]:
    """Those of ``secrets`` that show up anywhere in the run's JSON report."""
    text = json.dumps(report_to_dict(run.report))
    return [s for s in secrets if s in text]


def crashing_rollout(now: datetime) -> k.StagedRollout:
    """``shop/checkout`` rolled out 10 minutes ago to v1.5.0, whose 2 new pods crash-loop with :data:`PANIC`."""
    return k.deployment_rollout(
        "checkout",
        "shop",
        old_image=V142,
        new_image=V150,
        rolled_out_at=now - timedelta(minutes=10),
        crash_new_pods=2,
        crash_log=PANIC,
    )


def crashing_behind_service(now: datetime) -> Cluster:
    """:func:`crashing_rollout` with only its crashing pods left behind Service ``shop/checkout``."""
    staged = crashing_rollout(now)
    selector = {"app.kubernetes.io/name": "checkout"}
    svc = a.service("checkout", "shop", selector=selector, created=now - timedelta(days=30))
    crashing = staged.new_pods
    return Cluster.of(
        staged.deployment,
        staged.new_replica_set,
        crashing,
        staged.events,
        svc,
        a.endpoint_slice(svc, crashing),
        logs=staged.logs,
    )


@dataclass(frozen=True)
class PendingCart:
    """``shop/cart``: a steady Deployment whose newest pod is unschedulable for 13 minutes."""

    workload: k.StagedWorkload
    pending: dict[str, Any]

    @property
    def objects(self) -> list[dict[str, Any]]:
        return [self.workload.deployment, self.workload.replica_set, self.pending]


def pending_cart(now: datetime) -> PendingCart:
    """``shop/cart`` (container ``cart``, ``cart:5.2``) with one pod Pending: Insufficient memory."""
    cart = k.steady_deployment(
        "cart", "shop", container_name="cart", image="cart:5.2", created=now - timedelta(days=3)
    )
    pending = k.pod(
        cart.replica_set,
        template=cart.template,
        created=now - timedelta(minutes=13),
        node=None,
        conditions=k.unschedulable(
            now - timedelta(minutes=13), "0/3 nodes are available: 3 Insufficient memory."
        ),
    )
    return PendingCart(workload=cart, pending=pending)
