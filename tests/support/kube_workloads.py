"""Builders of workloads as a real cluster stores them: pod templates, Deployments and their
ReplicaSets, StatefulSets, DaemonSets and their ControllerRevisions, Helm release secrets.

Each returns a full object (apiVersion, kind, metadata with uid, resourceVersion, labels,
annotations, ownerReferences, managedFields; spec; status), not just the fields the probes read.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from tests.support.kube_meta import Obj, metadata, short_hash, ts

# -- pod templates ------------------------------------------------------------------------


def container(
    name: str,
    image: str,
    *,
    env: Mapping[str, str] | None = None,
    secret_env: Mapping[str, tuple[str, str]] | None = None,
    memory_limit: str = "512Mi",
    port: int = 8080,
) -> Obj:
    """A container spec with the defaults the API server fills in."""
    variables: list[Obj] = [{"name": k, "value": v} for k, v in (env or {}).items()]
    variables += [
        {"name": k, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
        for k, (secret, key) in (secret_env or {}).items()
    ]
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
        "env": variables,
        "resources": {
            "limits": {"cpu": "1", "memory": memory_limit},
            "requests": {"cpu": "250m", "memory": memory_limit},
        },
        "readinessProbe": {
            "httpGet": {"path": "/ready", "port": port, "scheme": "HTTP"},
            "periodSeconds": 10,
            "timeoutSeconds": 1,
            "successThreshold": 1,
            "failureThreshold": 3,
        },
        "livenessProbe": {
            "httpGet": {"path": "/healthz", "port": port, "scheme": "HTTP"},
            "initialDelaySeconds": 10,
            "periodSeconds": 10,
            "timeoutSeconds": 1,
            "successThreshold": 1,
            "failureThreshold": 3,
        },
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    }


def pod_template(
    app: str,
    containers: Iterable[Obj],
    *,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> Obj:
    """A pod template labelled ``app.kubernetes.io/name: app``."""
    template: Obj = {
        "metadata": {
            "creationTimestamp": None,
            "labels": {"app.kubernetes.io/name": app, **(labels or {})},
        },
        "spec": {
            "containers": list(containers),
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "serviceAccountName": app,
            "serviceAccount": app,
            "securityContext": {"runAsNonRoot": True},
            "schedulerName": "default-scheduler",
        },
    }
    if annotations:
        template["metadata"]["annotations"] = dict(annotations)
    return template


def template_hash(template: Obj) -> str:
    """The ``pod-template-hash`` of a Deployment's ReplicaSet for ``template``."""
    return short_hash(template)


# -- workloads and their revisions ----------------------------------------------------------------


def deployment(
    name: str,
    namespace: str,
    *,
    template: Obj,
    revision: int,
    created: datetime,
    replicas: int = 3,
    status: Obj | None = None,
    conditions: list[Obj] | None = None,
    labels: Mapping[str, str] | None = None,
    generation: int | None = None,
    progress_deadline_s: int = 600,
) -> Obj:
    """A Deployment; ``status`` overrides the healthy default (all replicas updated and available)."""
    app = template["metadata"]["labels"]["app.kubernetes.io/name"]
    obj: Obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(
            name,
            namespace,
            "Deployment",
            created,
            labels={"app.kubernetes.io/name": app, **(labels or {})},
            annotations={"deployment.kubernetes.io/revision": str(revision)},
            generation=generation or revision,
        ),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": app}},
            "template": template,
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
            },
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": progress_deadline_s,
        },
    }
    default_status = {
        "observedGeneration": generation or revision,
        "replicas": replicas,
        "updatedReplicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
    }
    obj["status"] = {**default_status, **(status or {}), "conditions": conditions or []}
    return obj


def replica_set(
    owner: Obj,
    *,
    template: Obj,
    revision: int,
    created: datetime,
    replicas: int,
    ready: int | None = None,
    revision_history: Iterable[int] = (),
) -> Obj:
    """A Deployment's ReplicaSet named ``<deployment>-<pod-template-hash>``."""
    hashed = template_hash(template)
    labels = {**template["metadata"]["labels"], "pod-template-hash": hashed}
    stamped = json.loads(json.dumps(template))
    stamped["metadata"]["labels"] = labels
    desired = owner["spec"]["replicas"]
    annotations = {
        "deployment.kubernetes.io/desired-replicas": str(desired),
        "deployment.kubernetes.io/max-replicas": str(desired + max(1, desired // 4)),
        "deployment.kubernetes.io/revision": str(revision),
    }
    history = ",".join(str(n) for n in revision_history)
    if history:
        annotations["deployment.kubernetes.io/revision-history"] = history
    ready_count = replicas if ready is None else ready
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": metadata(
            f"{owner['metadata']['name']}-{hashed}",
            owner["metadata"]["namespace"],
            "ReplicaSet",
            created,
            labels=labels,
            annotations=annotations,
            owner=owner,
            generation=1,
            manager="kube-controller-manager",
        ),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": stamped,
        },
        "status": {
            "replicas": replicas,
            "fullyLabeledReplicas": replicas,
            "readyReplicas": ready_count,
            "availableReplicas": ready_count,
            "observedGeneration": 1,
        },
    }


