"""Judging flag changes: which flags changed shortly before or during the window, and where.

Pure functions over :class:`~probes.toggles.flags.ProviderChanges`. One finding per flag and
environment changed in ``[start - lead, at]``, dated by its latest change (the onset):

- ``flag_change``, warning: a change in the production environment (or to every environment:
  archived, revived), except a flag created without being switched on;
- ``flag_change``, info: a change in another environment only, or a flag created.

Its evidence: who, when, before -> after for each change, the flag's description and tags, the
services it belongs to (``services`` mapping, tags ``service:<name>``); next steps: the call that
switches the flag off there (or back on, when switching it off was the change) and its UI page.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from diagnostics import Entity, Finding, Measurement, Severity
from diagnostics.units import format_duration, isoformat
from probes.toggles.actions import switch_command, ui_link
from probes.toggles.config import FlagProvider
from probes.toggles.flags import ChangeKind, FlagChange, FlagInfo, ProviderChanges

SERVICE_TAG_TYPES = ("service", "app", "component")
"""Tag types (``type:value``) whose value names the service a flag belongs to."""
GLOBAL = "all environments"
MakeFinding = Callable[..., Finding]
QUIET_KINDS = frozenset({ChangeKind.CREATED})
"""Changes that alone do not alter what production users get."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FlagWindow:
    """The range of changes reported: the window and a short lead before it."""

    start: datetime
    at: datetime
    lead: timedelta

    def covers(self, moment: datetime) -> bool:
        return self.start - self.lead <= moment <= self.at


def services_of(entry: FlagProvider, flag: FlagInfo) -> list[str]:
    """The services a flag belongs to: the entry's ``services`` mapping, then service tags."""
    found = list(entry.services_of(flag.name))
    for tag in flag.tags:
        kind, _, value = tag.partition(":")
        if value and kind.lower() in SERVICE_TAG_TYPES:
            found.append(value)
    return list(dict.fromkeys(found))


def _recorded_order(change: FlagChange) -> tuple[datetime, int, str]:
    """Time, then the provider's event id: changes recorded in the same second keep their order."""
    number = int(change.event_id) if change.event_id.isdigit() else 0
    return change.at, number, change.event_id


def judge_changes(
    read: ProviderChanges, entry: FlagProvider, *, window: FlagWindow, make: MakeFinding
) -> list[Finding]:
    """One finding per flag and environment changed in the window (with its lead)."""
    groups: dict[tuple[str, str | None], list[FlagChange]] = defaultdict(list)
    for change in read.changes:
        if window.covers(change.at):
            groups[(change.flag, change.environment)].append(change)
    findings = [
        _finding(read, entry, flag, environment, sorted(changes, key=_recorded_order), window, make)
        for (flag, environment), changes in groups.items()
    ]
    findings.sort(key=lambda f: (f.onset or window.at, f.entity.name))
    if read.truncated:
        findings.append(_truncated(read, window, make))
    return findings


def _truncated(read: ProviderChanges, window: FlagWindow, make: MakeFinding) -> Finding:
    oldest = min((c.at for c in read.changes), default=window.at)
    return make(
        kind="flag_changes_truncated",
        severity=Severity.INFO,
        title=f"Only the newest {len(read.changes)} flag changes of {read.source} were read (back to {isoformat(oldest)})",
        summary=(
            f"{read.source} has more changes since {isoformat(window.start - window.lead)} than "
            "max_changes allows; older ones in the window are not judged."
        ),
        entity=Entity(kind="flag_source", name=read.source, attributes={"provider": read.provider}),
        values=[Measurement(name="changes read", value=len(read.changes), unit="count")],
        queries=read.queries,
    )


def _origin(read: ProviderChanges) -> str:
    return read.provider if read.source == read.provider else f"{read.provider} entry {read.source}"


