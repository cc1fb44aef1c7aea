"""The Python API for runbooks: ``diagnostics.run(...) -> Report``, as the CLI does it."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from diagnostics.config import ConfigInput, resolve_config
from diagnostics.errors import ConfigError
from diagnostics.model import Report
from diagnostics.plan import ProbePlan, plan_probes, run_settings, summary_settings
from diagnostics.redaction import environment_secrets
from diagnostics.registry import Registry, load_registry
from diagnostics.runner import ProgressListener, RunResult, run_plans
from diagnostics.summary.build import summarize
from diagnostics.summary.compare import compare_reports
from diagnostics.units import parse_duration, parse_time


@dataclass(frozen=True, slots=True, kw_only=True)
class Diagnosis:
    """A finished run: the report plus what the CLI needs to exit cleanly."""

    report: Report
    plans: tuple[ProbePlan, ...]
    abandoned_threads: int
    interrupted: bool


def diagnose(
    *,
    probes: Iterable[str] = (),
    config: ConfigInput = None,
    at: datetime | str | None = None,
    window: timedelta | str | None = None,
    timeout: float | str | timedelta | None = None,
    env: Mapping[str, str] | None = None,
    registry: Registry | None = None,
    listener: ProgressListener | None = None,
    baseline: Report | None = None,
    began: float | None = None,
) -> Diagnosis:
    """Plan and run the probes, then summarize; ``diag run`` is this plus rendering.

    With a ``baseline`` report the result also says which findings are new and resolved.
    The report's ``started_at`` and ``duration_s`` count from ``began`` (Unix time; ``diag``
    passes its process start, so start-up is included) or from this call, to the end of the
    summary: only rendering the report comes after.
    """
    began = time.time() if began is None else began
    environment = dict(os.environ if env is None else env)
    loaded = resolve_config(config, environment)
    reg = registry or load_registry()
    settings = run_settings(loaded)
    services, summary_options = summary_settings(loaded)
    now = datetime.now(UTC)
    try:
        moment = parse_time(at, now=now) if isinstance(at, str) else (at or now)
        span = parse_duration(window) if window is not None else settings.window
        deadline = parse_duration(timeout) if timeout is not None else settings.timeout
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if span.total_seconds() <= 0:
        raise ConfigError("the window must be longer than zero", key="--window")
    if deadline.total_seconds() <= 0:
        raise ConfigError("the timeout must be longer than zero", key="--timeout")
    plans = plan_probes(loaded, reg, selected=probes, env=environment)
    result: RunResult = run_plans(
        plans,
        at=moment.astimezone(UTC),
        window=span,
        timeout=deadline.total_seconds(),
        concurrency=settings.concurrency,
        redactor=loaded.redactor.with_secrets(environment_secrets(environment)),
        listener=listener,
    )
    planned = {p.probe_id for p in plans}
    report = Report(
        at=moment.astimezone(UTC),
        window=span,
        started_at=datetime.fromtimestamp(began, UTC),
        duration_s=0.0,
        probes=result.outcomes,
        findings=result.findings,
        not_selected=tuple(
            (probe_id, cls.checklist_item) for probe_id, cls in reg.probes.items() if probe_id not in planned
        ),
    )
    report = replace(
        report,
        summary=summarize(report, services=services, settings=summary_options),
        comparison=compare_reports(baseline, report) if baseline is not None else None,
    )
    report = replace(report, duration_s=max(0.0, time.time() - began))
    return Diagnosis(
        report=report,
        plans=tuple(plans),
        abandoned_threads=result.abandoned_threads,
        interrupted=result.interrupted,
    )


def run(
    *,
    probes: Iterable[str] = (),
    config: ConfigInput = None,
    at: datetime | str | None = None,
    window: timedelta | str | None = None,
    timeout: float | str | timedelta | None = None,
    env: Mapping[str, str] | None = None,
    baseline: Report | None = None,
) -> Report:
    """Run a diagnosis and return its report (same behaviour as ``diag run``).

    ``probes`` selects probe ids (all configured ones when empty); ``config`` is a path, a
    mapping shaped like the YAML file, or None to find the file as the CLI does.
    """
    return diagnose(
        probes=probes, config=config, at=at, window=window, timeout=timeout, env=env, baseline=baseline
    ).report
