"""Pure judging of alerts, scrape health and anomaly verdicts into findings (plain values)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import responses

from diagnostics import Entity, ProbeContext, Severity
from diagnostics.testing import run_probe
from probes.prometheus.alerts import AlertsOptions, alert_findings, expand, merge_alerts, severity_of
from probes.prometheus.client import ActiveAlert, AlertRule, ManagedAlert, Sample, SeriesGrid
from probes.prometheus.discovery import MetricQuery
from probes.prometheus.judge_anomalies import anomaly_candidates, entity_for, graph_url, how_far, rank
from probes.prometheus.judge_series import DetectorSettings, Observations, judge
from probes.prometheus.scrape import (
    ScrapeOptions,
    ScrapeProbe,
    TargetHealth,
    errors_not_used,
    live_errors_apply,
    scrape_findings,
    target_health,
    with_errors,
)

AT = datetime(2025, 3, 12, 19, 0, tzinfo=UTC)


def context(probe_id: str, options: object) -> ProbeContext:
    return ProbeContext(probe_id=probe_id, at=AT, window=timedelta(hours=1), options=options)  # type: ignore[arg-type]


# -- alerts ---------------------------------------------------------------------------------


def test_severity_from_labels_and_state() -> None:
    assert severity_of({"severity": "critical"}, "firing") is Severity.CRITICAL
    assert severity_of({"severity": "page"}, "firing") is Severity.CRITICAL
    assert severity_of({"severity": "critical"}, "pending") is Severity.WARNING
    assert severity_of({}, "firing") is Severity.WARNING
    assert severity_of({"severity": "info"}, "pending") is Severity.INFO
    assert severity_of({"severity": "critical"}, "suppressed") is Severity.INFO


def test_annotation_templates() -> None:
    labels = {"job": "api", "instance": "a:80"}
    assert (
        expand("{{ $labels.job }} on {{$labels.instance}} is {{ $value }}", labels, "0") == "api on a:80 is 0"
    )
    assert expand("{{ .Labels.job }} {{ humanize $value }}", labels, None) == "api {{ humanize $value }}"


def sample(state: str, **labels: str) -> Sample:
    return Sample(
        labels={"__name__": "ALERTS", "alertstate": state, **labels}, timestamp=AT.timestamp(), value=1
    )


def test_merge_prefers_live_annotations_then_rules_then_alertmanager() -> None:
    down = {"alertname": "Down", "job": "api", "severity": "critical"}
    slow = {"alertname": "Slow", "job": "web"}
    alerts = merge_alerts(
        at=AT,
        series=[sample("firing", **down), sample("pending", **slow), sample("firing", alertname="Watchdog")],
        for_state=[
            Sample(
                labels={"__name__": "ALERTS_FOR_STATE", **slow},
                timestamp=0,
                value=(AT - timedelta(minutes=3)).timestamp(),
            )
        ],
        current=[
            ActiveAlert(
                labels=down,
                annotations={"summary": "api is down"},
                state="firing",
                active_at=AT - timedelta(minutes=9),
                value="0",
            )
        ],
        rules=[
            AlertRule(
                name="Slow",
                query="x",
                group="g",
                for_seconds=600,
                labels={},
                annotations={"summary": "{{ $labels.job }} slow"},
                health="ok",
                last_error="",
            )
        ],
        managed=[
            ManagedAlert(
                labels={**down, "cluster": "eu"},
                annotations={},
                state="active",
                starts_at=AT - timedelta(minutes=8),
                ends_at=None,
                silenced_by=(),
                inhibited_by=(),
                receivers=(),
            ),
            ManagedAlert(
                labels={"alertname": "DiskFull", "instance": "db-1"},
                annotations={"summary": "disk"},
                state="suppressed",
                starts_at=AT - timedelta(hours=1),
                ends_at=None,
                silenced_by=("s",),
                inhibited_by=(),
                receivers=(),
            ),
            ManagedAlert(
                labels={"alertname": "Later"},
                annotations={},
                state="active",
                starts_at=AT + timedelta(minutes=1),
                ends_at=None,
                silenced_by=(),
                inhibited_by=(),
                receivers=(),
            ),
        ],
        ignore=["Watchdog"],
    )
    by_name = {a.name: a for a in alerts}
    assert set(by_name) == {"Down", "Slow", "DiskFull"}
    assert by_name["Down"].annotations == {"summary": "api is down"}
    assert by_name["Down"].active_since == AT - timedelta(minutes=9)
    assert by_name["Slow"].annotations == {"summary": "web slow"}
    assert by_name["Slow"].active_since == AT - timedelta(minutes=3)
    assert by_name["DiskFull"].state == "suppressed" and by_name["DiskFull"].source == "alertmanager"
    findings = alert_findings(alerts, context("metrics.alerts", AlertsOptions()), limit=10)
    # worst first, then earliest; pending without a severity label is info, silenced is info
    assert [(f.kind, f.evidence.details["alertname"], f.severity) for f in findings] == [
        ("alert_firing", "Down", Severity.CRITICAL),
        ("alert_firing", "DiskFull", Severity.INFO),
        ("alert_pending", "Slow", Severity.INFO),
    ]
    assert findings[0].title == "Alert Down firing on api since 2025-03-12 18:51Z: api is down"
    assert findings[0].entity == Entity(kind="service", name="api", attributes=down)
    assert findings[1].entity.kind == "alert" and findings[2].entity.name == "web"
    assert findings[0].evidence.values[0].value == 540


# -- scrape -----------------------------------------------------------------------------------


def grid(rows: dict[tuple[str, str], list[float]]) -> SeriesGrid:
    values = np.array(list(rows.values()), dtype=float)
    return SeriesGrid(
        timestamps=(AT.timestamp() - 60 * np.arange(values.shape[1])[::-1]).astype(np.float64),
        values=values,
        present=np.isfinite(values),
        labels=tuple({"job": job, "instance": instance} for job, instance in rows),
        step=60,
    )


def test_target_health_and_findings_per_job() -> None:
    healths = target_health(
        grid(
            {
                ("api", "a:80"): [1, 1, 1, 0, 0],
                ("api", "b:80"): [1, 1, 1, 1, 1],
                ("db", "d:9187"): [0, 0, 0, 0, 0],
                ("web", "w:80"): [1, 0, 1, 1, 1],
                ("gone", "g:80"): [1, 1, np.nan, np.nan, np.nan],
            }
        )
    )
    by_target = {h.instance: h for h in healths}
    assert by_target["a:80"].down_now and by_target["a:80"].down_since == AT - timedelta(minutes=1)
    assert by_target["d:9187"].down_since_before_window
    assert not by_target["g:80"].down_now  # no longer scraped: not "down"
    assert by_target["w:80"].failed_share == 0.2
    healths = with_errors(
        healths,
        [],
    )
    findings = scrape_findings(
        healths, context("metrics.scrape", ScrapeOptions()), failing_ratio=0.1, listed=20
    )
    summary = [(f.kind, f.entity.name, f.severity) for f in findings]
    assert summary == [
        ("target_down", "api", Severity.WARNING),
        ("target_down", "db", Severity.CRITICAL),
        ("scrape_failing", "web", Severity.WARNING),
    ]
    assert findings[0].title == "1 of 2 targets of job api down since 18:59Z: a:80"
    assert findings[1].title.startswith("All 1 target of job db down before 18:56Z")


def test_healthy_targets_no_finding() -> None:
    healths = target_health(grid({("api", "a:80"): [1, 1, 1, 1]}))
    assert scrape_findings(healths, context("metrics.scrape", ScrapeOptions()), 0.1, 20) == []


def test_last_error_attached_to_down_targets() -> None:
    from probes.prometheus.client import ScrapeTarget

    health = TargetHealth(
        job="api",
        instance="a:80",
        down_now=True,
        down_since=AT,
        down_since_before_window=False,
        failed_share=1,
    )
    target = ScrapeTarget(
        job="api",
        instance="a:80",
        labels={},
        scrape_url="http://a:80/metrics",
        health="down",
        last_error="connection refused",
        last_scrape=AT,
        last_scrape_duration_s=0.1,
    )
    (updated,) = with_errors([health], [target])
    assert updated.last_error == "connection refused" and updated.scrape_url == "http://a:80/metrics"


# -- anomaly findings ----------------------------------------------------------------------------


def test_how_far_and_entities() -> None:
    assert how_far(4.8, 0.4, 30) == "12x normal"
    assert how_far(0, 50, 30) == "100 % below normal"
    assert how_far(130, 100, 7) == "+30 % vs normal"
    assert how_far(-5, 0, 7.25) == "7.2 robust deviations out"
    assert entity_for({"job": "checkout", "code": "500"}, "errors").name == "checkout"
    assert entity_for({"queue": "orders"}, "queue depth") == Entity(
        kind="metric", name="queue depth", attributes={"queue": "orders"}
    )
    url = graph_url("http://prom:9090", 'sum(rate(x{a="b"}[5m]))', AT, 10800)
    assert url.startswith("http://prom:9090/graph?g0.expr=sum%28rate%28x%7Ba%3D%22b%22%7D%5B5m%5D%29%29")
    assert "g0.range_input=3h" in url and "g0.end_input=2025-03-12+19%3A00%3A00" in url


def test_candidates_ranked_and_limited() -> None:
    at = AT.timestamp()
    recent_times = at - 7200 + 30 * np.arange(241)
    base_times = at - 7200 - 7 * 86400 + 300 * np.arange(2016)
    rng = np.random.default_rng(1)
    base = 0.002 + rng.normal(0, 0.0003, (3, 2016))
    recent = 0.002 + rng.normal(0, 0.0003, (3, 241))
    recent[0, recent_times >= at - 480] = 0.12  # 60x
    recent[1, recent_times >= at - 480] = 0.02  # 10x
    obs = Observations(
        baseline=base, baseline_present=np.ones_like(base, bool), baseline_start=base_times[0], baseline_step=300,
        recent=recent, recent_present=np.ones_like(recent, bool), recent_start=recent_times[0], recent_step=30,
        judged_from=at - 3600,
    )  # fmt: skip
    verdicts = judge(obs, DetectorSettings(min_deviation=0.005, direction="up"))
    query = MetricQuery(name="error ratio", promql="errors", signal="error_ratio", unit="ratio")
    candidates = anomaly_candidates(
        query=query,
        labels=[{"job": "checkout", "route": "/pay"}, {"job": "cart"}, {"job": "search"}],
        verdicts=verdicts,
        make=context("metrics.anomalies", object()).finding,
        base_url="http://prom:9090",
        at=AT,
        span_seconds=10800,
        context={"query_name": "error ratio"},
    )
    shown, rest = rank(candidates, limit=1)
    assert [f.entity.name for f in shown] == ["checkout"] and [c.finding.entity.name for c in rest] == [
        "cart"
    ]
    top = shown[0]
    assert top.title.startswith("error ratio of checkout {route=/pay} rose to 12 %, 60")
    assert top.severity is Severity.CRITICAL
    assert top.evidence.details["direction"] == "spike" and top.evidence.details["signal"] == "error_ratio"
    assert top.next_steps[0].startswith("Plot it: http://prom:9090/graph?")


def test_live_scrape_errors_only_describe_a_moment_near_prometheus_now() -> None:
    now = AT + timedelta(seconds=40)
    assert live_errors_apply(AT, now) and live_errors_apply(AT + timedelta(minutes=4), now)
    assert not live_errors_apply(AT - timedelta(hours=2), now)
    note = errors_not_used(AT - timedelta(hours=2), now)
    assert note.startswith("live scrape errors not used: --at is 2.0 h before Prometheus' now")
    healths = target_health(grid({("api", "a:80"): [1, 1, 0, 0]}))
    (finding,) = scrape_findings(healths, context("metrics.scrape", ScrapeOptions()), 0.1, 20, note)
    assert finding.evidence.details["errors"] == [] and finding.evidence.details["errors_note"] == note


def _up_answer(at: datetime) -> dict[str, object]:
    start = (at - timedelta(hours=1)).timestamp()
    values = [[start + 15 * k, "1" if k < 200 else "0"] for k in range(241)]
    result = [{"metric": {"__name__": "up", "job": "api", "instance": "a:80"}, "values": values}]
    return {"status": "success", "data": {"resultType": "matrix", "result": result}}


@pytest.mark.parametrize(("hours_ago", "attached"), [(0, True), (3, False)])
@responses.activate
def test_scrape_probe_attaches_live_errors_only_near_now(hours_ago: int, attached: bool) -> None:
    url = "http://prometheus.test:9090"
    at = AT - timedelta(hours=hours_ago)
    responses.get(f"{url}/api/v1/query_range", json=_up_answer(at))
    now = {"resultType": "scalar", "result": [AT.timestamp(), str(AT.timestamp() + 30)]}
    responses.get(f"{url}/api/v1/query", json={"status": "success", "data": now})
    target = {
        "labels": {"job": "api", "instance": "a:80"},
        "scrapePool": "api",
        "scrapeUrl": "http://a:80/metrics",
        "health": "down",
        "lastError": "connection refused",
    }
    responses.get(f"{url}/api/v1/targets", json={"status": "success", "data": {"activeTargets": [target]}})
    run = run_probe(ScrapeProbe, config={"prometheus": {"url": url}}, at=at)
    (finding,) = run.findings
    assert ("connection refused" in finding.title) is attached
    assert ("errors_note" in finding.evidence.details) is not attached
    assert any("/api/v1/targets" in (c.request.url or "") for c in responses.calls) is attached
