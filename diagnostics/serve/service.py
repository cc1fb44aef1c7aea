"""Putting ``diag serve`` together from a configuration: schedule, runner, cache and server."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from http.server import ThreadingHTTPServer
from typing import Any

from diagnostics.config import Config, ConfigInput, resolve_config
from diagnostics.model import Report
from diagnostics.plan import plan_probes, run_settings, summary_settings, validate_section
from diagnostics.redaction import environment_secrets
from diagnostics.registry import Registry, load_registry
from diagnostics.serve.config import ServeSettings
from diagnostics.serve.schedule import ProbeRuns, Schedule, Sweeper
from diagnostics.serve.server import ServeApp, make_server
from diagnostics.serve.state import LatestResults


def serve_settings(config: Config, overrides: Mapping[str, Any] | None = None) -> ServeSettings:
    """The validated ``serve`` section, with command-line values laid over it."""
    raw = dict(config.section("serve") or {})
    raw.update({k: v for k, v in (overrides or {}).items() if v is not None})
    settings: ServeSettings = validate_section(config, ("serve",), ServeSettings, raw)
    return settings


@dataclass(slots=True)
class Service:
    """A configured, not yet started ``diag serve``."""

    settings: ServeSettings
    probe_ids: list[str]
    latest: LatestResults
    runs: ProbeRuns
    sweeper: Sweeper
    server: ThreadingHTTPServer

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        """Start the sweeper (every probe runs at once) and leave serving to the caller."""
        self.sweeper.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.sweeper.stop()


def build_service(
    config: ConfigInput,
    *,
    env: Mapping[str, str] | None = None,
    registry: Registry | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Service:
    """Validate everything (errors are ConfigError, exit 3) and bind the server."""
    from diagnostics.api import diagnose
    from diagnostics.report import render
    from diagnostics.summary.build import summarize

    environment = dict(os.environ if env is None else env)
    loaded = resolve_config(config, environment)
    registry = registry or load_registry()
    settings = serve_settings(loaded, overrides)
    unknown = sorted(set(settings.intervals) - set(registry.probes))
    if unknown:
        raise loaded.error(("serve", "intervals", unknown[0]), "unknown probe id")
    plans = plan_probes(loaded, registry, env=environment)
    probe_ids = [plan.probe_id for plan in plans if plan.runnable]
    services, summary_options = summary_settings(loaded)
    deadline = run_settings(loaded).timeout
    redactor = loaded.redactor.with_secrets(environment_secrets(environment))
    source: ConfigInput = loaded.source if loaded.source and not isinstance(config, Mapping) else config

    def run_probes(ids: Sequence[str]) -> Report:
        return diagnose(probes=ids, config=source, env=environment, registry=registry).report

    def with_summary(report: Report) -> Report:
        return replace(report, summary=summarize(report, services=services, settings=summary_options))

    latest = LatestResults(summarize=with_summary)
    runs = ProbeRuns(run_probes, latest)
    app = ServeApp(
        latest=latest,
        runs=runs,
        probe_ids=probe_ids,
        settings=settings,
        render_report=lambda report, fmt: render(report, fmt, color=False),  # type: ignore[arg-type]
        redact=redactor,
        probe_wait=deadline.total_seconds() + 5.0,
    )
    schedule = Schedule(probe_ids, settings.every, settings.intervals, start=time.monotonic())
    sweeper = Sweeper(schedule, runs, time.monotonic)
    server = make_server(app, settings)
    return Service(
        settings=settings, probe_ids=probe_ids, latest=latest, runs=runs, sweeper=sweeper, server=server
    )


def every_seconds(value: timedelta) -> float:
    return value.total_seconds()
