"""Unleash: flag changes from the admin event log, flags' current state from the feature API.

Calls (admin API, ``Authorization: <token>``; read access suffices):

- ``GET /api/admin/search/events?project=IS_ANY_OF:<projects>&type=IS_ANY_OF:<types>
  &from=IS:<day>&to=IS:<day>&limit=<n>&offset=<k>`` (Unleash 6.x; newest first, paged until
  ``since`` or ``max_changes``); on servers without it (404),
  ``GET /api/admin/events?project=<p>`` per project;
- ``GET /api/admin/projects/<p>/features/<flag>`` and ``GET /api/admin/features/<flag>/tags``
  once per changed flag: description, tags, enabled in production now (404: archived).

Event types read: ``feature-environment-enabled/disabled`` (switched on/off),
``feature-strategy-add/update/remove`` (rollout percentage or strategy; constraints and
segments are targeting), ``feature-environment-variants-updated``/``feature-variants-updated``,
``feature-created``, ``feature-archived``, ``feature-revived``, ``feature-deleted``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from diagnostics import ErrorKind, ProbeContext, ProbeError
from probes.toggles.config import FlagProvider, UnleashSource
from probes.toggles.flags import ChangeKind, FlagChange, FlagInfo, ProviderChanges
from probes.toggles.http import JsonApi

PAGE_SIZE = 200
STRATEGY_EVENTS = ("feature-strategy-add", "feature-strategy-update", "feature-strategy-remove")
SIMPLE_EVENTS: Mapping[str, ChangeKind] = {
    "feature-environment-enabled": ChangeKind.SWITCHED_ON,
    "feature-environment-disabled": ChangeKind.SWITCHED_OFF,
    "feature-environment-variants-updated": ChangeKind.VARIANTS,
    "feature-variants-updated": ChangeKind.VARIANTS,
    "feature-created": ChangeKind.CREATED,
    "feature-archived": ChangeKind.ARCHIVED,
    "feature-deleted": ChangeKind.ARCHIVED,
    "feature-revived": ChangeKind.REVIVED,
}
EVENT_TYPES = (*SIMPLE_EVENTS, *STRATEGY_EVENTS)


def read_unleash(
    entry: FlagProvider, *, ctx: ProbeContext, since: datetime, until: datetime, max_changes: int
) -> ProviderChanges:
    """The flag changes in ``[since, until]`` of the entry's projects, every environment."""
    source = entry.unleash
    assert source is not None
    with JsonApi(
        source.url,
        authorization=source.token.get_secret_value(),
        ctx=ctx,
        request_timeout=source.request_timeout.total_seconds(),
        name=entry.name,
    ) as api:
        events, truncated = _events(api, source, since, until, max_changes)
        changes = [c for c in map(event_change, events) if c is not None and since <= c.at <= until]
        flags = {
            name: _flag_info(api, source, name, project)
            for name, project in dict.fromkeys((c.flag, c.project) for c in changes)
        }
        queries = tuple(dict.fromkeys(api.queries))
    return ProviderChanges(
        source=entry.name,
        provider="unleash",
        production=source.environment,
        changes=tuple(changes),
        flags=flags,
        queries=queries,
        truncated=truncated,
    )


def _events(
    api: JsonApi, source: UnleashSource, since: datetime, until: datetime, max_changes: int
) -> tuple[list[Mapping[str, Any]], bool]:
    """Events newest first, down to ``since`` (the search API), or every event of the projects."""
    limit = min(PAGE_SIZE, max_changes)
    params: dict[str, str | int] = {
        "project": f"IS_ANY_OF:{','.join(source.projects)}",
        "type": f"IS_ANY_OF:{','.join(EVENT_TYPES)}",
        # whole days: the API's granularity (`to` is inclusive); the exact range is cut here
        "from": f"IS:{(since - timedelta(days=1)).date().isoformat()}",
        "to": f"IS:{(until + timedelta(days=1)).date().isoformat()}",
        "limit": limit,
    }
    events: list[Mapping[str, Any]] = []
    offset = 0
    while True:
        page = api.get("/api/admin/search/events", {**params, "offset": offset}, missing_ok=True)
        if page is None:
            return _legacy_events(api, source, since, until, max_changes)
        batch = _event_list(page, api.name)
        # whole days were asked for: only events in the range count towards max_changes
        events += [e for e in batch if since <= _time(e) <= until]
        if len(events) >= max_changes:
            return events[:max_changes], True
        oldest = min((_time(e) for e in batch), default=None)
        if len(batch) < limit or oldest is None or oldest < since:
            return events, False
        offset += len(batch)


def _legacy_events(
    api: JsonApi, source: UnleashSource, since: datetime, until: datetime, max_changes: int
) -> tuple[list[Mapping[str, Any]], bool]:
    events: list[Mapping[str, Any]] = []
    for project in source.projects:
        answer = api.get("/api/admin/events", {"project": project})
        events += [e for e in _event_list(answer, api.name) if e.get("type") in EVENT_TYPES]
    events = [e for e in events if since <= _time(e) <= until]
    events.sort(key=_time, reverse=True)
    return events[:max_changes], len(events) > max_changes


def _event_list(answer: object, name: str) -> list[Mapping[str, Any]]:
    events = answer.get("events") if isinstance(answer, Mapping) else None
    if not isinstance(events, list):
        raise ProbeError(f"{name}: the events answer has no events list", kind=ErrorKind.PROTOCOL)
    return [e for e in events if isinstance(e, Mapping) and e.get("createdAt") and e.get("featureName")]


