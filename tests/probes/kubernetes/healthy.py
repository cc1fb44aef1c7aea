"""A healthy cluster with every kind of object the probes read, realistically noisy.

The staged incidents of the tests start from it and break one thing. Noise that must stay
silent: a Service without selector (endpoints kept by hand), a claim waiting for its first
consumer, a Deployment scaling up with a pod not ready for 40 s, an HPA at its maximum with
CPU below target, a Job pod that failed yesterday, a CronJob that failed once then succeeded,
node-problem-detector conditions all False, an HPA scaled to zero on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tests.support import kube_around as a
from tests.support import kube_objects as k
from tests.support.kube_meta import Obj, ts

DAY = timedelta(days=1)
NPD_CONDITIONS = ("KernelDeadlock", "ReadonlyFilesystem", "FrequentContainerdRestart", "NetworkUnavailable")


@dataclass
class Shop:
    """The staged objects, by name, so a test can replace one."""

    objects: dict[str, Obj] = field(default_factory=dict)
    pods: dict[str, list[Obj]] = field(default_factory=dict)

    def all(self) -> list[Obj]:
        """Every object, to load into a Cluster."""
        return [*self.objects.values(), *(p for pods in self.pods.values() for p in pods)]


def npd_node(name: str, now: datetime, *, problem: dict[str, tuple[str, str, str]] | None = None) -> Obj:
    """A Ready node with node-problem-detector's conditions; ``problem`` sets type -> (status, reason, message)."""
    node = k.node(name, created=now - 90 * DAY)
    for kind in NPD_CONDITIONS:
        status, reason, message = (problem or {}).get(kind, ("False", f"No{kind}", f"{kind} is not present"))
        since = now - timedelta(minutes=12) if kind in (problem or {}) else now - 90 * DAY
        node["status"]["conditions"].insert(
            0,
            {
                "type": kind,
                "status": status,
                "reason": reason,
                "message": message,
                "lastHeartbeatTime": ts(now - timedelta(seconds=20)),
                "lastTransitionTime": ts(since),
            },
        )
    return node


def web_pods(staged: k.StagedWorkload, now: datetime, count: int = 3) -> list[Obj]:
    """Running, ready pods of a steady Deployment."""
    return [
        k.pod(
            staged.replica_set,
            template=staged.template,
            created=now - 3 * DAY - timedelta(minutes=i),
            node=f"node-{i % 2}",
        )
        for i in range(count)
    ]


