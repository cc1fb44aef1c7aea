"""Several clusters from one place: ``kubernetes: {contexts: [...]}`` checks each context in one
run, names entities by context, reports a context it cannot reach and judges the others. Two
local API servers (tests/support/kube_fleet.py) hold different staged incidents."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from diagnostics import ErrorKind, Finding, Probe, Severity, Status
from diagnostics.summary.build import summarize
from diagnostics.summary.entities import EntityIndex
from diagnostics.testing import run_probe
from probes.kubernetes.nodes import NodesProbe
from probes.kubernetes.pods import PodsProbe
from probes.kubernetes.rollouts import RolloutsProbe
from probes.kubernetes.services import ServicesProbe
from tests.probes.kubernetes.conftest import crashing_behind_service, crashing_rollout, pending_cart
from tests.probes.kubernetes.healthy import healthy_shop
from tests.probes.kubernetes.test_cause_links import report_of
from tests.probes.kubernetes.test_healthy_cluster import PROBES
from tests.support import kube_objects as k
from tests.support.kube_api import TOKEN, Cluster
from tests.support.kube_fleet import DOWN, EU, INTRUDER, US, Fleet

pytestmark = pytest.mark.integration

EVERY_PROBE = (RolloutsProbe, *PROBES)


def fleet_config(fleet: Fleet, *contexts: str, **settings: Any) -> dict[str, Any]:
    return {"kubernetes": {"kubeconfig": str(fleet.kubeconfig), "contexts": list(contexts), **settings}}


def kubectl_commands(finding: Finding) -> list[str]:
    """The kubectl part of each kubectl next step (before any pipe or comment)."""
    steps = [s for s in finding.next_steps if s.startswith("kubectl")]
    return [s.split("|")[0].split("#")[0].rstrip() for s in steps]


def test_each_context_is_judged_and_every_finding_names_its_context(kube_fleet: Fleet, now: datetime) -> None:
    eu, us = crashing_rollout(now), crashing_rollout(now)
    kube_fleet.eu.load(Cluster.of(eu.objects(), logs=eu.logs))
    kube_fleet.us.load(Cluster.of(us.objects(), pending_cart(now).objects, logs=us.logs))
    run = run_probe(PodsProbe, config=fleet_config(kube_fleet, EU, US))
    assert run.outcome.status is Status.CRITICAL
    crashes = {f.entity.attributes["context"]: f for f in run.of_kind("crash_loop")}
    assert {c: f.entity.name for c, f in crashes.items()} == {
        EU: "prod-eu/shop/checkout",
        US: "prod-us/shop/checkout",
    }
    assert crashes[EU].fingerprint != crashes[US].fingerprint
    assert all(f.entity.attributes["namespace"] == "shop" for f in crashes.values())
    assert "PAYMENT_URL is not set" in str(crashes[EU].evidence.details)  # each cluster's own log read
    [pending] = run.of_kind("pending")
    assert (pending.entity.name, pending.entity.attributes["context"]) == ("prod-us/shop/cart", US)
    for finding in run.findings:
        context = finding.entity.attributes["context"]
        assert finding.entity.name.startswith(f"{context}/")
        assert kubectl_commands(finding), finding.title
        for command in kubectl_commands(finding):
            assert command.endswith(f" --context {context}"), command
    assert kube_fleet.eu.paths() and kube_fleet.us.paths()  # both clusters were asked, each its own calls
    rollouts = run_probe(RolloutsProbe, config=fleet_config(kube_fleet, EU, US)).of_kind("rollout_unhealthy")
    assert sorted(f.entity.name for f in rollouts) == ["prod-eu/shop/checkout", "prod-us/shop/checkout"]
    for finding in rollouts:
        undo = next(c for c in kubectl_commands(finding) if "rollout undo" in c)
        assert undo.endswith(f" --context {finding.entity.attributes['context']}"), undo


def test_two_clusters_nodes_of_one_name_stay_apart(kube_fleet: Fleet, now: datetime) -> None:
    week = now - timedelta(days=7)
    kube_fleet.eu.load(
        Cluster.of(k.node("node-a", created=week, ready="False", ready_since=now - timedelta(minutes=9)))
    )
    kube_fleet.us.load(Cluster.of(k.node("node-a", created=week, unschedulable=True)))
    run = run_probe(NodesProbe, config=fleet_config(kube_fleet, EU, US))
    found = {f.kind: f for f in run.findings}
    assert set(found) == {"node_not_ready", "node_cordoned"}
    assert found["node_not_ready"].entity.name == "prod-eu/node-a"
    assert found["node_cordoned"].entity.name == "prod-us/node-a"
    assert found["node_not_ready"].onset == now - timedelta(minutes=9)


def test_unreachable_and_unknown_contexts_are_reported_and_the_other_still_judged(
    kube_fleet: Fleet, now: datetime
) -> None:
    staged = crashing_rollout(now)
    kube_fleet.eu.load(Cluster.of(staged.objects(), logs=staged.logs))
    run = run_probe(PodsProbe, config=fleet_config(kube_fleet, DOWN, EU, "prod-typo"))
    assert run.outcome.status is Status.CRITICAL and run.outcome.error is None
    [crash] = run.of_kind("crash_loop")
    assert crash.entity.name == "prod-eu/shop/checkout"
    unchecked = {f.entity.name: f for f in run.of_kind("context_unchecked")}
    assert set(unchecked) == {DOWN, "prod-typo"}
    down = unchecked[DOWN]
    assert down.severity is Severity.WARNING and down.entity.kind == "cluster"
    assert down.evidence.details["error_kind"] == "connect"
    assert down.title.startswith("Kubernetes context prod-down could not be checked: cannot connect")
    assert down.next_steps[0] == "kubectl cluster-info --context prod-down"
    assert unchecked["prod-typo"].evidence.details["error_kind"] == "config"
    assert "cannot load the kubeconfig" in unchecked["prod-typo"].title


def test_rejected_credentials_of_one_context_leave_the_healthy_other_silent(
    kube_fleet: Fleet, now: datetime
) -> None:
    kube_fleet.us.load(Cluster.of(healthy_shop(now).all()))
    run = run_probe(PodsProbe, config=fleet_config(kube_fleet, US, INTRUDER))
    assert run.outcome.status is Status.WARNING
    [unchecked] = run.findings
    assert unchecked.kind == "context_unchecked" and unchecked.entity.name == INTRUDER
    assert unchecked.evidence.details["error_kind"] == "auth"
    assert "401 Unauthorized" in unchecked.title
    assert TOKEN not in str(run.report) and "not-the-right-token" not in str(run.report)


def test_no_context_reachable_is_the_probes_error_naming_each(kube_fleet: Fleet) -> None:
    run = run_probe(NodesProbe, config=fleet_config(kube_fleet, DOWN, INTRUDER))
    assert run.outcome.status is Status.ERROR and run.findings == ()
    assert run.outcome.error_kind is ErrorKind.CONNECT
    error = run.outcome.error or ""
    assert error.startswith("no Kubernetes context could be checked (prod-down: cannot connect")
    assert "prod-intruder: the Kubernetes API at" in error and "401 Unauthorized" in error


@pytest.mark.parametrize("probe", EVERY_PROBE, ids=lambda p: p.id)
def test_every_kubernetes_probe_checks_each_context(
    kube_fleet: Fleet, now: datetime, probe: type[Probe]
) -> None:
    kube_fleet.eu.load(Cluster.of(healthy_shop(now).all()))
    kube_fleet.us.load(Cluster.of(healthy_shop(now).all()))
    run = run_probe(probe, config=fleet_config(kube_fleet, EU, DOWN, US))
    assert run.outcome.status is Status.WARNING, run.outcome
    assert [(f.kind, f.entity.name) for f in run.findings] == [("context_unchecked", DOWN)]
    assert kube_fleet.eu.paths() and kube_fleet.eu.paths() == kube_fleet.us.paths()


def test_one_context_configured_as_today_keeps_todays_names(kube_fleet: Fleet, now: datetime) -> None:
    staged = crashing_rollout(now)
    kube_fleet.eu.load(Cluster.of(staged.objects(), logs=staged.logs))
    config = {"kubernetes": {"kubeconfig": str(kube_fleet.kubeconfig), "context": EU}}
    [crash] = run_probe(PodsProbe, config=config).of_kind("crash_loop")
    assert crash.entity.name == "shop/checkout" and "context" not in crash.entity.attributes
    [listed] = run_probe(PodsProbe, config=fleet_config(kube_fleet, EU)).of_kind("crash_loop")
    # a list of contexts names by context even with one: adding a second keeps fingerprints
    assert listed.entity.name == "prod-eu/shop/checkout"
    assert listed.fingerprint != crash.fingerprint


def test_the_summary_links_failing_pods_to_their_service_within_one_cluster_only(
    kube_fleet: Fleet, now: datetime
) -> None:
    for server in (kube_fleet.eu, kube_fleet.us):
        server.load(crashing_behind_service(now))
    config = fleet_config(kube_fleet, EU, US)
    runs = [run_probe(PodsProbe, config=config), run_probe(ServicesProbe, config=config)]
    crash = {f.entity.attributes["context"]: f for f in runs[0].of_kind("crash_loop")}
    no_endpoints = {f.entity.attributes["context"]: f for f in runs[1].of_kind("service_no_ready_endpoints")}
    assert set(crash) == set(no_endpoints) == {EU, US}
    index = EntityIndex({})
    assert index.services_of(crash[EU]) == index.services_of(crash[US]) == {"checkout"}
    suspects = [
        s for s in summarize(report_of(runs, at=now)).suspects if s.rule == "failing_pods_behind_service"
    ]
    assert sorted((s.cause, s.supports) for s in suspects) == sorted(
        (crash[c].fingerprint, (no_endpoints[c].fingerprint,)) for c in (EU, US)
    )


def test_the_summary_links_a_node_to_the_pods_on_it_within_one_cluster_only(
    kube_fleet: Fleet, now: datetime
) -> None:
    week = now - timedelta(days=7)
    for server, pressure in (
        (kube_fleet.eu, {"MemoryPressure": now - timedelta(minutes=20)}),
        (kube_fleet.us, {}),
    ):
        staged = crashing_rollout(now)
        server.load(
            Cluster.of(staged.objects(), k.node("node-a", created=week, pressure=pressure), logs=staged.logs)
        )
    config = fleet_config(kube_fleet, EU, US)
    runs = [run_probe(NodesProbe, config=config), run_probe(PodsProbe, config=config)]
    [pressure] = runs[0].findings
    assert pressure.entity.name == "prod-eu/node-a"
    crash = {f.entity.attributes["context"]: f for f in runs[1].of_kind("crash_loop")}
    assert "node-a" in {p["node"] for p in crash[US].evidence.details["pods"]}  # the same node name
    suspects = [s for s in summarize(report_of(runs, at=now)).suspects if s.rule == "node_under_workloads"]
    assert [(s.cause, crash[US].fingerprint in s.supports) for s in suspects] == [
        (pressure.fingerprint, False)
    ]
    assert crash[EU].fingerprint in suspects[0].supports
