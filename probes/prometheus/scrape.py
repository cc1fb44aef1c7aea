"""``metrics.scrape``: scrape targets that are down or whose scrapes fail, per job, as of ``--at``.

Signals: the ``up`` series over the window (one range query, at most 240 points): a target whose
last ``up`` at ``at`` is 0 is down, since the start of its trailing run of zeros; a target up at
``at`` that failed at least ``failing_ratio`` (default 10 %) of the window's evaluations scrapes
intermittently. ``/api/v1/targets`` adds the current last error and scrape URL of the targets
it still knows as unhealthy, only when ``at`` is within 5 minutes of Prometheus' own clock
(``time()``): those errors are today's, not those of a past ``--at`` (the findings then say the
live errors were not used).

Per job: all targets down -> critical ``target_down``, some -> warning; intermittent failures
-> warning ``scrape_failing``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import Field

from diagnostics import (
    ChecklistItem,
    Entity,
    Finding,
    Measurement,
    Probe,
    ProbeContext,
    ProbeOptions,
    Severity,
)
from probes.prometheus.config import SECTION

if TYPE_CHECKING:
    from probes.prometheus.client import ScrapeTarget, SeriesGrid

UP_QUERY = "up"
LIVE_TOLERANCE = timedelta(minutes=5)
"""``at`` this close to Prometheus' now: the targets' current last errors describe it."""


class ScrapeOptions(ProbeOptions):
    """Settings of ``metrics.scrape``."""

    failing_ratio: float = Field(0.1, gt=0, le=1)
    """Share of failed scrapes in the window that makes a target that is up now 'failing'."""
    max_targets_listed: int = Field(20, ge=1)
    """Targets named per job in a finding at most."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetHealth:
    """One target's ``up`` history over the window."""

    job: str
    instance: str
    down_now: bool
    down_since: datetime | None
    down_since_before_window: bool
    failed_share: float
    last_error: str = ""
    scrape_url: str = ""


def target_health(grid: SeriesGrid) -> list[TargetHealth]:
    """Per target: down at the last point (since when) and the share of failed evaluations."""
    import numpy as np

    healths = []
    for row, labels in enumerate(grid.labels):
        values = grid.values[row]
        finite = np.isfinite(values)
        if not finite.any():
            continue
        last = int(np.flatnonzero(finite)[-1])
        down_now = last == len(values) - 1 and values[last] == 0
        since = None
        censored = False
        if down_now:
            up_points = np.flatnonzero(finite & (values != 0))
            first_down = int(up_points[-1]) + 1 if len(up_points) else int(np.flatnonzero(finite)[0])
            censored = first_down == 0
            since = datetime.fromtimestamp(float(grid.timestamps[first_down]), UTC)
        healths.append(
            TargetHealth(
                job=labels.get("job", ""),
                instance=labels.get("instance", ""),
                down_now=bool(down_now),
                down_since=since,
                down_since_before_window=censored,
                failed_share=float(np.mean(values[finite] == 0)),
            )
        )
    return healths


def with_errors(healths: Sequence[TargetHealth], targets: Sequence[ScrapeTarget]) -> list[TargetHealth]:
    """Attach the current last error of targets Prometheus still reports unhealthy."""
    from dataclasses import replace

    errors = {(t.job, t.instance): t for t in targets if t.health != "up" and t.last_error}
    return [
        replace(
            h,
            last_error=errors[(h.job, h.instance)].last_error,
            scrape_url=errors[(h.job, h.instance)].scrape_url,
        )
        if (h.job, h.instance) in errors
        else h
        for h in healths
    ]


def live_errors_apply(at: datetime, server_now: datetime, tolerance: timedelta = LIVE_TOLERANCE) -> bool:
    """Whether the targets' current last errors describe ``at`` (it is close to Prometheus' now)."""
    return abs(server_now - at) <= tolerance


def errors_not_used(at: datetime, server_now: datetime) -> str:
    """Why a diagnosis of a past ``at`` shows no scrape error."""
    hours = (server_now - at).total_seconds() / 3600
    ago = f"{hours:.1f} h before" if hours >= 0 else f"{-hours:.1f} h after"
    return (
        f"live scrape errors not used: --at is {ago} Prometheus' now "
        f"({server_now:%Y-%m-%d %H:%M}Z) and /api/v1/targets only knows the current errors"
    )


