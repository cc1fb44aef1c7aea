"""Workloads from pod names and from kube_pod_owner."""

from __future__ import annotations

import pytest

from probes.resources.workload import Workload, from_owner, from_pod_name


@pytest.mark.parametrize(
    ("pod", "expected"),
    [
        ("checkout-6b8f9d7c5c-q2w4z", Workload(name="checkout", kind="Deployment")),
        ("api-gateway-v2-5d7f8c9b4b-m2n4p", Workload(name="api-gateway-v2", kind="Deployment")),
        ("postgres-0", Workload(name="postgres", kind="StatefulSet")),
        ("kafka-12", Workload(name="kafka", kind="StatefulSet")),
        ("fluent-bit-x2b4k", Workload(name="fluent-bit", kind="?")),
        ("nightly-report-28993440-h5k2q", Workload(name="nightly-report", kind="CronJob")),
        ("debug-shell", None),
        ("checkout-abcde", None),  # vowels never appear in generated suffixes
    ],
)
def test_the_workload_a_pod_name_implies(pod: str, expected: Workload | None) -> None:
    assert from_pod_name(pod) == expected


@pytest.mark.parametrize(
    ("kind", "name", "expected"),
    [
        ("ReplicaSet", "checkout-6b8f9d7c5c", Workload(name="checkout", kind="Deployment")),
        ("ReplicaSet", "legacy", Workload(name="legacy", kind="ReplicaSet")),
        ("StatefulSet", "postgres", Workload(name="postgres", kind="StatefulSet")),
        ("DaemonSet", "fluent-bit", Workload(name="fluent-bit", kind="DaemonSet")),
        ("Job", "nightly-report-28993440", Workload(name="nightly-report", kind="CronJob")),
        ("Job", "migrate", Workload(name="migrate", kind="Job")),
    ],
)
def test_the_workload_of_a_pod_owner(kind: str, name: str, expected: Workload) -> None:
    assert from_owner(kind, name) == expected
