"""Flag changes in the summary: suspects like rollouts, ranked by time order, with containment."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from typing import Any

import jsonschema

from diagnostics.model import ChecklistItem, Entity, Evidence, Finding, ProbeOutcome, Report, Severity, Status
from diagnostics.report.markdown import render_markdown
from diagnostics.report.serialize import report_from_dict, report_to_dict
from diagnostics.report.text import render_text
from diagnostics.summary.build import summarize
from diagnostics.summary.settings import ServiceLinks

AT = datetime(2026, 11, 27, 10, 30, tzinfo=UTC)
ITEMS = {
    "deploys.rollouts": ChecklistItem.DEPLOYMENTS,
    "toggles.changes": ChecklistItem.FEATURE_TOGGLES,
    "metrics.anomalies": ChecklistItem.METRICS,
}
SWITCH_OFF = 'curl -fsS -X POST -H "Authorization: $UNLEASH_API_TOKEN" https://unleash.internal/api/admin/projects/default/features/{}/environments/production/off'


def flag_change(
    name: str,
    minutes_ago: float,
    *,
    severity: Severity = Severity.WARNING,
    environment: str = "production",
    **details: Any,
) -> Finding:
    return Finding(
        probe="toggles.changes",
        kind="flag_change",
        severity=severity,
        title=f"Flag {name} switched on in {environment} {minutes_ago:g}m ago by alice@example.com",
        summary="",
        entity=Entity(
            kind="feature_flag", name=name, attributes={"provider": "unleash", "environment": environment}
        ),
        evidence=Evidence(
            details={
                "changes": [{"kind": "switched_on"}],
                "containment": {"switches": "off", "command": SWITCH_OFF.format(name)},
                **details,
            }
        ),
        onset=AT - timedelta(minutes=minutes_ago),
        key=environment,
    )


def rollout(minutes_ago: float, safety: dict[str, Any] | None = None) -> Finding:
    return Finding(
        probe="deploys.rollouts",
        kind="rollout",
        severity=Severity.WARNING,
        title="Deployment shop/checkout rolled out: revision 6 → 7, checkout v1.4.2 → v1.5.0",
        summary="",
        entity=Entity(kind="workload", name="shop/checkout", attributes={"namespace": "shop"}),
        evidence=Evidence(details={"rollback_safety": safety}),
        onset=AT - timedelta(minutes=minutes_ago),
        next_steps=(
            "kubectl rollout undo deployment/checkout -n shop --to-revision=6",
            "kubectl rollout status deployment/checkout -n shop",
        ),
    )


errors = Finding(
    probe="metrics.anomalies",
    kind="metric_anomaly",
    severity=Severity.CRITICAL,
    title="checkout error ratio 12x normal",
    summary="",
    entity=Entity(kind="service", name="checkout", attributes={"job": "checkout"}),
    evidence=Evidence(details={"signal": "error_ratio"}),
    onset=AT - timedelta(minutes=8),
)


def report_of(*findings: Finding) -> Report:
    probes = tuple(
        ProbeOutcome(probe=p, checklist_item=i, status=Status.OK, duration_s=0.1) for p, i in ITEMS.items()
    )
    return Report(
        at=AT, window=timedelta(hours=1), started_at=AT, duration_s=1.0, probes=probes, findings=findings
    )


def test_a_flag_switched_just_before_an_error_spike_ranks_above_an_earlier_rollout() -> None:
    flag = flag_change("checkout-new-pricing", 10)
    deploy = rollout(25)
    summary = summarize(report_of(errors, deploy, flag))
    first, second = summary.suspects[:2]
    assert first.rule == "flag_change_before_symptom"
    assert first.cause == flag.fingerprint
    assert first.supports == (errors.fingerprint,)
    assert first.reasoning == (
        "Feature flag checkout-new-pricing was switched on in production 2m before "
        "'checkout error ratio 12x normal' on the service it belongs to (checkout)."
    )
    assert first.containment is not None
    assert first.containment.step == "Check feature toggles"
    assert first.containment.command == SWITCH_OFF.format("checkout-new-pricing")
    assert second.rule == "rollout_before_symptom" and second.cause == deploy.fingerprint
    assert first.score > second.score


def test_the_closest_change_ranks_first_whichever_kind_it_is() -> None:
    summary = summarize(report_of(errors, rollout(9), flag_change("checkout-new-pricing", 28)))
    assert [s.rule for s in summary.suspects[:2]] == ["rollout_before_symptom", "flag_change_before_symptom"]


def test_a_flag_belongs_to_a_service_by_mapping_tag_or_name_only() -> None:
    mapped = flag_change("np-2041", 10, services=["checkout"])
    tagged = flag_change("exp-7", 11, tags=["simple:checkout"])
    aliased = flag_change("enable-checkout-api-v2", 12)
    unrelated = flag_change("search-fuzzy", 10)
    partial_word = flag_change("checkouts-report", 10)
    summary = summarize(
        report_of(errors, mapped, tagged, aliased, unrelated, partial_word),
        services={"checkout": ServiceLinks(aliases=("checkout-api",))},
    )
    causes = {s.cause for s in summary.suspects}
    assert causes == {mapped.fingerprint, tagged.fingerprint, aliased.fingerprint}


def test_a_change_outside_production_or_long_before_is_no_suspect() -> None:
    staging = flag_change("checkout-beta", 5, severity=Severity.INFO, environment="staging")
    old = flag_change("checkout-old", 120)
    summary = summarize(report_of(errors, staging, old))
    assert summary.suspects == ()


def test_a_rollout_suspect_says_whether_its_rollback_is_safe_and_survives_json() -> None:
    safety = {
        "safe": False,
        "summary": "Rollback needs care: revision 6 ran 3d before the change; it also reverts env DB_POOL.",
    }
    summary = summarize(report_of(errors, rollout(12, safety)))
    (top,) = summary.suspects
    assert top.containment is not None
    assert top.containment.step == "Consider rollback"
    assert top.containment.command == "kubectl rollout undo deployment/checkout -n shop --to-revision=6"
    assert top.containment.note == safety["summary"]
    report = report_of(errors, rollout(12, safety))
    with_summary = replace(report, summary=summary)
    document = report_to_dict(with_summary)
    schema = json.loads(files("diagnostics").joinpath("schemas/report-v1.schema.json").read_text())
    jsonschema.validate(document, schema, format_checker=jsonschema.FormatChecker())
    again = report_from_dict(document)
    assert again.summary is not None and again.summary.suspects[0].containment == top.containment


def test_text_and_markdown_show_the_containment_step_under_its_suspect() -> None:
    report = report_of(errors, flag_change("checkout-new-pricing", 10))
    report = replace(report, summary=summarize(report))
    command = SWITCH_OFF.format("checkout-new-pricing")
    text = render_text(report, color=False, width=400)
    assert "Check feature toggles: switches flag checkout-new-pricing off in production" in text
    assert command in text
    assert (
        f"   - Check feature toggles: `{command}` — switches flag checkout-new-pricing off in production"
        in (render_markdown(report))
    )
