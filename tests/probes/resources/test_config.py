"""Configuration of the resource probes: validated at load, errors naming the key."""

from __future__ import annotations

from typing import Any

import pytest

from diagnostics import ConfigError
from diagnostics.testing import run_probe
from probes.resources.config import thresholds
from probes.resources.containers import ContainerOptions, ContainerResourcesProbe
from probes.resources.judge_containers import ContainerThresholds
from probes.resources.judge_nodes import NodeThresholds
from probes.resources.nodes import NodeOptions, NodeResourcesProbe

PROMETHEUS = {"prometheus": {"url": "http://127.0.0.1:9"}}


@pytest.mark.parametrize(
    ("probe", "options", "message"),
    [
        (
            NodeResourcesProbe,
            {"load_per_core_warnin": 2},
            "resources.nodes.load_per_core_warnin: unknown key",
        ),
        (
            NodeResourcesProbe,
            {"load_per_core_warning": 4},
            "load_per_core_warning must be at most load_per_core_critical",
        ),
        (NodeResourcesProbe, {"memory_available_critical": 0.2}, "memory_available_warning must be at least"),
        (
            NodeResourcesProbe,
            {"time_to_full_critical": "2d"},
            "time_to_full_warning must be at least time_to_full_critical",
        ),
        (
            NodeResourcesProbe,
            {"selector": "job=node"},
            'resources.nodes.selector: expected PromQL label matchers such as job="node"',
        ),
        (NodeResourcesProbe, {"disk_used_warning": 1.5}, "resources.nodes.disk_used_warning"),
        (NodeResourcesProbe, {"trend": "soon"}, "resources.nodes.trend"),
        (
            ContainerResourcesProbe,
            {"throttling_warning": 0.8},
            "throttling_warning must be at most throttling_critical",
        ),
        (ContainerResourcesProbe, {"selector": 'namespace="shop"} or up{'}, "resources.containers.selector"),
        (
            ContainerResourcesProbe,
            {"kube_state_selector": "job=kube-state-metrics"},
            'resources.containers.kube_state_selector: expected PromQL label matchers such as job="node"',
        ),
        (
            NodeResourcesProbe,
            {"network_selector": 'device="eth0"} or vector(1'},
            "resources.nodes.network_selector: expected PromQL label matchers",
        ),
    ],
)
def test_bad_options_are_refused_naming_the_key(probe: Any, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        run_probe(probe, config=PROMETHEUS, options=options)


def test_options_reach_the_judge_with_durations_in_seconds() -> None:
    options = NodeOptions(time_to_full_critical="90m", load_per_core_critical=5, selector='job="node"')
    limits = thresholds(options, NodeThresholds)
    assert limits.time_to_full_critical_s == 5400
    assert limits.time_to_full_warning_s == 86400
    assert limits.load_per_core_critical == 5
    containers = thresholds(ContainerOptions(restarts_critical=3), ContainerThresholds)
    assert containers == ContainerThresholds(restarts_critical=3)


def test_the_default_options_match_the_judges_defaults() -> None:
    assert thresholds(NodeOptions(), NodeThresholds) == NodeThresholds()
    assert thresholds(ContainerOptions(), ContainerThresholds) == ContainerThresholds()


def test_without_a_prometheus_section_the_probes_are_skipped_with_its_setup_line() -> None:
    for probe in (NodeResourcesProbe, ContainerResourcesProbe):
        run = run_probe(probe, config={})
        assert run.outcome.status.value == "skipped"
        assert run.outcome.hint is not None and "PROMETHEUS_URL" in run.outcome.hint
