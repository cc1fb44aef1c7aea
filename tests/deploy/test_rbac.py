"""The shipped ClusterRole grants exactly what the Kubernetes probes read, and only reads.

Every probe that reads the ``kubernetes`` section runs against the local API server on a
cluster that makes them read everything they can (a crash-looping rollout: previous logs; a
Helm upgrade: release secrets); the requests the server saw become (group, resource, verb)
and are compared with the role's rules.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from diagnostics.registry import load_registry
from diagnostics.testing import run_probe
from tests.probes.kubernetes.conftest import crashing_rollout, kube_config
from tests.support import kube_around
from tests.support import kube_objects as k
from tests.support.kube_api import Cluster, KubeApiServer

pytestmark = pytest.mark.integration

ROLE = Path(__file__).resolve().parents[2] / "config" / "deploy" / "kubernetes" / "rbac.yaml"
_PATH = re.compile(
    r"^/(?:api/v1|apis/(?P<group>[a-z.0-9-]+)/v[0-9a-z]+)"
    r"(?:/namespaces/[^/]+)?/(?P<resource>[a-z]+)(?:/(?P<name>[^/]+))?(?:/(?P<sub>[a-z]+))?$"
)
Access = tuple[str, str, str]


def granted() -> set[Access]:
    [role] = [d for d in yaml.safe_load_all(ROLE.read_text()) if d and d["kind"] == "ClusterRole"]
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def requested(paths: list[str]) -> set[Access]:
    accesses: set[Access] = set()
    for path in paths:
        match = _PATH.match(path)
        assert match, f"unexpected API path {path}"
        resource = match["resource"] + (f"/{match['sub']}" if match["sub"] else "")
        verb = "get" if match["name"] else "list"
        accesses.add((match["group"] or "", resource, verb))
    return accesses


def test_the_role_is_read_only() -> None:
    assert {verb for _, _, verb in granted()} <= {"get", "list", "watch"}


def test_the_role_grants_exactly_what_the_probes_read(kube_cluster: KubeApiServer) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    staged = crashing_rollout(now)
    helm = [
        k.helm_release_secret(
            "checkout",
            "shop",
            revision=number,
            status=status,
            chart="checkout",
            chart_version=version,
            created=now - age,
        )
        for number, status, version, age in (
            (11, "superseded", "1.4.2", timedelta(days=6)),
            (12, "deployed", "1.5.0", timedelta(minutes=10)),
        )
    ]
    old = k.pod_template("orders-db", [k.container("postgres", "postgres:16.2")])
    new = k.pod_template("orders-db", [k.container("postgres", "postgres:16.3")])
    database = k.stateful_set(
        "orders-db",
        "data",
        template=new,
        created=now - timedelta(days=90),
        current_revision=k.revision_name("orders-db", old),
        update_revision=k.revision_name("orders-db", new),
        updated=1,
        ready=3,
    )
    revisions = [
        k.controller_revision(database, template=old, revision=4, created=now - timedelta(days=20)),
        k.controller_revision(database, template=new, revision=5, created=now - timedelta(minutes=3)),
    ]
    # an Ingress with a TLS secret makes workloads.services read IngressClasses and secret names
    around = [
        kube_around.service(
            "checkout", "shop", selector={"app": "checkout"}, created=now - timedelta(days=30)
        ),
        kube_around.ingress(
            "shop",
            "shop",
            backends={"shop.example.com/": "checkout"},
            created=now - timedelta(days=30),
            tls_secret="shop-tls",
        ),
        kube_around.ingress_class("nginx", created=now - timedelta(days=90)),
    ]
    kube_cluster.load(Cluster.of([*staged.objects(), *helm, database, *revisions, *around], logs=staged.logs))
    registry = load_registry()
    kubernetes_probes = [
        probe_class
        for probe_class in registry.probes.values()
        if probe_class.backend_section is not None and probe_class.backend_section.key == "kubernetes"
    ]
    assert len(kubernetes_probes) >= 3
    for probe_class in kubernetes_probes:
        run = run_probe(probe_class, config=kube_config(kube_cluster))
        assert run.outcome.status.checked, (probe_class.id, run.outcome.error)
    needed = requested(kube_cluster.paths())
    role = granted()
    # a get of a named object is covered by get; list covers collections
    assert needed - role == set(), "the probes read what the role does not grant"
    unused = {(g, r, v) for g, r, v in role if (g, r) not in {(g2, r2) for g2, r2, _ in needed}}
    assert unused == set(), "the role grants resources no probe reads"
