"""The JSON contract ``diag.report/v1``: every documented key always present, times in UTC.

``report_to_dict`` and ``report_from_dict`` round-trip; the JSON Schema lives in
``diagnostics/schemas/report-v1.schema.json``.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from typing import Any

from diagnostics.errors import ReportFormatError
from diagnostics.model import (
    ChecklistItem,
    Entity,
    ErrorKind,
    Evidence,
    Finding,
    Measurement,
    ProbeOutcome,
    Report,
    Severity,
    Status,
)
from diagnostics.report.overview import counts, coverage, exit_status, headline, ranked_findings
from diagnostics.summary.model import (
    Comparison,
    Containment,
    RankedProblem,
    SeverityAssessment,
    Summary,
    Suspect,
    TimelineEvent,
)
from diagnostics.units import format_duration, isoformat, parse_time

SCHEMA_ID = "diag.report/v1"


def finding_to_dict(finding: Finding) -> dict[str, Any]:
    """A finding as its ``findings[]`` JSON object."""
    return {
        "probe": finding.probe,
        "kind": finding.kind,
        "key": finding.key,
        "fingerprint": finding.fingerprint,
        "severity": finding.severity.label,
        "title": finding.title,
        "summary": finding.summary,
        "entity": _entity_to_dict(finding.entity),
        "evidence": {
            "values": [{"name": m.name, "value": m.value, "unit": m.unit} for m in finding.evidence.values],
            "queries": list(finding.evidence.queries),
            "details": dict(finding.evidence.details),
        },
        "onset": isoformat(finding.onset),
        "seen_at": isoformat(finding.seen_at),
        "next_steps": list(finding.next_steps),
    }


def _entity_to_dict(entity: Entity) -> dict[str, Any]:
    return {"kind": entity.kind, "name": entity.name, "attributes": dict(entity.attributes)}


def _containment_to_dict(containment: Containment | None) -> dict[str, str] | None:
    if containment is None:
        return None
    return {"step": containment.step, "command": containment.command, "note": containment.note}


def _containment_from_dict(data: dict[str, Any] | None) -> Containment | None:
    if not data:
        return None
    return Containment(step=data["step"], command=data["command"], note=data.get("note") or "")


def summary_to_dict(summary: Summary | None) -> dict[str, Any] | None:
    """The ``summary`` JSON object (None without a summary)."""
    if summary is None:
        return None
    return {
        "severity": {
            "level": summary.severity.label,
            "rank": summary.severity.level,
            "reasons": list(summary.severity.reasons),
            "affected_services": list(summary.severity.affected_services),
        },
        "suspects": [
            {
                "rule": s.rule,
                "cause": s.cause,
                "title": s.title,
                "reasoning": s.reasoning,
                "score": s.score,
                "supports": list(s.supports),
                "containment": _containment_to_dict(s.containment),
            }
            for s in summary.suspects
        ],
        "no_cause": summary.no_cause_reason,
        "ranking": [
            {
                "lead": p.lead,
                "entity": p.entity,
                "impact": p.impact,
                "severity": p.severity.label,
                "reach": p.reach,
                "members": list(p.members),
                "reason": p.reason,
            }
            for p in summary.ranking
        ],
        "timeline": [
            {
                "at": isoformat(e.at),
                "fingerprint": e.fingerprint,
                "probe": e.probe,
                "kind": e.kind,
                "severity": e.severity.label,
                "title": e.title,
                "entity": _entity_to_dict(e.entity),
            }
            for e in summary.timeline
        ],
    }


def comparison_to_dict(comparison: Comparison | None) -> dict[str, Any] | None:
    """The ``comparison`` JSON object (None without a baseline)."""
    if comparison is None:
        return None
    return {
        "baseline_at": isoformat(comparison.baseline_at),
        "baseline_started_at": isoformat(comparison.baseline_started_at),
        "new": list(comparison.new),
        "unchanged": list(comparison.unchanged),
        "resolved": [finding_to_dict(f) for f in comparison.resolved],
    }


def outcome_to_dict(outcome: ProbeOutcome) -> dict[str, Any]:
    """A probe outcome as its ``probes[]`` JSON object."""
    return {
        "id": outcome.probe,
        "checklist_item": outcome.checklist_item.value,
        "status": outcome.status.value,
        "duration_s": round(outcome.duration_s, 4),
        "error": outcome.error,
        "error_kind": outcome.error_kind.value if outcome.error_kind else None,
        "hint": outcome.hint,
        "finding_count": outcome.finding_count,
    }


def report_to_dict(report: Report) -> dict[str, Any]:
    """The report as the ``diag.report/v1`` JSON object."""
    return {
        "schema": SCHEMA_ID,
        "at": isoformat(report.at),
        "window": format_duration(report.window),
        "window_s": report.window.total_seconds(),
        "started_at": isoformat(report.started_at),
        "duration_s": round(report.duration_s, 4),
        "headline": headline(report),
        "worst": report.worst.label if report.worst is not None else None,
        "exit_status": int(exit_status(report)),
        "counts": counts(report),
        "probes": [outcome_to_dict(o) for o in report.probes],
        "findings": [finding_to_dict(f) for f in ranked_findings(report)],
        "checklist": [
            {
                "item": row.item.value,
                "title": row.item.heading,
                "state": row.state.value,
                "detail": row.detail,
                "probes": list(row.probes),
            }
            for row in coverage(report)
        ],
        "summary": summary_to_dict(report.summary),
        "comparison": comparison_to_dict(report.comparison),
        "not_selected": [{"id": probe, "checklist_item": item.value} for probe, item in report.not_selected],
    }


def report_to_json(report: Report, *, indent: int | None = 2) -> str:
    """The report as strict JSON: NaN and infinities become null, numpy numbers plain numbers."""
    return json.dumps(_json_safe(report_to_dict(report)), indent=indent, ensure_ascii=False, allow_nan=False)


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "item"):  # numpy scalars
        return _json_safe(value.item())
    if isinstance(value, datetime):
        return isoformat(value)
    return str(value)


def _time(value: Any) -> datetime | None:
    return parse_time(value) if value else None


def finding_from_dict(data: dict[str, Any]) -> Finding:
    """A Finding from its ``findings[]`` JSON object."""
    entity = data["entity"]
    evidence = data.get("evidence") or {}
    return Finding(
        probe=data["probe"],
        kind=data["kind"],
        severity=Severity.parse(data["severity"]),
        title=data["title"],
        summary=data.get("summary") or data["title"],
        entity=Entity(kind=entity["kind"], name=entity["name"], attributes=entity.get("attributes") or {}),
        evidence=Evidence(
            values=tuple(
                Measurement(name=v["name"], value=v.get("value"), unit=v.get("unit"))
                for v in evidence.get("values", [])
            ),
            queries=tuple(evidence.get("queries", [])),
            details=evidence.get("details") or {},
        ),
        onset=_time(data.get("onset")),
        seen_at=_time(data.get("seen_at")),
        next_steps=tuple(data.get("next_steps", [])),
        key=data.get("key") or "",
    )


def _entity_from_dict(data: dict[str, Any]) -> Entity:
    return Entity(kind=data["kind"], name=data["name"], attributes=data.get("attributes") or {})


def summary_from_dict(data: dict[str, Any] | None) -> Summary | None:
    """A Summary from its JSON object (None when absent)."""
    if not data:
        return None
    severity = data["severity"]
    return Summary(
        severity=SeverityAssessment(
            level=int(severity["rank"]),
            reasons=tuple(severity["reasons"]),
            affected_services=tuple(severity["affected_services"]),
        ),
        suspects=tuple(
            Suspect(
                rule=s["rule"],
                cause=s["cause"],
                title=s["title"],
                reasoning=s["reasoning"],
                score=float(s["score"]),
                supports=tuple(s["supports"]),
                containment=_containment_from_dict(s.get("containment")),
            )
            for s in data["suspects"]
        ),
        no_cause_reason=data.get("no_cause"),
        ranking=tuple(
            RankedProblem(
                lead=p["lead"],
                entity=p["entity"],
                impact=p["impact"],
                severity=Severity.parse(p["severity"]),
                reach=p.get("reach"),
                members=tuple(p["members"]),
                reason=p["reason"],
            )
            for p in data.get("ranking") or ()
        ),
        timeline=tuple(
            TimelineEvent(
                at=parse_time(e["at"]),
                fingerprint=e["fingerprint"],
                probe=e["probe"],
                kind=e["kind"],
                severity=Severity.parse(e["severity"]),
                title=e["title"],
                entity=_entity_from_dict(e["entity"]),
            )
            for e in data["timeline"]
        ),
    )


def comparison_from_dict(data: dict[str, Any] | None) -> Comparison | None:
    """A Comparison from its JSON object (None when absent)."""
    if not data:
        return None
    return Comparison(
        baseline_at=parse_time(data["baseline_at"]),
        baseline_started_at=parse_time(data["baseline_started_at"]),
        new=tuple(data["new"]),
        unchanged=tuple(data["unchanged"]),
        resolved=tuple(finding_from_dict(f) for f in data["resolved"]),
    )


def report_from_dict(data: Any) -> Report:
    """Rebuild a Report from its ``diag.report/v1`` JSON object."""
    if not isinstance(data, dict) or data.get("schema") != SCHEMA_ID:
        raise ReportFormatError(f"not a {SCHEMA_ID} document (missing or different 'schema')")
    try:
        at = parse_time(data["at"])
        return Report(
            at=at,
            window=timedelta(seconds=float(data["window_s"])),
            started_at=parse_time(data["started_at"]),
            duration_s=float(data["duration_s"]),
            probes=tuple(
                ProbeOutcome(
                    probe=p["id"],
                    checklist_item=ChecklistItem(p["checklist_item"]),
                    status=Status(p["status"]),
                    duration_s=float(p["duration_s"]),
                    error=p.get("error"),
                    error_kind=ErrorKind(p["error_kind"]) if p.get("error_kind") else None,
                    hint=p.get("hint"),
                    finding_count=int(p.get("finding_count", 0)),
                )
                for p in data["probes"]
            ),
            findings=tuple(finding_from_dict(f) for f in data["findings"]),
            summary=summary_from_dict(data.get("summary")),
            comparison=comparison_from_dict(data.get("comparison")),
            not_selected=tuple(
                (p["id"], ChecklistItem(p["checklist_item"])) for p in data.get("not_selected") or ()
            ),
        )
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise ReportFormatError(f"malformed {SCHEMA_ID} document: {type(exc).__name__}: {exc}") from None