def healthy_shop(now: datetime) -> Shop:
    """Every kind of object, all healthy."""
    shop = Shop()
    o = shop.objects
    o["node-0"] = npd_node("node-0", now)
    o["node-1"] = npd_node("node-1", now)
    web = k.steady_deployment(
        "web", "shop", container_name="web", image="registry.example.com/shop/web:2.3", created=now - 9 * DAY
    )
    o["web"], o["web-rs"] = web.deployment, web.replica_set
    shop.pods["web"] = web_pods(web, now)
    selector = {"app.kubernetes.io/name": "web"}
    o["web-svc"] = a.service("web", "shop", selector=selector, created=now - 9 * DAY)
    o["web-slice"] = a.endpoint_slice(o["web-svc"], shop.pods["web"])
    # scaling up: one pod of four not ready for 40 s (within the grace period)
    api = k.steady_deployment(
        "api",
        "shop",
        container_name="api",
        image="registry.example.com/shop/api:7.1",
        created=now - 9 * DAY,
        replicas=4,
    )
    api.deployment["status"] |= {"readyReplicas": 3, "availableReplicas": 3, "unavailableReplicas": 1}
    o["api"], o["api-rs"] = api.deployment, api.replica_set
    starting = k.pod(
        api.replica_set,
        template=api.template,
        created=now - timedelta(seconds=40),
        node="node-1",
        statuses=[k.container_status(api.spec, state=k.running(now - timedelta(seconds=35)), ready=False)],
    )
    shop.pods["api"] = [*web_pods(api, now, 3), starting]
    o["api-svc"] = a.service("api", "shop", selector={"app.kubernetes.io/name": "api"}, created=now - 9 * DAY)
    o["api-slice"] = a.endpoint_slice(o["api-svc"], shop.pods["api"])
    o["legacy-svc"] = a.service("legacy-db", "shop", selector=None, created=now - 200 * DAY)
    o["nginx"] = a.ingress_class("nginx", created=now - 300 * DAY, default=True)
    o["web-tls"] = a.tls_secret("web-tls", "shop", created=now - 30 * DAY)
    o["web-ingress"] = a.ingress(
        "web",
        "shop",
        backends={"shop.example.com/": "web", "shop.example.com/api": "api"},
        created=now - 9 * DAY,
        tls_secret="web-tls",
    )
    # storage: a StatefulSet with its claims and Service, a claim waiting for its first consumer
    o["gp3"] = a.storage_class("gp3", created=now - 300 * DAY, default=True)
    o["io2"] = a.storage_class("io2", created=now - 300 * DAY, binding_mode="Immediate")
    template = k.pod_template("orders-db", [k.container("postgres", "postgres:16.3")])
    revision = k.revision_name("orders-db", template)
    o["orders-db"] = k.stateful_set(
        "orders-db",
        "shop",
        template=template,
        created=now - 50 * DAY,
        current_revision=revision,
        update_revision=revision,
        volume_claims={"data": "gp3"},
    )
    o["orders-db-svc"] = a.service(
        "orders-db",
        "shop",
        selector={"app.kubernetes.io/name": "orders-db"},
        created=now - 50 * DAY,
        headless=True,
    )
    shop.pods["orders-db"] = [
        k.pod(
            o["orders-db"],
            template=template,
            created=now - 50 * DAY,
            node=f"node-{i % 2}",
            name=f"orders-db-{i}",
        )
        for i in range(3)
    ]
    o["orders-db-slice"] = a.endpoint_slice(o["orders-db-svc"], shop.pods["orders-db"])
    for i in range(3):
        pvc = a.claim(f"data-orders-db-{i}", "shop", created=now - 50 * DAY)
        o[f"pvc-{i}"] = pvc
        o[f"pv-{i}"] = a.volume(pvc, created=now - 50 * DAY)
    o["scratch"] = a.claim("scratch", "shop", created=now - 2 * DAY, phase="Pending")
    o["scratch-event"] = k.event(
        o["scratch"],
        reason="WaitForFirstConsumer",
        message="waiting for first consumer to be created before binding",
        first=now - 2 * DAY,
        last=now - timedelta(minutes=3),
        count=900,
        kind="Normal",
        component="persistentvolume-controller",
    )
    # batch: a nightly report that failed once two nights ago, and a job that failed yesterday
    nightly = now.replace(hour=2, minute=0, second=0)
    nightly -= DAY if nightly > now else timedelta(0)
    o["report"] = a.cron_job(
        "report",
        "shop",
        schedule="0 2 * * *",
        created=now - 60 * DAY,
        last_schedule=nightly,
        last_successful=nightly + timedelta(minutes=3),
    )
    for run in a.cron_runs(o["report"], every=DAY, last=nightly, outcomes=[True, False, True]):
        o[run["metadata"]["name"]] = run
    o["cleanup"] = a.cron_job(
        "cleanup",
        "shop",
        schedule="*/10 * * * *",
        created=now - 60 * DAY,
        last_schedule=now.replace(second=0, microsecond=0) - timedelta(minutes=now.minute % 10),
        time_zone="Europe/Berlin",
    )
    o["migrate"] = a.job(
        "migrate-2041", "shop", started=now - 1 * DAY, finished=now - DAY + timedelta(minutes=2), failed=True
    )
    # autoscaling: one HPA in range, one at its maximum with CPU below target, one scaled to zero
    o["web-hpa"] = a.autoscaler(
        "web", "shop", target=("Deployment", "web"), created=now - 9 * DAY, current_replicas=3
    )
    o["api-hpa"] = a.autoscaler(
        "api",
        "shop",
        target=("Deployment", "api"),
        created=now - 9 * DAY,
        max_replicas=4,
        current_replicas=4,
        cpu_current=52,
    )
    o["idle-hpa"] = a.autoscaler(
        "orders-db",
        "shop",
        target=("StatefulSet", "orders-db"),
        created=now - 9 * DAY,
        current_replicas=0,
        cpu_current=None,
        conditions=[
            a.hpa_condition(
                "ScalingActive",
                "False",
                "ScalingDisabled",
                "scaling is disabled since the replica count of the target is zero",
                since=now - DAY,
            )
        ],
    )
    o["web-pdb"] = a.disruption_budget(
        "web", "shop", selector=selector, created=now - 9 * DAY, min_available=2, expected=3, healthy=3
    )
    # admission: a webhook whose Service has a ready pod
    hook = k.steady_deployment(
        "policy",
        "policy-system",
        container_name="webhook",
        image="registry.example.com/policy/webhook:1.9",
        created=now - 40 * DAY,
        replicas=1,
    )
    o["policy"], o["policy-rs"] = hook.deployment, hook.replica_set
    shop.pods["policy"] = web_pods(hook, now, 1)
    o["policy-svc"] = a.service(
        "policy-webhook",
        "policy-system",
        selector={"app.kubernetes.io/name": "policy"},
        created=now - 40 * DAY,
    )
    o["policy-slice"] = a.endpoint_slice(o["policy-svc"], shop.pods["policy"])
    o["policy-hook"] = a.webhook_configuration(
        "policy-validating",
        service=("policy-system", "policy-webhook"),
        created=now - 40 * DAY,
        webhooks=["pods.policy.example.com"],
    )
    return shop