def stateful_set(
    name: str,
    namespace: str,
    *,
    template: Obj,
    created: datetime,
    current_revision: str,
    update_revision: str,
    replicas: int = 3,
    updated: int | None = None,
    ready: int | None = None,
    generation: int = 1,
    volume_claims: Mapping[str, str | None] | None = None,
    service_name: str | None = None,
) -> Obj:
    """A StatefulSet whose pods run ``current_revision``, updating to ``update_revision``.

    ``volume_claims`` maps claim template names to their StorageClass; its governing Service is
    ``service_name`` (the StatefulSet's name by default).
    """
    app = template["metadata"]["labels"]["app.kubernetes.io/name"]
    ready_count = replicas if ready is None else ready
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": metadata(
            name,
            namespace,
            "StatefulSet",
            created,
            labels={"app.kubernetes.io/name": app},
            generation=generation,
        ),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": app}},
            "serviceName": service_name or name,
            "template": template,
            "volumeClaimTemplates": [
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": {"name": claim},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "20Gi"}},
                        **({"storageClassName": storage} if storage is not None else {}),
                        "volumeMode": "Filesystem",
                    },
                }
                for claim, storage in (volume_claims or {}).items()
            ],
            "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            "revisionHistoryLimit": 10,
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
        },
        "status": {
            "observedGeneration": generation,
            "replicas": replicas,
            "readyReplicas": ready_count,
            "currentReplicas": replicas if current_revision == update_revision else replicas - (updated or 0),
            "updatedReplicas": replicas if updated is None else updated,
            "availableReplicas": ready_count,
            "currentRevision": current_revision,
            "updateRevision": update_revision,
            "collisionCount": 0,
        },
    }


def daemon_set(
    name: str,
    namespace: str,
    *,
    template: Obj,
    created: datetime,
    desired: int = 3,
    updated: int | None = None,
    available: int | None = None,
    generation: int = 1,
) -> Obj:
    """A DaemonSet on ``desired`` nodes (all updated and available unless told)."""
    app = template["metadata"]["labels"]["app.kubernetes.io/name"]
    available_count = desired if available is None else available
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": metadata(
            name,
            namespace,
            "DaemonSet",
            created,
            labels={"app.kubernetes.io/name": app},
            generation=generation,
        ),
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": app}},
            "template": template,
            "updateStrategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
            },
            "revisionHistoryLimit": 10,
        },
        "status": {
            "currentNumberScheduled": desired,
            "desiredNumberScheduled": desired,
            "numberMisscheduled": 0,
            "numberReady": available_count,
            "numberAvailable": available_count,
            "numberUnavailable": desired - available_count,
            "updatedNumberScheduled": desired if updated is None else updated,
            "observedGeneration": generation,
        },
    }


def controller_revision(owner: Obj, *, template: Obj, revision: int, created: datetime) -> Obj:
    """A StatefulSet's or DaemonSet's ControllerRevision: the template as a replace patch."""
    hashed = revision_name(owner["metadata"]["name"], template).rsplit("-", 1)[1]
    patch = json.loads(json.dumps(template))
    patch["$patch"] = "replace"
    return {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": metadata(
            f"{owner['metadata']['name']}-{hashed}",
            owner["metadata"]["namespace"],
            "ControllerRevision",
            created,
            labels={**template["metadata"]["labels"], "controller-revision-hash": hashed},
            owner=owner,
            manager="kube-controller-manager",
        ),
        "data": {"spec": {"template": patch}},
        "revision": revision,
    }


def revision_name(owner_name: str, template: Obj) -> str:
    """The name :func:`controller_revision` gives ``template``'s revision of ``owner_name``."""
    return f"{owner_name}-{short_hash(template, 9)}"


# -- Helm -------------------------------------------------------------------------------------


def helm_release_secret(
    release: str,
    namespace: str,
    *,
    revision: int,
    status: str,
    chart: str,
    chart_version: str,
    created: datetime,
    app_version: str = "",
    values: Mapping[str, Any] | None = None,
    description: str | None = None,
) -> Obj:
    """A Helm 3 release secret: ``data.release`` is base64 (API) of base64 (Helm) of gzip JSON."""
    body = {
        "name": release,
        "namespace": namespace,
        "version": revision,
        "info": {
            "first_deployed": ts(created),
            "last_deployed": ts(created),
            "deleted": "",
            "description": description or ("Install complete" if revision == 1 else "Upgrade complete"),
            "status": status,
        },
        "chart": {
            "metadata": {
                "name": chart,
                "version": chart_version,
                "appVersion": app_version,
                "apiVersion": "v2",
            },
            "templates": [
                {"name": "templates/deployment.yaml", "data": base64.b64encode(b"kind: Deployment").decode()}
            ],
            "values": {"replicaCount": 3},
        },
        "config": dict(values or {}),
        "manifest": f"---\n# Source: {chart}/templates/deployment.yaml\nkind: Deployment\n",
    }
    helm_encoded = base64.b64encode(gzip.compress(json.dumps(body).encode())).decode()
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "helm.sh/release.v1",
        "metadata": metadata(
            f"sh.helm.release.v1.{release}.v{revision}",
            namespace,
            "Secret",
            created,
            labels={
                "name": release,
                "owner": "helm",
                "status": status,
                "version": str(revision),
                "modifiedAt": str(int(created.timestamp())),
            },
            manager="helm",
        ),
        "data": {"release": base64.b64encode(helm_encoded.encode()).decode()},
    }