def _ago(lead: timedelta) -> str:
    """Seconds under two minutes, whole minutes above: the title's precision."""
    if lead < timedelta(minutes=2):
        return format_duration(timedelta(seconds=round(lead.total_seconds())))
    return format_duration(timedelta(minutes=int(lead.total_seconds() // 60)))


def _is_production(read: ProviderChanges, environment: str | None) -> bool:
    return environment is None or environment == read.production


def _describe(change: FlagChange) -> str:
    """``switched on``, ``rollout changed: 10% → 50%``, ``archived (flag removed from the file)``."""
    shown = change.kind.words
    if change.kind in (ChangeKind.SWITCHED_ON, ChangeKind.SWITCHED_OFF):
        return shown
    if change.before is not None or change.after is not None:
        return f"{shown}: {change.before or '—'} → {change.after or '—'}"
    return f"{shown} ({change.detail})" if change.detail else shown


def _finding(
    read: ProviderChanges,
    entry: FlagProvider,
    flag_name: str,
    environment: str | None,
    changes: Sequence[FlagChange],
    window: FlagWindow,
    make: MakeFinding,
) -> Finding:
    latest = changes[-1]
    flag = read.flags.get(flag_name) or FlagInfo(name=flag_name, project=latest.project)
    production = _is_production(read, environment)
    behaviour = [c for c in changes if c.kind not in QUIET_KINDS]
    severity = Severity.WARNING if production and behaviour else Severity.INFO
    where = environment or GLOBAL
    author = latest.author or "unknown author"
    lead = window.at - latest.at
    title = f"Flag {flag_name} {_describe(latest)} in {where} {_ago(lead)} ago by {author}"
    if len(changes) > 1:
        title += f" (+{len(changes) - 1} earlier change{'s' if len(changes) > 2 else ''})"
    services = services_of(entry, flag)
    description = f" {flag.description.strip()}." if flag.description.strip() else ""
    production_note = (
        "This is the production environment."
        if environment == read.production
        else "It applies to every environment."
        if environment is None
        else f"Not a production change (production is {read.production})."
    )
    target_environment = environment or read.production
    steps = _next_steps(entry, flag, target_environment, latest)
    return make(
        kind="flag_change",
        severity=severity,
        title=title,
        entity=Entity(
            kind="feature_flag",
            name=flag_name,
            attributes={
                k: v
                for k, v in {
                    "provider": read.source,
                    "environment": where,
                    "project": flag.project or latest.project or "",
                    "service": ",".join(services),
                }.items()
                if v
            },
        ),
        summary=(
            f"{len(changes)} change{'s' if len(changes) != 1 else ''} to flag {flag_name} ({_origin(read)}) in {where} since {isoformat(window.start - window.lead)}; the latest at "
            f"{isoformat(latest.at)} by {author}. {production_note}{description}"
        ),
        values=[
            Measurement(name="changes", value=len(changes), unit="count"),
            Measurement(name="since latest change", value=round(lead.total_seconds()), unit="s"),
        ],
        queries=_queries_about(read, flag_name, changes),
        details={
            "provider": read.provider,
            "source": read.source,
            "flag": flag_name,
            "project": flag.project or latest.project,
            "environment": where,
            "production": environment == read.production or environment is None,
            "description": flag.description,
            "tags": list(flag.tags),
            "services": services,
            "on_in_production_now": flag.on_in_production,
            "archived_now": flag.archived,
            "changes": [_change_details(c) for c in changes],
            "containment": _containment(steps, latest),
            "ui": ui_link(entry, flag, target_environment),
        },
        onset=latest.at,
        next_steps=steps,
        key=where,
    )


def _queries_about(read: ProviderChanges, flag: str, changes: Sequence[FlagChange]) -> list[str]:
    """The listing calls, and the per-flag or per-entry calls about this flag only."""
    others = set(read.flags) - {flag}
    own_entries = {c.event_id for c in changes if c.event_id}
    kept = []
    for query in read.queries:
        segments = query.split("?")[0].split("/")
        if "auditlog" in segments[:-1]:  # one audit entry: keep this flag's own
            if segments[-1] in own_entries:
                kept.append(query)
        elif flag in segments or not others.intersection(segments):
            kept.append(query)
    return kept


def _change_details(change: FlagChange) -> Mapping[str, object]:
    return {
        "at": isoformat(change.at),
        "kind": change.kind.value,
        "author": change.author,
        "before": change.before,
        "after": change.after,
        "detail": change.detail,
        "event": change.event_id or None,
    }


def _containment(steps: Sequence[str], latest: FlagChange) -> Mapping[str, str] | None:
    """The command that contains the change: switch the flag off, or back on if that was the change."""
    if not steps or steps[0].startswith("open "):
        return None
    return {"switches": "on" if latest.kind is ChangeKind.SWITCHED_OFF else "off", "command": steps[0]}


def _next_steps(entry: FlagProvider, flag: FlagInfo, environment: str, latest: FlagChange) -> list[str]:
    steps = []
    if latest.kind is ChangeKind.SWITCHED_OFF:
        variant = latest.before if latest.detail == "defaultVariant" else None
        steps.append(switch_command(entry, flag, environment, on=True, variant=variant))
    elif latest.kind is not ChangeKind.ARCHIVED:
        steps.append(switch_command(entry, flag, environment))
    link = ui_link(entry, flag, environment)
    if link:
        steps.append(f"open {link}")
    return steps
