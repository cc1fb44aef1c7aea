"""A healthy, realistically noisy cluster of every kind: every Kubernetes probe stays silent."""

from __future__ import annotations

from datetime import datetime

import pytest

from diagnostics import Status
from diagnostics.testing import run_probe
from probes.kubernetes.admission import AdmissionProbe
from probes.kubernetes.autoscaling import AutoscalingProbe
from probes.kubernetes.batch import BatchProbe
from probes.kubernetes.nodes import NodesProbe
from probes.kubernetes.pods import PodsProbe
from probes.kubernetes.replicas import ReplicasProbe
from probes.kubernetes.services import ServicesProbe
from probes.kubernetes.storage import StorageProbe
from tests.probes.kubernetes.conftest import kube_config
from tests.probes.kubernetes.healthy import healthy_shop
from tests.support.kube_api import Cluster, KubeApiServer

pytestmark = pytest.mark.integration

PROBES = (
    ReplicasProbe,
    ServicesProbe,
    StorageProbe,
    BatchProbe,
    AutoscalingProbe,
    AdmissionProbe,
    PodsProbe,
    NodesProbe,
)


@pytest.mark.parametrize("probe", PROBES, ids=lambda p: p.id)
def test_a_healthy_cluster_yields_nothing(kube_cluster: KubeApiServer, now: datetime, probe: type) -> None:
    kube_cluster.load(Cluster.of(healthy_shop(now).all()))
    run = run_probe(probe, config=kube_config(kube_cluster))
    assert run.outcome.status is Status.OK, run.outcome
    assert [f.title for f in run.findings] == []
