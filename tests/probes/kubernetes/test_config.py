"""The ``kubernetes`` section: validation and discovery from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from diagnostics import ConfigError
from diagnostics.api import diagnose
from diagnostics.registry import Registry
from probes.kubernetes.config import KubernetesSettings, from_environment
from probes.kubernetes.pods import PodsProbe


def _plan(config: dict) -> None:
    diagnose(
        probes=["workloads.pods"],
        config=config,
        env={},
        registry=Registry(probes={"workloads.pods": PodsProbe}, broken={}),
        timeout=0.5,
    )


def test_defaults() -> None:
    settings = KubernetesSettings()
    assert settings.namespaces == () and settings.label_selector is None
    assert settings.request_timeout.total_seconds() == 5 and settings.page_size == 500


def test_an_unknown_key_is_named_in_the_error() -> None:
    with pytest.raises(ConfigError, match=r"kubernetes\.namespace.*did you mean 'namespaces'"):
        _plan({"kubernetes": {"namespace": "shop"}})


def test_in_cluster_cannot_be_combined_with_a_context() -> None:
    with pytest.raises(ConfigError, match="in_cluster: true cannot be combined"):
        _plan({"kubernetes": {"in_cluster": True, "context": "prod-eu"}})


def test_namespaces_must_be_namespace_names() -> None:
    with pytest.raises(ConfigError, match=r"kubernetes\.namespaces.*'Shop_1' is not a namespace name"):
        _plan({"kubernetes": {"namespaces": ["shop", "Shop_1"]}})


def test_from_environment_uses_kubeconfig_then_home(tmp_path: Path) -> None:
    assert from_environment({"HOME": str(tmp_path)}) is None
    config = tmp_path / ".kube" / "config"
    config.parent.mkdir()
    config.write_text("apiVersion: v1\n")
    assert from_environment({"HOME": str(tmp_path)}) == {"kubeconfig": str(config)}
    other = tmp_path / "other"
    other.write_text("apiVersion: v1\n")
    listed = f"{tmp_path / 'missing'}:{other}"
    assert from_environment({"HOME": str(tmp_path), "KUBECONFIG": listed}) == {"kubeconfig": listed}


def test_without_any_kubeconfig_the_probes_are_skipped_with_a_hint(tmp_path: Path) -> None:
    report = diagnose(
        probes=["workloads.pods"],
        config={},
        env={"HOME": str(tmp_path)},
        registry=Registry(probes={"workloads.pods": PodsProbe}, broken={}),
    ).report
    [outcome] = report.probes
    assert outcome.status.value == "skipped"
    assert outcome.hint is not None and outcome.hint.startswith("kubernetes:")


def test_contexts_cannot_be_combined_with_context_or_in_cluster() -> None:
    for other in ({"context": "prod-eu"}, {"in_cluster": True}):
        with pytest.raises(ConfigError, match="contexts cannot be combined with context or in_cluster"):
            _plan({"kubernetes": {"contexts": ["prod-eu", "prod-us"], **other}})


def test_contexts_are_listed_once_each_and_split_into_one_settings_per_context() -> None:
    settings = KubernetesSettings(contexts=("prod-eu", "prod-us", "prod-eu"), namespaces=("shop",))
    assert settings.contexts == ("prod-eu", "prod-us")
    each = settings.per_context()
    assert [(s.context, s.contexts, s.namespaces) for s in each] == [
        ("prod-eu", (), ("shop",)),
        ("prod-us", (), ("shop",)),
    ]
    assert KubernetesSettings(context="prod-eu").per_context() == (KubernetesSettings(context="prod-eu"),)
    assert PodsProbe.targets(settings) == "2 contexts: prod-eu, prod-us"
    with pytest.raises(ValueError, match="a context name cannot be empty"):
        KubernetesSettings(contexts=("prod-eu", " "))
