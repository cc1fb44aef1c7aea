"""Staged incidents on Kubernetes API objects shaped like a real cluster's, and every builder.

Every builder returns a full object as the API server stores it (apiVersion, kind, metadata with
uid, resourceVersion, creationTimestamp, labels, annotations, ownerReferences, managedFields;
spec; status with conditions), not just the fields the probes read. Times are absolute
datetimes: stage relative to ``datetime.now(UTC)`` so the API server's Date header agrees.

The builders live by job and are re-exported here, so ``from tests.support import kube_objects
as k`` gives them all:

- :mod:`tests.support.kube_meta`: metadata, timestamps, conditions;
- :mod:`tests.support.kube_workloads`: pod templates, Deployments, ReplicaSets, StatefulSets,
  DaemonSets, ControllerRevisions, Helm release secrets;
- :mod:`tests.support.kube_pods`: pods and their containers' states, events, nodes.

This module stages whole situations: :func:`deployment_rollout` a Deployment rolled from one
image to another (old and new ReplicaSets, their pods, the events), e.g. for "rollout followed
by an error spike"; :func:`steady_deployment` one that has not changed for days, to give pods
an owner.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tests.support.kube_meta import (
    SERVICE_ACCOUNT,
    Obj,
    condition,
    metadata,
    micro_ts,
    short_hash,
    ts,
    uid_of,
)
from tests.support.kube_pods import (
    container_status,
    event,
    node,
    pod,
    restarted_pod,
    running,
    terminated,
    unschedulable,
    waiting,
)
from tests.support.kube_workloads import (
    container,
    controller_revision,
    daemon_set,
    deployment,
    helm_release_secret,
    pod_template,
    replica_set,
    revision_name,
    stateful_set,
    template_hash,
)

__all__ = [
    "SERVICE_ACCOUNT",
    "Obj",
    "StagedRollout",
    "StagedWorkload",
    "condition",
    "container",
    "container_status",
    "controller_revision",
    "daemon_set",
    "deployment",
    "deployment_rollout",
    "event",
    "helm_release_secret",
    "metadata",
    "micro_ts",
    "node",
    "pod",
    "pod_template",
    "replica_set",
    "restarted_pod",
    "revision_name",
    "running",
    "short_hash",
    "stateful_set",
    "steady_deployment",
    "template_hash",
    "terminated",
    "ts",
    "uid_of",
    "unschedulable",
    "waiting",
]


@dataclass
class StagedWorkload:
    """A Deployment unchanged for a while, with its one ReplicaSet: the owner of staged pods."""

    template: Obj
    deployment: Obj
    replica_set: Obj

    @property
    def spec(self) -> Obj:
        """The (first) container spec of the template."""
        first: Obj = self.template["spec"]["containers"][0]
        return first


def steady_deployment(
    name: str,
    namespace: str,
    *,
    container_name: str,
    image: str,
    created: datetime,
    revision: int = 2,
    replicas: int = 3,
    memory_limit: str = "512Mi",
) -> StagedWorkload:
    """A Deployment of one container, created (and last rolled out) at ``created``."""
    template = pod_template(name, [container(container_name, image, memory_limit=memory_limit)])
    deploy = deployment(name, namespace, template=template, revision=revision, created=created)
    rs = replica_set(deploy, template=template, revision=revision, created=created, replicas=replicas)
    return StagedWorkload(template=template, deployment=deploy, replica_set=rs)


# -- a whole rollout --------------------------------------------------------------------------


@dataclass
class StagedRollout:
    """A Deployment rolled from one template to another, with everything the cluster would hold."""

    deployment: Obj
    old_replica_set: Obj
    new_replica_set: Obj
    old_pods: list[Obj] = field(default_factory=list)
    new_pods: list[Obj] = field(default_factory=list)
    events: list[Obj] = field(default_factory=list)
    logs: dict[tuple[str, str, str, bool], str] = field(default_factory=dict)

    def objects(self) -> list[Obj]:
        """Everything staged, to load into a :class:`~tests.support.kube_api.Cluster`."""
        return [
            self.deployment,
            self.old_replica_set,
            self.new_replica_set,
            *self.old_pods,
            *self.new_pods,
            *self.events,
        ]


def deployment_rollout(
    name: str,
    namespace: str,
    *,
    old_image: str,
    new_image: str,
    rolled_out_at: datetime,
    old_revision: int = 6,
    replicas: int = 3,
    crash_new_pods: int = 0,
    crash_exit_code: int = 1,
    crash_reason: str = "Error",
    crash_log: str = "",
    old_env: Mapping[str, str] | None = None,
    new_env: Mapping[str, str] | None = None,
    created: datetime | None = None,
    nodes: tuple[str, ...] = ("node-a", "node-b", "node-c"),
) -> StagedRollout:
    """A Deployment rolled out at ``rolled_out_at`` from ``old_image`` to ``new_image``.

    With ``crash_new_pods`` the new ReplicaSet's pods crash-loop (the rollout stalls: the old
    pods keep serving); otherwise the rollout completed and only new pods run.
    """
    born = created or rolled_out_at - timedelta(days=30)
    old_template = pod_template(name, [container(name, old_image, env=old_env or {"LOG_LEVEL": "info"})])
    new_template = pod_template(
        name, [container(name, new_image, env=new_env or old_env or {"LOG_LEVEL": "info"})]
    )
    new_revision = old_revision + 1
    new_rs_name = f"{name}-{template_hash(new_template)}"
    crashing = crash_new_pods > 0
    if crashing:
        status = {
            "replicas": replicas + crash_new_pods,
            "updatedReplicas": crash_new_pods,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "unavailableReplicas": crash_new_pods,
        }
        conditions = [
            condition(
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                since=born,
            ),
            condition(
                "Progressing",
                "True",
                "ReplicaSetUpdated",
                f'ReplicaSet "{new_rs_name}" is progressing.',
                since=born,
                updated=rolled_out_at + timedelta(seconds=20),
            ),
        ]
    else:
        status = {}
        conditions = [
            condition(
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                since=born,
            ),
            condition(
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{new_rs_name}" has successfully progressed.',
                since=born,
                updated=rolled_out_at + timedelta(seconds=45),
            ),
        ]
    deploy = deployment(
        name,
        namespace,
        template=new_template,
        revision=new_revision,
        created=born,
        replicas=replicas,
        status=status,
        conditions=conditions,
    )
    old_rs = replica_set(
        deploy,
        template=old_template,
        revision=old_revision,
        created=born + timedelta(days=1),
        replicas=replicas if crashing else 0,
    )
    new_rs = replica_set(
        deploy,
        template=new_template,
        revision=new_revision,
        created=rolled_out_at,
        replicas=crash_new_pods if crashing else replicas,
        ready=0 if crashing else None,
    )
    staged = StagedRollout(deployment=deploy, old_replica_set=old_rs, new_replica_set=new_rs)
    if crashing:
        staged.old_pods = [
            pod(
                old_rs,
                template=old_template,
                created=born + timedelta(days=1, minutes=i),
                node=nodes[i % len(nodes)],
            )
            for i in range(replicas)
        ]
        spec = new_template["spec"]["containers"][0]
        for i in range(crash_new_pods):
            started = rolled_out_at + timedelta(seconds=5 + i)
            last_start = rolled_out_at + timedelta(minutes=4, seconds=i)
            new_pod = pod(
                new_rs,
                template=new_template,
                created=started,
                node=nodes[i % len(nodes)],
                statuses=[
                    container_status(
                        spec,
                        state=waiting(
                            "CrashLoopBackOff", f"back-off 2m40s restarting failed container={name}"
                        ),
                        last_state=terminated(
                            crash_reason, crash_exit_code, last_start, last_start + timedelta(seconds=3)
                        ),
                        restarts=6 + i,
                        ready=False,
                    )
                ],
            )
            staged.new_pods.append(new_pod)
            staged.events.append(
                event(
                    new_pod,
                    reason="BackOff",
                    message=f"Back-off restarting failed container {name} in pod {new_pod['metadata']['name']}",
                    first=started + timedelta(seconds=30),
                    last=rolled_out_at + timedelta(minutes=9),
                    count=25,
                )
            )
            if crash_log:
                staged.logs[(namespace, new_pod["metadata"]["name"], name, True)] = crash_log
    else:
        staged.new_pods = [
            pod(
                new_rs,
                template=new_template,
                created=rolled_out_at + timedelta(seconds=5 + i),
                node=nodes[i % len(nodes)],
            )
            for i in range(replicas)
        ]
    return staged
