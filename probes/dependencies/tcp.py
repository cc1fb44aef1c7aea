"""``deps.tcp``: do the plain ``host:port`` dependencies accept connections, and how fast?

Signals, per ``tcp`` entry of the ``dependencies`` section, over ``attempts`` (default 3)
connects with a timeout each (default 3s):

- ``dns_failure``, ``tcp_refused``, ``tcp_timeout``, ``tcp_error`` (unreachable, reset...):
  more than half of the attempts failed: critical; fewer: warning.
- ``tcp_latency``: median connect time (resolution included) >= ``latency_warning`` (default
  300ms) or ``latency_critical`` (default 1s); one attempt above critical: warning.

Nothing is sent: the connection is closed once established. Checks run on at most
``concurrency`` (default 32) threads. The check observes the present: no ``onset``, ``seen_at`` = ``--at`` ("seen now").
With no ``tcp`` entry this probe finds nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pydantic import Field

from diagnostics import ChecklistItem, Duration, Finding, Probe, ProbeContext, ProbeOptions
from probes.dependencies.config import (
    KIND_HINTS,
    SECTION,
    Dependency,
    describe_entries,
    entries_to_check,
    parse_address,
)

if TYPE_CHECKING:
    from probes.dependencies.client_tcp import TcpTarget


class TcpOptions(ProbeOptions):
    """Defaults of ``deps.tcp``; each entry may override attempts, timeout and latency."""

    timeout: Duration = timedelta(seconds=15)
    """The whole probe's deadline (every attempt of every entry)."""
    concurrency: int = Field(32, ge=1, le=256)
    """Connections attempted at once at most."""
    attempts: int = Field(3, ge=1, le=10)
    """Connects per dependency; the findings say how many failed."""
    connect_timeout: Duration = timedelta(seconds=3)
    """One connect's time limit."""
    latency_warning: Duration = timedelta(milliseconds=300)
    """A median connect time this slow is a warning."""
    latency_critical: Duration = timedelta(seconds=1)
    """A median connect time this slow is critical."""


class TcpProbe(Probe):
    id = "deps.tcp"
    checklist_item = ChecklistItem.DEPENDENCIES
    description = "TCP dependencies (host:port): connect failures and connect time"
    options_model = TcpOptions
    backend_section = SECTION

    setup_hint = KIND_HINTS["tcp"]

    @classmethod
    def targets(cls, backend: Any) -> str:
        return describe_entries(backend, "tcp")

    def run(self, ctx: ProbeContext[TcpOptions]) -> Iterable[Finding]:
        from probes.dependencies.attempts import not_checked
        from probes.dependencies.client_tcp import TcpCheck, attempt_tcp
        from probes.dependencies.judge_tcp import judge_tcp
        from probes.dependencies.pool import checks_deadline, sweep_attempts

        options = ctx.options
        entries = entries_to_check(ctx, "tcp")
        targets = [tcp_target(entry, options) for entry in entries]
        deadline, wait_until = checks_deadline(ctx)
        made = sweep_attempts(
            targets,
            lambda target, _: attempt_tcp(target, deadline=deadline),
            attempts=lambda target: target.attempts,
            concurrency=options.concurrency,
            deadline=deadline,
            wait_until=wait_until,
            name="diag-deps-tcp",
        )
        findings: list[Finding] = []
        unchecked = []
        for target, attempts in zip(targets, made, strict=True):
            if not attempts:
                unchecked.append(target.name)
                continue
            findings += judge_tcp(
                TcpCheck(target=target, attempts=tuple(attempts)), at=ctx.at, make=ctx.finding
            )
        if unchecked:
            findings.append(
                not_checked(
                    unchecked,
                    probe_id=self.id,
                    timeout_s=options.timeout.total_seconds(),
                    make=ctx.finding,
                    at=ctx.at,
                )
            )
        return findings


def tcp_target(entry: Dependency, options: TcpOptions) -> TcpTarget:
    from probes.dependencies.client_tcp import TcpTarget

    assert entry.tcp is not None
    address = parse_address(entry.tcp)
    return TcpTarget(
        name=entry.name,
        entity=entry.entity(),
        host=address.host,
        port=address.port,
        attempts=entry.attempts or options.attempts,
        timeout_s=(entry.timeout or options.connect_timeout).total_seconds(),
        latency_warning_s=(entry.latency_warning or options.latency_warning).total_seconds(),
        latency_critical_s=(entry.latency_critical or options.latency_critical).total_seconds(),
    )
