"""LaunchDarkly: flag changes from the audit log, every environment of one project.

Calls (REST API v2, ``Authorization: <token>``; a reader role suffices):

- ``GET /api/v2/auditlog?after=<ms>&before=<ms>&spec=proj/<p>:env/*:flag/*&limit=20``,
  following ``_links.next`` for at most ``max_changes`` entries;
- ``GET /api/v2/auditlog/<id>`` for each flag entry: ``previousVersion`` and ``currentVersion``
  of the flag give before -> after;
- ``GET /api/v2/flags/<project>/<key>?env=<production>`` once per changed flag: description,
  tags, whether it is on in production now.

The entry's ``accesses[].action`` says what changed (``updateOn``, ``updateFallthrough``,
``updateRules``...); its ``accesses[].resource`` (``proj/p:env/e:flag/k``) the environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from diagnostics import ErrorKind, ProbeContext, ProbeError
from probes.toggles.config import FlagProvider, LaunchDarklySource
from probes.toggles.flags import ChangeKind, FlagChange, FlagInfo, ProviderChanges
from probes.toggles.http import JsonApi

PAGE_SIZE = 20
"""The audit log's largest page."""
ACTION_KINDS: Mapping[str, ChangeKind] = {
    "createFlag": ChangeKind.CREATED,
    "cloneFlag": ChangeKind.CREATED,
    "deleteFlag": ChangeKind.ARCHIVED,
    "updateFallthrough": ChangeKind.ROLLOUT,
    "updateFallthroughWithMeasuredRollout": ChangeKind.ROLLOUT,
    "updateRules": ChangeKind.TARGETING,
    "updateRulesWithMeasuredRollout": ChangeKind.TARGETING,
    "updateTargets": ChangeKind.TARGETING,
    "updateContextTargets": ChangeKind.TARGETING,
    "updatePrerequisites": ChangeKind.TARGETING,
    "updateFlagVariations": ChangeKind.VARIANTS,
    "updateOffVariation": ChangeKind.VARIANTS,
    "updateFlagDefaultVariations": ChangeKind.VARIANTS,
}
"""Actions that change what users get; ``updateOn`` and ``updateGlobalArchived`` are read from
the versions (on or off, archived or restored). Others (name, description, tags) are ignored."""


def read_launchdarkly(
    entry: FlagProvider, *, ctx: ProbeContext, since: datetime, until: datetime, max_changes: int
) -> ProviderChanges:
    """The flag changes in ``[since, until]`` of the entry's project, every environment."""
    source = entry.launchdarkly
    assert source is not None
    with JsonApi(
        source.url,
        authorization=source.token.get_secret_value(),
        ctx=ctx,
        request_timeout=source.request_timeout.total_seconds(),
        name=entry.name,
    ) as api:
        listed, truncated = _list_entries(api, source, since, until, max_changes)
        changes: list[FlagChange] = []
        for item in listed:
            detail = api.get(f"/api/v2/auditlog/{item['_id']}")
            if not isinstance(detail, Mapping):
                raise ProbeError(
                    f"{entry.name}: an audit log entry is not an object", kind=ErrorKind.PROTOCOL
                )
            changes += entry_changes(detail, source.project)
        flags = {key: _flag_info(api, source, key) for key in dict.fromkeys(c.flag for c in changes)}
        queries = tuple(dict.fromkeys(api.queries))
    return ProviderChanges(
        source=entry.name,
        provider="launchdarkly",
        production=source.environment,
        changes=tuple(changes),
        flags=flags,
        queries=queries,
        truncated=truncated,
    )


def _list_entries(
    api: JsonApi, source: LaunchDarklySource, since: datetime, until: datetime, max_changes: int
) -> tuple[list[Mapping[str, Any]], bool]:
    params: Mapping[str, Any] | None = {
        "after": int(since.timestamp() * 1000),
        "before": int(until.timestamp() * 1000),
        "spec": f"proj/{source.project}:env/*:flag/*",
        "limit": PAGE_SIZE,
    }
    path = "/api/v2/auditlog"
    entries: list[Mapping[str, Any]] = []
    while True:
        page = api.get(path, params)
        items = page.get("items") if isinstance(page, Mapping) else None
        if not isinstance(items, list):
            raise ProbeError(f"{api.name}: the audit log answer has no items list", kind=ErrorKind.PROTOCOL)
        entries += [i for i in items if isinstance(i, Mapping) and i.get("kind") == "flag" and i.get("_id")]
        if len(entries) >= max_changes:
            return entries[:max_changes], True
        next_href = ((page.get("_links") or {}).get("next") or {}).get("href")
        if not next_href or not items:
            return entries, False
        # the next link carries its own query (the same spec, a `before` cursor)
        path, params = _relative(next_href), None