def _time(event: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(str(event["createdAt"]).replace("Z", "+00:00"))


def event_change(event: Mapping[str, Any]) -> FlagChange | None:
    """The change one Unleash event records (None for events that change no behaviour)."""
    kind_name = str(event.get("type"))
    data = event.get("data") if isinstance(event.get("data"), Mapping) else None
    previous = event.get("preData") if isinstance(event.get("preData"), Mapping) else None
    before = after = None
    detail = ""
    if kind_name in STRATEGY_EVENTS:
        kind, before, after, detail = _strategy_change(previous, data)
    elif kind_name in SIMPLE_EVENTS:
        kind = SIMPLE_EVENTS[kind_name]
        if kind is ChangeKind.VARIANTS:
            before, after = _variants(previous), _variants(data)
        elif kind in (ChangeKind.SWITCHED_ON, ChangeKind.SWITCHED_OFF):
            before, after = ("off", "on") if kind is ChangeKind.SWITCHED_ON else ("on", "off")
        detail = "deleted" if kind_name == "feature-deleted" else ""
    else:
        return None
    environment = event.get("environment")
    return FlagChange(
        flag=str(event["featureName"]),
        kind=kind,
        at=_time(event),
        environment=str(environment) if environment else None,
        author=str(event.get("createdBy") or "") or None,
        before=before,
        after=after,
        detail=detail,
        project=str(event.get("project") or "") or None,
        event_id=str(event.get("id", "")),
    )


def _strategy_change(
    previous: Mapping[str, Any] | None, data: Mapping[str, Any] | None
) -> tuple[ChangeKind, str | None, str | None, str]:
    """Rollout when the strategy, its percentage or its state changed; else targeting or variants."""
    name = str((data or previous or {}).get("name") or "strategy")
    if previous is None or data is None:
        return ChangeKind.ROLLOUT, _strategy(previous), _strategy(data), f"strategy {name}"
    rollout_keys = ("name", "disabled")
    parameters = (previous.get("parameters") or {}, data.get("parameters") or {})
    if any(previous.get(k) != data.get(k) for k in rollout_keys) or any(
        parameters[0].get(k) != parameters[1].get(k) for k in ("rollout", "stickiness", "groupId")
    ):
        return ChangeKind.ROLLOUT, _strategy(previous), _strategy(data), f"strategy {name}"
    if previous.get("constraints") != data.get("constraints") or previous.get("segments") != data.get(
        "segments"
    ):
        return ChangeKind.TARGETING, _targeting(previous), _targeting(data), f"strategy {name}"
    return ChangeKind.VARIANTS, _variants(previous), _variants(data), f"strategy {name}"


def _strategy(strategy: Mapping[str, Any] | None) -> str | None:
    if strategy is None:
        return None
    text = str(strategy.get("name") or "?")
    rollout = (strategy.get("parameters") or {}).get("rollout")
    if rollout not in (None, ""):
        text += f" {rollout}%"
    if strategy.get("disabled"):
        text += " (disabled)"
    targeting = _targeting(strategy)
    return f"{text}, {targeting}" if targeting != "everyone" else text


def _targeting(strategy: Mapping[str, Any]) -> str:
    constraints: Sequence[Any] = strategy.get("constraints") or ()
    segments: Sequence[Any] = strategy.get("segments") or ()
    parts = []
    for constraint in constraints[:3]:
        if isinstance(constraint, Mapping):
            values = constraint.get("values") or [constraint.get("value")]
            shown = ",".join(str(v) for v in values[:3] if v is not None)
            parts.append(f"{constraint.get('contextName')} {constraint.get('operator')} {shown}".strip())
    if len(constraints) > 3:
        parts.append(f"+{len(constraints) - 3} constraints")
    if segments:
        parts.append(f"segments {','.join(str(s) for s in segments)}")
    return "; ".join(parts) or "everyone"


def _variants(data: Mapping[str, Any] | None) -> str | None:
    if data is None:
        return None
    variants = data.get("variants")
    if not isinstance(variants, list):
        return None
    if not variants:
        return "no variants"
    return ", ".join(
        f"{v.get('name')} {v.get('weight', 0) / 10:g}%" for v in variants[:6] if isinstance(v, Mapping)
    )


def _flag_info(api: JsonApi, source: UnleashSource, name: str, project: str | None) -> FlagInfo:
    project = project or source.projects[0]
    feature = api.get(f"/api/admin/projects/{project}/features/{name}", missing_ok=True)
    if not isinstance(feature, Mapping):
        return FlagInfo(name=name, project=project, archived=True)
    tags = api.get(f"/api/admin/features/{name}/tags", missing_ok=True)
    tag_list = tags.get("tags") if isinstance(tags, Mapping) else None
    production = [
        e
        for e in feature.get("environments") or ()
        if isinstance(e, Mapping) and e.get("name") == source.environment
    ]
    return FlagInfo(
        name=name,
        project=project,
        description=str(feature.get("description") or ""),
        tags=tuple(
            f"{t.get('type')}:{t.get('value')}"
            for t in tag_list or ()
            if isinstance(t, Mapping) and t.get("value")
        ),
        on_in_production=bool(production[0].get("enabled")) if production else None,
        archived=bool(feature.get("archivedAt") or feature.get("archived")),
    )
