"""The Atlassian Statuspage ``/api/v2/summary.json`` document, validated into plain values.

    {"page": {"name": "Stripe", "url": "https://status.stripe.com", "updated_at": "..."},
     "status": {"indicator": "none|minor|major|critical", "description": "All Systems Operational"},
     "components": [{"name": "API", "status": "operational|degraded_performance|partial_outage|
                     major_outage|under_maintenance", "group": false, "group_id": null}, ...],
     "incidents": [{"name": "...", "status": "investigating|identified|monitoring|...",
                    "impact": "none|minor|major|critical", "started_at": "...",
                    "shortlink": "...", "incident_updates": [{"body": "...", ...}]}, ...]}

Other providers' pages (Google Cloud, AWS Health, Instatus...) have other shapes; they fail
here with an error naming the first key that does not fit, rather than being misread.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

Indicator = Literal["none", "minor", "major", "critical", "maintenance"]
ComponentStatus = Literal[
    "operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"
]
UPDATE_EXCERPT_CHARS = 300


class SchemaError(ValueError):
    """The document is not a Statuspage summary."""


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Page(_Lenient):
    name: str = ""
    url: str = ""
    updated_at: datetime | None = None


class _Status(_Lenient):
    indicator: Indicator
    description: str = ""


class _Component(_Lenient):
    id: str | None = None
    name: str
    status: ComponentStatus
    group: bool = False
    group_id: str | None = None


class _Update(_Lenient):
    body: str = ""


class _Incident(_Lenient):
    name: str
    status: str
    impact: str = "none"
    created_at: datetime | None = None
    started_at: datetime | None = None
    shortlink: str | None = None
    incident_updates: list[_Update] = []


class _Summary(_Lenient):
    page: _Page
    status: _Status
    components: list[_Component] = []
    incidents: list[_Incident] = []


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusComponent:
    name: str
    status: str
    group: str | None
    """The name of the group the component belongs to, if any."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusIncident:
    name: str
    status: str
    impact: str
    started_at: datetime | None
    shortlink: str | None
    latest_update: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusSummary:
    page_name: str
    page_url: str
    indicator: str
    description: str
    components: tuple[StatusComponent, ...]
    """Leaf components (groups are summaries of their members and left out)."""
    incidents: tuple[StatusIncident, ...]
    updated_at: datetime | None


def _where(error: ValidationError) -> str:
    first = error.errors()[0]
    location = ".".join(str(part) for part in first["loc"]) or "(document)"
    return f"{location}: {first['msg']}"


def parse_summary(document: object) -> StatusSummary:
    """Validate a decoded summary.json; :class:`SchemaError` says what does not fit."""
    if not isinstance(document, dict):
        raise SchemaError(f"expected a JSON object, got {type(document).__name__}")
    try:
        summary = _Summary.model_validate(document)
    except ValidationError as exc:
        raise SchemaError(_where(exc)) from None
    groups = {c.id: c.name for c in summary.components if c.group and c.id}
    components = tuple(
        StatusComponent(name=c.name, status=c.status, group=groups.get(c.group_id or ""))
        for c in summary.components
        if not c.group
    )
    incidents = tuple(
        StatusIncident(
            name=i.name,
            status=i.status,
            impact=i.impact,
            started_at=i.started_at or i.created_at,
            shortlink=i.shortlink,
            latest_update=(i.incident_updates[0].body[:UPDATE_EXCERPT_CHARS] if i.incident_updates else None),
        )
        for i in summary.incidents
    )
    return StatusSummary(
        page_name=summary.page.name,
        page_url=summary.page.url,
        indicator=summary.status.indicator,
        description=summary.status.description,
        components=components,
        incidents=incidents,
        updated_at=summary.page.updated_at,
    )