def scrape_findings(
    healths: Sequence[TargetHealth],
    ctx: ProbeContext,
    failing_ratio: float,
    listed: int,
    errors_note: str | None = None,
) -> list[Finding]:
    """One finding per job with down targets, one per job with intermittently failing ones.

    ``errors_note`` says why no live scrape error is attached (a past ``at``)."""
    by_job: dict[str, list[TargetHealth]] = {}
    for health in healths:
        by_job.setdefault(health.job, []).append(health)
    findings = []
    for job, members in sorted(by_job.items()):
        entity = Entity(kind="service", name=job, attributes={"job": job})
        down = sorted((h for h in members if h.down_now), key=lambda h: h.instance)
        if down:
            findings.append(_down_finding(ctx, entity, job, down, len(members), listed, errors_note))
        flaky = [h for h in members if not h.down_now and h.failed_share >= failing_ratio]
        if flaky:
            worst = max(h.failed_share for h in flaky)
            findings.append(
                ctx.finding(
                    kind="scrape_failing",
                    severity=Severity.WARNING,
                    title=f"Scrapes of job {job} failing intermittently: {len(flaky)} target{'s' if len(flaky) != 1 else ''} failed up to {worst * 100:.0f} % of the window",
                    entity=entity,
                    values=[
                        Measurement(name="flapping targets", value=len(flaky), unit="count"),
                        Measurement(name="worst failed share", value=round(worst, 4), unit="ratio"),
                    ],
                    queries=[f'avg_over_time(up{{job="{job}"}}[{int(ctx.window.total_seconds())}s])'],
                    details={
                        "targets": [_describe(h) for h in flaky[:listed]],
                        **({"errors_note": errors_note} if errors_note else {}),
                    },
                    next_steps=[f'Check the targets of job "{job}" on the Prometheus /targets page'],
                )
            )
    return findings


def _down_finding(
    ctx: ProbeContext,
    entity: Entity,
    job: str,
    down: list[TargetHealth],
    total: int,
    listed: int,
    errors_note: str | None,
) -> Finding:
    earliest = min((h.down_since for h in down if h.down_since), default=None)
    censored = any(h.down_since_before_window for h in down)
    since = ""
    if earliest is not None:
        since = (" before " if censored else " since ") + f"{earliest:%H:%M}Z"
    errors = sorted({h.last_error for h in down if h.last_error})
    reason = f" ({errors[0]})" if errors else ""
    instances = ", ".join(h.instance for h in down[:3]) + (
        f" and {len(down) - 3} more" if len(down) > 3 else ""
    )
    title = (
        f"All {total} target{'s' if total != 1 else ''} of job {job} down{since}: {instances}{reason}"
        if len(down) == total
        else f"{len(down)} of {total} targets of job {job} down{since}: {instances}{reason}"
    )
    return ctx.finding(
        kind="target_down",
        severity=Severity.CRITICAL if len(down) == total else Severity.WARNING,
        title=title,
        entity=entity,
        summary="Prometheus cannot scrape these targets: the service is down, unreachable, or its metrics endpoint fails.",
        values=[
            Measurement(name="targets down", value=len(down), unit="count"),
            Measurement(name="targets", value=total, unit="count"),
        ],
        queries=[f'up{{job="{job}"}} == 0'],
        details={
            "targets": [_describe(h) for h in down[:listed]],
            "errors": errors[:listed],
            **({"errors_note": errors_note} if errors_note else {}),
        },
        onset=earliest,
        next_steps=[
            f"curl -sS {down[0].scrape_url or down[0].instance}  # the scrape itself",
            f'Check the targets of job "{job}" on the Prometheus /targets page',
        ],
    )


def _describe(health: TargetHealth) -> Mapping[str, object]:
    return {
        "instance": health.instance,
        "down_since": health.down_since.isoformat().replace("+00:00", "Z") if health.down_since else None,
        "failed_share": round(health.failed_share, 4),
        "last_error": health.last_error or None,
        "scrape_url": health.scrape_url or None,
    }


class ScrapeProbe(Probe):
    id = "metrics.scrape"
    checklist_item = ChecklistItem.METRICS
    description = "Prometheus scrape targets down (up == 0) or failing, per job"
    options_model = ScrapeOptions
    backend_section = SECTION

    def run(self, ctx: ProbeContext[ScrapeOptions]) -> Iterable[Finding]:
        from probes.prometheus.client import PrometheusClient, nice_step

        options = ctx.options
        window = ctx.window.total_seconds()
        step = nice_step(window, 240)
        with PrometheusClient.from_context(ctx) as client:
            grid = client.query_range(UP_QUERY, ctx.at - ctx.window, ctx.at, step).grid()
            healths = target_health(grid)
            note = None
            if any(h.down_now or h.failed_share >= options.failing_ratio for h in healths):
                server_now = client.now()
                if live_errors_apply(ctx.at, server_now):
                    healths = with_errors(healths, client.targets())
                else:
                    note = errors_not_used(ctx.at, server_now)
        return scrape_findings(healths, ctx, options.failing_ratio, options.max_targets_listed, note)
