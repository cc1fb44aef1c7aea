"""``toggles.changes``: which feature flags changed shortly before or during the window.

Signals, per entry of the ``feature_flags`` section (see :mod:`probes.toggles.config`):

- Unleash: the admin event log (``/api/admin/search/events``, or ``/api/admin/events`` on older
  servers) and the feature API for each changed flag's description, tags and state;
- LaunchDarkly: the audit log (``/api/v2/auditlog`` with ``after``/``before`` and the spec
  ``proj/<p>:env/*:flag/*``), each entry's previous and current version, the flag API;
- flagd: the flag definition files against the state kept by the last run (``state_dir``),
  changes dated by the file's modification time.

Changes from ``lead`` (default 15 min) before the window to ``--at`` are judged by
:mod:`probes.toggles.judge_changes`: a change in the production environment is a warning, one
elsewhere is info; flags untouched in that range are not reported. A provider that cannot be
read ends the probe in an error when it is the only one, else becomes a ``flag_source_unreadable``
warning so the others' changes are kept.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from diagnostics import (
    ChecklistItem,
    Duration,
    Entity,
    ErrorKind,
    Finding,
    Probe,
    ProbeContext,
    ProbeError,
    ProbeOptions,
    ProbeSkipped,
    Severity,
)
from probes.toggles.config import SECTION, FlagProvider, describe_providers

if TYPE_CHECKING:
    from probes.toggles.flags import ProviderChanges
    from probes.toggles.judge_changes import FlagWindow


class ChangesOptions(ProbeOptions):
    """Settings of ``toggles.changes``."""

    timeout: Duration = timedelta(seconds=20)
    """The whole probe's deadline (every provider)."""
    lead: Duration = timedelta(minutes=15)
    """Changes this long before the window still count: a flag switched just before it."""
    max_changes: int = Field(500, ge=1, le=10_000)
    """Audit entries read per provider at most (newest first)."""
    state_dir: str | None = None
    """Where flagd file states are kept; default ``$XDG_STATE_HOME/diag/toggles``."""


class ChangesProbe(Probe):
    """Flag changes (on/off, rollout, variants, targeting, created/archived) per environment."""

    id = "toggles.changes"
    checklist_item = ChecklistItem.FEATURE_TOGGLES
    description = "Feature flag changes in the window (Unleash, LaunchDarkly, flagd): who, when, before → after, switch-off call"
    options_model = ChangesOptions
    backend_section = SECTION

    @classmethod
    def targets(cls, backend: Any) -> str:
        return describe_providers(backend)

    def run(self, ctx: ProbeContext[ChangesOptions]) -> Iterable[Finding]:
        """Read every provider's changes once, then judge each provider's."""
        from probes.toggles.judge_changes import FlagWindow, judge_changes

        options = ctx.options
        entries = [e for e in ctx.backend or () if isinstance(e, FlagProvider)]
        if not entries:
            raise ProbeSkipped("no entry in the feature_flags section", hint=SECTION.setup_hint)
        _check_unique_names(entries)
        window = FlagWindow(start=ctx.start, at=ctx.at, lead=options.lead)
        findings: list[Finding] = []
        failures: list[tuple[FlagProvider, ProbeError]] = []
        for entry in entries:
            try:
                read = _read(entry, ctx, options, window)
            except ProbeError as exc:
                failures.append((entry, exc))
                continue
            findings += judge_changes(read, entry, window=window, make=ctx.finding)
        if failures and len(failures) == len(entries):
            raise ProbeError("; ".join(str(e) for _, e in failures), kind=failures[0][1].kind)
        findings += [_unreadable(entry, error, ctx) for entry, error in failures]
        return findings


def _check_unique_names(entries: list[FlagProvider]) -> None:
    seen: set[str] = set()
    for entry in entries:
        if entry.name in seen:
            raise ProbeError(
                f"feature_flags: two entries are named {entry.name!r}; names must be unique",
                kind=ErrorKind.CONFIG,
            )
        seen.add(entry.name)


def _read(
    entry: FlagProvider, ctx: ProbeContext, options: ChangesOptions, window: FlagWindow
) -> ProviderChanges:
    since, until = window.start - window.lead, window.at
    if entry.unleash is not None:
        from probes.toggles.unleash import read_unleash

        return read_unleash(entry, ctx=ctx, since=since, until=until, max_changes=options.max_changes)
    if entry.launchdarkly is not None:
        from probes.toggles.launchdarkly import read_launchdarkly

        return read_launchdarkly(entry, ctx=ctx, since=since, until=until, max_changes=options.max_changes)
    from probes.toggles.flagd import default_state_dir, read_flagd

    state_dir = Path(options.state_dir).expanduser() if options.state_dir else default_state_dir(os.environ)
    return read_flagd(entry, state_dir=state_dir, now=ctx.at)


def _unreadable(entry: FlagProvider, error: ProbeError, ctx: ProbeContext) -> Finding:
    return ctx.finding(
        kind="flag_source_unreadable",
        severity=Severity.WARNING,
        title=f"Feature flag source {entry.name} ({entry.kind}) could not be read: {error.kind.value}",
        summary=str(error),
        entity=Entity(kind="flag_source", name=entry.name, attributes={"provider": entry.kind}),
        details={"error": str(error), "error_kind": error.kind.value},
    )
