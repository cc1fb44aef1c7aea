"""Helpers for testing probes, ours and third-party: run one probe through the real pipeline.

    from diagnostics.testing import run_probe

    result = run_probe(LocksProbe, config={"postgres": [{"name": "orders", "dsn": dsn}]})
    assert result.outcome.status is Status.CRITICAL
    assert result.findings[0].entity.name == "orders"

The configuration goes through the same validation, planning, runner and redaction as
``diag run``; only the probe set is limited to the class given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from diagnostics.api import diagnose
from diagnostics.contract import Probe
from diagnostics.model import Finding, ProbeOutcome, Report, Severity
from diagnostics.registry import Registry, validate_probe_class


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeRun:
    """The outcome and findings of one probe run."""

    outcome: ProbeOutcome
    findings: tuple[Finding, ...]
    report: Report

    def of_kind(self, kind: str) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]

    def at_least(self, severity: Severity) -> list[Finding]:
        return [f for f in self.findings if f.severity >= severity]


def run_probe(
    probe_class: type[Probe],
    *,
    config: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    at: datetime | str | None = None,
    window: timedelta | str = "1h",
    timeout: float = 30.0,
    env: Mapping[str, str] | None = None,
) -> ProbeRun:
    """Run ``probe_class`` alone with ``config`` (YAML-shaped) and ``options`` (its probes.<id>)."""
    validate_probe_class(probe_class.id, probe_class)
    data: dict[str, Any] = dict(config or {})
    if options is not None:
        data.setdefault("probes", {})[probe_class.id] = dict(options)
    registry = Registry(probes={probe_class.id: probe_class}, broken={})
    diagnosis = diagnose(
        probes=[probe_class.id],
        config=data,
        at=at,
        window=window,
        timeout=timeout,
        env=env if env is not None else {},
        registry=registry,
    )
    report = diagnosis.report
    return ProbeRun(outcome=report.probes[0], findings=report.findings, report=report)
