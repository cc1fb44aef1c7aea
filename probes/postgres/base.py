"""What every ``db.*`` probe shares: the ``postgres`` section, one session per target, and
what happens when some targets cannot be checked."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable
from typing import Any

from diagnostics import ChecklistItem, Finding, Measurement, Probe, ProbeContext, ProbeError, Severity
from probes.postgres.config import SECTION, PostgresTarget, database_entity, server_label


class PostgresProbe(Probe):
    """Checks each configured database in turn with :meth:`check`."""

    checklist_item = ChecklistItem.DATABASE
    backend_section = SECTION

    def run(self, ctx: ProbeContext[Any]) -> Iterable[Finding]:
        targets: list[PostgresTarget] = list(ctx.backend or [])
        findings: list[Finding] = []
        failures: list[tuple[PostgresTarget, ProbeError]] = []
        for target in targets:
            try:
                findings += self.check(ctx, target, server_label(target.dsn))
            except ProbeError as exc:
                failures.append((target, exc))
        if failures and len(failures) == len(targets):
            target, error = failures[0]
            raise ProbeError(f"{target.name}: {error}", kind=error.kind) from None
        for target, error in failures:
            findings.append(unchecked_finding(ctx, target, error))
        return findings

    @abstractmethod
    def check(self, ctx: ProbeContext[Any], target: PostgresTarget, label: str) -> list[Finding]:
        """Open one session on ``target``, collect, judge."""


def unchecked_finding(ctx: ProbeContext, target: PostgresTarget, error: ProbeError) -> Finding:
    """When some databases could be checked and this one not, the run says so as a finding."""
    label = server_label(target.dsn)
    return ctx.finding(
        kind="database_unchecked",
        severity=Severity.WARNING,
        title=f"Could not check database {target.name}: {error}",
        entity=database_entity(target, label),
        values=[Measurement(name="error kind", value=error.kind.value)],
    )