def _relative(href: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(href)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def entry_changes(entry: Mapping[str, Any], project: str) -> list[FlagChange]:
    """The changes one detailed audit log entry records (one per environment and action)."""
    at = datetime.fromtimestamp(float(entry["date"]) / 1000, UTC)
    author = _author(entry)
    before = entry.get("previousVersion") if isinstance(entry.get("previousVersion"), Mapping) else None
    after = entry.get("currentVersion") if isinstance(entry.get("currentVersion"), Mapping) else None
    changes = []
    seen: set[tuple[str, str | None, ChangeKind]] = set()
    for access in entry.get("accesses") or ():
        parsed = _resource(str(access.get("resource", "")))
        if parsed is None or parsed[0] != project:
            continue
        _, environment, flag = parsed
        kind, was, now = _kind(str(access.get("action", "")), before, after, environment)
        if kind is None or (flag, environment, kind) in seen:
            continue
        seen.add((flag, environment, kind))
        changes.append(
            FlagChange(
                flag=flag,
                kind=kind,
                at=at,
                environment=environment,
                author=author,
                before=was,
                after=now,
                detail=str(entry.get("titleVerb") or access.get("action") or ""),
                project=project,
                event_id=str(entry.get("_id", "")),
            )
        )
    return changes


def _resource(resource: str) -> tuple[str, str | None, str] | None:
    """``proj/p:env/e:flag/k`` -> (p, e, k); env None when absent or ``*``."""
    parts = dict(part.split("/", 1) for part in resource.split(":") if "/" in part)
    if "proj" not in parts or "flag" not in parts or parts["flag"] == "*":
        return None
    environment = parts.get("env")
    return parts["proj"], None if environment in (None, "*") else environment, parts["flag"].split(";")[0]


def _kind(
    action: str, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None, environment: str | None
) -> tuple[ChangeKind | None, str | None, str | None]:
    if action == "updateOn":
        was, now = _env(before, environment).get("on"), _env(after, environment).get("on")
        if now is None:
            return None, None, None
        return (ChangeKind.SWITCHED_ON if now else ChangeKind.SWITCHED_OFF), _on_off(was), _on_off(now)
    if action == "updateGlobalArchived":
        archived = bool((after or {}).get("archived"))
        return (ChangeKind.ARCHIVED if archived else ChangeKind.REVIVED), None, None
    kind = ACTION_KINDS.get(action)
    if kind is ChangeKind.ROLLOUT:
        return kind, _fallthrough(_env(before, environment)), _fallthrough(_env(after, environment))
    if kind is ChangeKind.TARGETING:
        return kind, _rules(_env(before, environment)), _rules(_env(after, environment))
    return kind, None, None


def _env(version: Mapping[str, Any] | None, environment: str | None) -> Mapping[str, Any]:
    environments = (version or {}).get("environments") or {}
    value = environments.get(environment) if environment else None
    return value if isinstance(value, Mapping) else {}


def _on_off(value: object) -> str | None:
    return None if value is None else ("on" if value else "off")


def _fallthrough(env: Mapping[str, Any]) -> str | None:
    fallthrough = env.get("fallthrough")
    if not isinstance(fallthrough, Mapping):
        return None
    rollout = fallthrough.get("rollout")
    if isinstance(rollout, Mapping):
        weights = [
            v.get("weight", 0) / 1000 for v in rollout.get("variations") or () if isinstance(v, Mapping)
        ]
        return "rollout " + "/".join(f"{w:g}%" for w in weights)
    if "variation" in fallthrough:
        return f"variation {fallthrough['variation']}"
    return None


def _rules(env: Mapping[str, Any]) -> str | None:
    if not env:
        return None
    rules = env.get("rules") or ()
    targets = sum(len(t.get("values") or ()) for t in env.get("targets") or () if isinstance(t, Mapping))
    return f"{len(rules)} rule{'s' if len(rules) != 1 else ''}, {targets} individual target{'s' if targets != 1 else ''}"


def _author(entry: Mapping[str, Any]) -> str | None:
    member = entry.get("member")
    if isinstance(member, Mapping):
        return str(
            member.get("email") or " ".join(str(member.get(k, "")) for k in ("firstName", "lastName")).strip()
        )
    token = entry.get("token")
    if isinstance(token, Mapping) and token.get("name"):
        return f"token {token['name']}"
    app = entry.get("app")
    if isinstance(app, Mapping) and app.get("name"):
        return f"app {app['name']}"
    return None


def _flag_info(api: JsonApi, source: LaunchDarklySource, key: str) -> FlagInfo:
    flag = api.get(f"/api/v2/flags/{source.project}/{key}", {"env": source.environment}, missing_ok=True)
    if not isinstance(flag, Mapping):
        return FlagInfo(name=key, project=source.project, archived=flag is None)
    production = _env(flag, source.environment)
    return FlagInfo(
        name=key,
        project=source.project,
        description=str(flag.get("description") or ""),
        tags=tuple(str(t) for t in flag.get("tags") or ()),
        on_in_production=production.get("on") if isinstance(production.get("on"), bool) else None,
        archived=bool(flag.get("archived")),
    )
