"""``deps.statuspage``: does a provider declare trouble on its (Atlassian Statuspage) status page?

Signals, per ``statuspage`` entry of the ``dependencies`` section, from one
``GET <base>/api/v2/summary.json`` (timeout ``request_timeout``, default 5s):

- ``statuspage_degraded``: ``status.indicator`` minor (warning), major or critical (critical),
  maintenance (info).
- ``statuspage_component``: leaf components not operational: major_outage (critical),
  partial_outage or degraded_performance (warning), under_maintenance (info).
- ``statuspage_incident``: unresolved incidents with their titles and start times; severity by
  impact: major or critical (critical), minor (warning), none (info). Onset: the earliest start.

A page that cannot be read (unreachable, HTTP error, not JSON, another provider's schema) is
an error naming why when no page could be read, else a ``statuspage_unreadable`` warning so
the other providers' findings are kept. With no ``statuspage`` entry this probe finds nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pydantic import Field

from diagnostics import (
    ChecklistItem,
    Duration,
    ErrorKind,
    Finding,
    Probe,
    ProbeContext,
    ProbeError,
    ProbeOptions,
)
from probes.dependencies.config import (
    KIND_HINTS,
    SECTION,
    Dependency,
    describe_entries,
    entries_to_check,
)

if TYPE_CHECKING:
    from probes.dependencies.client_statuspage import StatuspageTarget
    from probes.dependencies.environment import TransportEnvironment


class StatuspageOptions(ProbeOptions):
    """Settings of ``deps.statuspage``."""

    timeout: Duration = timedelta(seconds=15)
    """The whole probe's deadline."""
    concurrency: int = Field(8, ge=1, le=64)
    """Status pages fetched at once at most."""
    request_timeout: Duration = timedelta(seconds=5)
    """One request's time limit."""
    max_body_bytes: int = Field(5 * 1024 * 1024, ge=1024)
    """Bytes of a summary.json read at most; a larger one is an error."""
    user_agent: str = "diag (deps.statuspage)"
    """The User-Agent header sent."""


class StatuspageProbe(Probe):
    id = "deps.statuspage"
    checklist_item = ChecklistItem.DEPENDENCIES
    description = "Providers' status pages (Statuspage summary.json): indicator, components, incidents"
    options_model = StatuspageOptions
    backend_section = SECTION

    setup_hint = KIND_HINTS["statuspage"]

    @classmethod
    def targets(cls, backend: Any) -> str:
        return describe_entries(backend, "statuspage")

    def run(self, ctx: ProbeContext[StatuspageOptions]) -> Iterable[Finding]:
        from probes.dependencies.client_statuspage import fetch_statuspage
        from probes.dependencies.environment import read_environment
        from probes.dependencies.judge_statuspage import judge_statuspage, judge_unreadable
        from probes.dependencies.pool import checks_deadline, run_bounded

        options = ctx.options
        entries = entries_to_check(ctx, "statuspage")
        environment = read_environment()
        targets = [statuspage_target(entry, options, environment) for entry in entries]
        deadline, wait_until = checks_deadline(ctx)
        checks = run_bounded(
            targets,
            lambda target: fetch_statuspage(target, deadline=deadline),
            concurrency=options.concurrency,
            deadline=deadline,
            wait_until=wait_until,
            name="diag-deps-statuspage",
        )
        read = [c for c in checks if c is not None and c.summary is not None]
        failed = [c for c in checks if c is not None and c.summary is None]
        if not read:
            if failed:
                raise ProbeError(
                    "; ".join(c.error or "?" for c in failed), kind=failed[0].error_kind or ErrorKind.PROTOCOL
                )
            raise ProbeError("no status page answered before the deadline", kind=ErrorKind.TIMEOUT)
        findings: list[Finding] = []
        for check in read:
            findings += judge_statuspage(check, at=ctx.at, make=ctx.finding)
        findings += [judge_unreadable(check, at=ctx.at, make=ctx.finding) for check in failed]
        unanswered = [t.name for t, c in zip(targets, checks, strict=True) if c is None]
        if unanswered:
            from probes.dependencies.attempts import not_checked

            findings.append(
                not_checked(
                    unanswered,
                    probe_id=self.id,
                    timeout_s=options.timeout.total_seconds(),
                    make=ctx.finding,
                    at=ctx.at,
                )
            )
        return findings


def statuspage_target(
    entry: Dependency, options: StatuspageOptions, environment: TransportEnvironment
) -> StatuspageTarget:
    from probes.dependencies.client_statuspage import StatuspageTarget
    from probes.dependencies.environment import proxies_for, verify_setting

    assert entry.statuspage is not None
    return StatuspageTarget(
        name=entry.name,
        entity=entry.entity(),
        base_url=entry.statuspage,
        headers=dict(entry.headers),
        timeout_s=(entry.timeout or options.request_timeout).total_seconds(),
        verify=verify_setting(
            verify_tls=entry.verify_tls, ca_bundle=entry.ca_bundle, environment=environment
        ),
        proxies=proxies_for(entry.statuspage, environment),
        max_body_bytes=options.max_body_bytes,
        user_agent=options.user_agent,
    )
