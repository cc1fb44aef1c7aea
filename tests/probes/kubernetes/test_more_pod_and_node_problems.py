"""Every blocking container state, failed pods, missing pull secrets and abnormal node conditions,
staged through the real client over real HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from diagnostics import Severity
from diagnostics.testing import run_probe
from probes.kubernetes.nodes import NodesProbe
from probes.kubernetes.pods import PodsProbe
from tests.probes.kubernetes.conftest import kube_config
from tests.probes.kubernetes.healthy import healthy_shop, npd_node
from tests.support import kube_around as a
from tests.support import kube_objects as k
from tests.support.kube_api import Cluster, KubeApiServer
from tests.support.kube_meta import ts

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        ("PreStartHookError", "container_error"),
        ("RunContainerError", "container_error"),
        ("CreateContainerError", "container_error"),
        ("ImageInspectError", "image_pull"),
        ("ErrImageNeverPull", "image_pull"),
        ("InvalidImageName", "image_pull"),
    ],
)
def test_every_blocking_waiting_reason(
    kube_cluster: KubeApiServer, now: datetime, reason: str, kind: str
) -> None:
    shop = healthy_shop(now)
    staged = k.steady_deployment(
        "search",
        "shop",
        container_name="search",
        image="registry.example.com/shop/search:4.0",
        created=now - timedelta(days=2),
    )
    blocked = k.pod(
        staged.replica_set,
        template=staged.template,
        created=now - timedelta(minutes=7),
        node="node-1",
        statuses=[k.container_status(staged.spec, state=k.waiting(reason, f"{reason}: staged"), ready=False)],
    )
    kube_cluster.load(Cluster.of(shop.all(), staged.deployment, staged.replica_set, blocked))
    [finding] = run_probe(PodsProbe, config=kube_config(kube_cluster)).findings
    assert (finding.kind, finding.severity) == (kind, Severity.CRITICAL)
    assert finding.title.endswith(reason)
    assert finding.onset == now - timedelta(minutes=7)


def test_containers_still_creating_are_not_blocked(kube_cluster: KubeApiServer, now: datetime) -> None:
    shop = healthy_shop(now)
    staged = k.steady_deployment("search", "shop", container_name="search", image="search:4.0", created=now)
    creating = k.pod(
        staged.replica_set,
        template=staged.template,
        created=now - timedelta(seconds=10),
        node="node-1",
        statuses=[k.container_status(staged.spec, state=k.waiting("ContainerCreating"), ready=False)],
    )
    kube_cluster.load(Cluster.of(shop.all(), staged.deployment, staged.replica_set, creating))
    assert run_probe(PodsProbe, config=kube_config(kube_cluster)).findings == ()


def test_job_pods_that_failed_with_a_non_zero_exit(kube_cluster: KubeApiServer, now: datetime) -> None:
    shop = healthy_shop(now)
    job = a.job("import-77", "shop", started=now - timedelta(minutes=20), finished=None)
    template = job["spec"]["template"] | {"metadata": {"labels": {"app.kubernetes.io/name": "import"}}}
    spec = template["spec"]["containers"][0]
    ended = now - timedelta(minutes=18)
    failed = [
        k.pod(
            job,
            template=template,
            created=ended - timedelta(minutes=1, seconds=i),
            node="node-0",
            phase="Failed",
            statuses=[
                k.container_status(
                    spec,
                    state=k.terminated(
                        "Error", 3, ended - timedelta(minutes=1), ended + timedelta(seconds=i)
                    ),
                )
            ],
        )
        for i in range(2)
    ]
    kube_cluster.load(Cluster.of(shop.all(), job, failed))
    [finding] = run_probe(PodsProbe, config=kube_config(kube_cluster)).findings
    assert (finding.kind, finding.severity) == ("failed", Severity.WARNING)
    assert finding.title == "2 pods of Job shop/import-77 failed: import-77 exited 3 (Error)"
    assert finding.onset == ended


def test_a_missing_image_pull_secret_behind_a_failing_pull(
    kube_cluster: KubeApiServer, now: datetime
) -> None:
    shop = healthy_shop(now)
    staged = k.steady_deployment(
        "billing",
        "shop",
        container_name="billing",
        image="private.example.com/billing:1.2",
        created=now - timedelta(hours=1),
    )
    stuck = k.pod(
        staged.replica_set,
        template=staged.template,
        created=now - timedelta(minutes=12),
        node="node-0",
        statuses=[
            k.container_status(
                staged.spec,
                state=k.waiting(
                    "ImagePullBackOff", 'Back-off pulling image "private.example.com/billing:1.2"'
                ),
                ready=False,
            )
        ],
    )
    secret_event = k.event(
        stuck,
        reason="FailedToRetrieveImagePullSecret",
        message="Unable to retrieve some image pull secrets (regcred-billing); attempting to pull the image may not succeed.",
        first=now - timedelta(minutes=12),
        last=now - timedelta(minutes=1),
        count=40,
    )
    kube_cluster.load(Cluster.of(shop.all(), staged.deployment, staged.replica_set, stuck, secret_event))
    findings = {f.kind: f for f in run_probe(PodsProbe, config=kube_config(kube_cluster)).findings}
    assert sorted(findings) == ["image_pull", "pull_secret_missing"]  # no duplicate Warning-event finding
    secret = findings["pull_secret_missing"]
    assert (secret.severity, secret.title) == (
        Severity.CRITICAL,
        "Pods of Deployment shop/billing name missing image pull secret regcred-billing",
    )
    assert secret.onset == now - timedelta(minutes=12)


def test_network_unavailable_and_kernel_deadlock(kube_cluster: KubeApiServer, now: datetime) -> None:
    shop = healthy_shop(now)
    shop.objects["node-1"] = npd_node(
        "node-1",
        now,
        problem={
            "NetworkUnavailable": ("True", "NoRouteCreated", "RouteController failed to create a route"),
            "KernelDeadlock": ("True", "DockerHung", "task docker:7 blocked for more than 120 seconds."),
        },
    )
    kube_cluster.load(Cluster.of(shop.all()))
    [finding] = run_probe(NodesProbe, config=kube_config(kube_cluster)).findings
    assert (finding.kind, finding.severity) == ("node_condition", Severity.CRITICAL)
    assert finding.title == "Node node-1 reports NetworkUnavailable, KernelDeadlock"
    assert finding.onset == now - timedelta(minutes=12)
    assert "RouteController failed to create a route" in finding.summary


def test_a_custom_condition_in_unknown_state_is_a_warning(kube_cluster: KubeApiServer, now: datetime) -> None:
    shop = healthy_shop(now)
    node = shop.objects["node-0"]
    node["status"]["conditions"].insert(
        0,
        {
            "type": "GPUHealthy",
            "status": "Unknown",
            "reason": "CheckTimeout",
            "message": "nvidia-smi did not answer",
            "lastHeartbeatTime": ts(now),
            "lastTransitionTime": ts(now - timedelta(minutes=4)),
        },
    )
    kube_cluster.load(Cluster.of(shop.all()))
    [finding] = run_probe(NodesProbe, config=kube_config(kube_cluster)).findings
    assert (finding.kind, finding.severity) == ("node_condition", Severity.WARNING)
    assert finding.title == "Node node-0 reports GPUHealthy (status Unknown)"


def test_a_missing_pull_secret_of_an_image_that_still_pulls_is_a_warning(
    kube_cluster: KubeApiServer, now: datetime
) -> None:
    shop = healthy_shop(now)
    pod = shop.pods["web"][0]
    secret_event = k.event(
        pod,
        reason="FailedToRetrieveImagePullSecret",
        message="Unable to retrieve some image pull secrets (old-registry, mirror-creds); attempting to pull "
        "the image may not succeed.",
        first=now - timedelta(minutes=30),
        last=now - timedelta(minutes=2),
        count=12,
    )
    kube_cluster.load(Cluster.of(shop.all(), secret_event))
    [finding] = run_probe(PodsProbe, config=kube_config(kube_cluster)).findings
    assert (finding.kind, finding.severity) == ("pull_secret_missing", Severity.WARNING)
    assert finding.evidence.details["secrets"] == ["old-registry", "mirror-creds"]
