"""metrics.* against a real Prometheus holding the staged shop incidents (see incidents.py)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any

import numpy as np
import pytest

from diagnostics import ChecklistItem, ErrorKind, Finding, Severity, Status
from diagnostics.report.overview import Coverage, ExitStatus, coverage, exit_status
from diagnostics.report.text import render_text
from diagnostics.testing import ProbeRun, run_probe
from probes.prometheus.alerts import AlertsProbe
from probes.prometheus.anomalies import AnomaliesProbe
from probes.prometheus.scrape import ScrapeProbe
from tests.probes.prometheus import incidents
from tests.probes.prometheus.incidents import AT, HEALTHY_AT, SHOP
from tests.support.local_http import serving
from tests.support.ports import free_port
from tests.support.prometheus import PrometheusDataset, PrometheusServer, StagedSeries, staged

pytestmark = pytest.mark.integration
STEP = timedelta(seconds=30)  # the recent grid of a 1h window (2h / 240 points)

Server = Callable[[PrometheusDataset], PrometheusServer]


@pytest.fixture(scope="module")
def shop(prometheus_server: Server) -> PrometheusServer:
    return prometheus_server(SHOP)


@pytest.fixture(scope="module")
def golden(shop: PrometheusServer) -> ProbeRun:
    """metrics.anomalies with discovered golden signals, as of the staged incidents."""
    return run_probe(AnomaliesProbe, config={"prometheus": shop.config()}, at=AT)


def only(run: ProbeRun, kind: str, service: str, query_name: str) -> Finding:
    found = [
        f
        for f in run.of_kind(kind)
        if f.entity.name == service and f.evidence.details.get("query_name") == query_name
    ]
    assert len(found) == 1, [f.title for f in run.findings]
    return found[0]


def value(finding: Finding, name: str) -> Any:
    return next(m.value for m in finding.evidence.values if m.name == name)


def test_error_ratio_spike_found_with_its_onset(golden: ProbeRun) -> None:
    finding = only(golden, "metric_anomaly", "checkout", "error ratio")
    assert finding.severity is Severity.CRITICAL
    assert finding.entity.kind == "service"
    assert finding.title.startswith("error ratio of checkout rose to 12 %")
    assert "x normal" in finding.title
    assert finding.onset is not None and abs(finding.onset - incidents.ERROR_ONSET) <= STEP
    assert value(finding, "current") == pytest.approx(0.12, rel=0.02)
    assert value(finding, "expected") == pytest.approx(0.003, abs=0.001)
    assert value(finding, "normal high") < 0.012
    assert finding.evidence.details["direction"] == "spike"
    assert finding.evidence.details["change"] == "up"
    assert finding.evidence.details["labels"] == {"job": "checkout"}
    assert 'http_requests_total{code=~"5.."}' in finding.evidence.queries[0]
    assert any("/graph?g0.expr=" in step for step in finding.next_steps)


def test_latency_level_shift(golden: ProbeRun) -> None:
    finding = only(golden, "metric_anomaly", "search", "p99 latency")
    assert finding.evidence.details["direction"] == "level_shift"
    assert finding.title.startswith("p99 latency of search shifted up to 2.0s")
    assert finding.onset is not None and abs(finding.onset - incidents.LATENCY_ONSET) <= 2 * STEP
    assert value(finding, "expected") == pytest.approx(0.24, abs=0.02)
    assert value(finding, "current") > 1.5
    assert finding.severity is Severity.CRITICAL


def test_traffic_drop_to_zero(golden: ProbeRun) -> None:
    finding = only(golden, "metric_anomaly", "cart", "request rate")
    assert finding.evidence.details["direction"] == "drop"
    assert finding.evidence.details["change"] == "down"
    assert value(finding, "current") == 0
    assert "dropped to 0 req/s, 100 % below normal" in finding.title
    assert finding.onset is not None and abs(finding.onset - incidents.DROP_ONSET) <= STEP
    # 0/0 error ratio of a service without traffic is not a second finding
    assert not [f for f in golden.findings if f.entity.name == "cart" and f is not finding]


def test_vanished_series_is_a_finding(golden: ProbeRun) -> None:
    finding = only(golden, "series_vanished", "legacy", "request rate")
    assert finding.severity is Severity.WARNING
    assert "stopped reporting" in finding.title
    assert finding.onset is not None
    assert incidents.VANISHED_AT <= finding.onset <= incidents.VANISHED_AT + timedelta(minutes=5)


def test_usual_evening_peak_and_counter_reset_do_not_alarm(golden: ProbeRun) -> None:
    quiet = {"catalog", "billing"}
    assert not [f.title for f in golden.findings if f.entity.name in quiet]
    assert {f.entity.name for f in golden.findings} == {"checkout", "search", "cart", "legacy"}
    assert golden.outcome.status is Status.CRITICAL


def test_findings_are_ranked_and_cut(shop: PrometheusServer) -> None:
    run = run_probe(AnomaliesProbe, config={"prometheus": shop.config()}, options={"max_findings": 2}, at=AT)
    shown = [f for f in run.findings if f.kind == "metric_anomaly"]
    assert [f.severity for f in shown] == [Severity.CRITICAL, Severity.CRITICAL]
    (more,) = run.of_kind("metric_anomaly_more")
    assert more.severity is Severity.INFO
    assert more.title == "3 more series departed from normal (not shown, ranked lower)"


def test_healthy_moment_has_no_finding(shop: PrometheusServer) -> None:
    run = run_probe(AnomaliesProbe, config={"prometheus": shop.config()}, at=HEALTHY_AT)
    assert run.outcome.status is Status.OK, run.outcome.error
    assert run.findings == ()


QUEUE_AND_ODD_SERIES = [
    {"name": "queue capacity", "query": "queue_capacity"},
    {"name": "batch duration", "query": "batch_duration_seconds", "unit": "s"},
    {"name": "flag evaluations", "query": "feature_evaluations"},
    {"name": "billing requests", "query": 'http_requests_total{job="billing"}'},
]


def test_flat_sparse_new_and_raw_counter_series(shop: PrometheusServer) -> None:
    run = run_probe(
        AnomaliesProbe,
        config={"prometheus": shop.config()},
        options={"queries": QUEUE_AND_ODD_SERIES},
        at=AT,
    )
    assert run.outcome.status is Status.CRITICAL, run.outcome.error
    # the flat series that really moved (45 -> 90), the new series that jumped 10x after 3
    # hours (judged, with a wider margin, and said to have a short history) and the hourly
    # batch's 50,000 s run at 18:58, which the grid never takes (the 19:00 sample is the one
    # its step holds): judged through the step's extremes; the flat worker and the billing
    # counter (through rate() across its reset) stay silent
    found = {f.entity.name: f for f in run.findings}
    assert sorted((name, f.evidence.details["direction"]) for name, f in found.items()) == [
        ("batch", "spike"),
        ("flags", "level_shift"),
        ("worker2", "level_shift"),
    ]
    batch = found["batch"]
    assert batch.evidence.details["between_grid_points"] and value(batch, "peak") == 50_000
    new = found["flags"]
    assert new.evidence.details["short_history"] and new.evidence.details["history_days"] < 0.2
    assert "(short history: 1h)" in new.title  # the baseline ends where the recent 2 h begin
    assert not found["worker2"].evidence.details["short_history"]
    shifted = found["worker2"]
    assert value(shifted, "current") == 90
    assert "2x normal" in shifted.title
    assert shifted.onset is not None and abs(shifted.onset - incidents.FLAT_SHIFT_AT) <= STEP


def test_raw_counter_query_is_judged_through_rate(shop: PrometheusServer) -> None:
    run = run_probe(
        AnomaliesProbe,
        config={"prometheus": shop.config()},
        options={
            "queries": [{"name": "cart requests", "query": 'http_requests_total{job="cart", code="200"}'}]
        },
        at=AT,
    )
    (finding,) = run.findings
    assert finding.evidence.details["judged_as"] == 'rate(http_requests_total{job="cart", code="200"}[5m])'
    assert finding.evidence.details["change"] == "down"


CHECKOUT_ERROR_RATIO = (
    'sum by (job) (rate(http_requests_total{job="checkout", code="500"}[5m]))'
    ' / sum by (job) (rate(http_requests_total{job="checkout"}[5m]))'
)


def test_configured_ratio_gets_the_absolute_floor_of_its_unit(shop: PrometheusServer) -> None:
    # divided by 240, checkout's error ratio goes from ~0.001 % to 0.05 % (40x): no incident
    tiny = {"name": "tiny ratio", "query": f"({CHECKOUT_ERROR_RATIO}) / 240", "unit": "ratio"}
    run = run_probe(AnomaliesProbe, config={"prometheus": shop.config()}, options={"queries": [tiny]}, at=AT)
    assert run.outcome.status is Status.OK and run.findings == ()
    real = {"name": "checkout errors", "query": CHECKOUT_ERROR_RATIO, "unit": "ratio"}
    run = run_probe(AnomaliesProbe, config={"prometheus": shop.config()}, options={"queries": [real]}, at=AT)
    (finding,) = run.findings
    assert finding.title.startswith("checkout errors of checkout rose to 12 %")


def test_max_series_limits_what_prometheus_returns(shop: PrometheusServer) -> None:
    errors = {"name": "error rate", "query": 'sum by (job) (rate(http_requests_total{code="500"}[5m]))'}
    run = run_probe(
        AnomaliesProbe,
        config={"prometheus": shop.config()},
        options={"queries": [errors], "max_series": 1},
        at=AT,
    )
    assert [f.kind for f in run.findings] == ["metric_anomaly", "metric_series_limited"]
    anomaly, limited = run.findings
    # only checkout's series (the largest latest error rate) was fetched, decoded and judged;
    # legacy, which vanished, is not among them
    assert anomaly.entity.name == "checkout"
    assert anomaly.evidence.details["series_returned"] == 1
    assert anomaly.evidence.details["series_not_judged_over_limit"] == 4
    assert limited.severity is Severity.INFO
    assert limited.title == (
        "error rate returns 5 series, over max_series 1: only the 1 with the largest latest value were judged"
    )
    assert limited.evidence.details["series_count"] == 5


def test_credentials_never_reach_the_report(shop: PrometheusServer) -> None:
    from diagnostics import report_to_dict

    url = shop.url.replace("http://", "http://diag:pw-s3cr3t-9@")
    run = run_probe(AnomaliesProbe, config={"prometheus": {"url": url}}, at=AT)
    assert run.findings  # the staged incidents, found through an authenticated URL
    assert "pw-s3cr3t-9" not in json.dumps(report_to_dict(run.report))
    token = run_probe(AnomaliesProbe, config={"prometheus": shop.config(bearer_token="tok-s3cr3t-9")}, at=AT)
    assert token.findings and "tok-s3cr3t-9" not in json.dumps(report_to_dict(token.report))


def test_staged_down_target_in_the_past(shop: PrometheusServer) -> None:
    run = run_probe(ScrapeProbe, config={"prometheus": shop.config()}, at=AT)
    (finding,) = run.findings
    assert finding.kind == "target_down"
    assert finding.severity is Severity.WARNING
    assert finding.title == "1 of 2 targets of job api down since 18:50Z: api-2:8080"
    assert finding.onset == incidents.TARGET_DOWN_AT
    assert finding.entity.name == "api"
    healthy = run_probe(ScrapeProbe, config={"prometheus": shop.config()}, at=HEALTHY_AT)
    assert healthy.outcome.status is Status.OK and healthy.findings == ()


def _firing(server: PrometheusServer) -> bool:
    alerts = server.api("/api/v1/alerts")["data"]["alerts"]
    stored = server.api("/api/v1/query?query=ALERTS_FOR_STATE")["data"]["result"]
    return any(
        a["state"] == "firing" and a["labels"]["alertname"] == "PaymentsTargetDown" for a in alerts
    ) and bool(stored)


@pytest.fixture(scope="module")
def live(shop: PrometheusServer) -> PrometheusServer:
    """The server once its live rule evaluation made PaymentsTargetDown fire."""
    shop.wait_for(_firing, timeout=30)
    return shop


def test_live_down_target(live: PrometheusServer) -> None:
    # 3 s back, so that every scrape up to then is stored (a scrape timing out at "now" lands a
    # second later), once both jobs were scraped a few seconds before that (the range's points
    # fall on whole seconds and every 1.25 s: its last may precede a scrape that only just began)
    live.wait_for(
        lambda server: (
            {"payments", "prometheus"}
            <= {labels["job"] for labels, _ in _up_at(server, datetime.now(UTC) - timedelta(seconds=6))}
        )
    )
    at = datetime.now(UTC) - timedelta(seconds=3)
    run = run_probe(ScrapeProbe, config={"prometheus": live.config()}, at=at, window="5m")
    down = run.of_kind("target_down")
    # exactly the jobs whose last scrape failed: payments (refused), and the self-scraping job
    # only if, on a starved CPU, its 1 s self-scrape timed out just then
    failed = sorted(labels["job"] for labels, value in _up_at(live, at) if value == 0)
    assert "payments" in failed
    assert sorted(f.entity.name for f in down) == failed
    finding = next(f for f in down if f.entity.name == "payments")
    assert finding.severity is Severity.CRITICAL
    assert finding.title.startswith("All 1 target of job payments down since ")
    assert "connection refused" in finding.title
    assert finding.evidence.details["targets"][0]["instance"] == live.down_target


def _up_at(server: PrometheusServer, at: datetime) -> list[tuple[dict[str, str], float]]:
    """Every target's ``up`` as of ``at`` (the last scrape Prometheus stored by then)."""
    answer = server.api(f"/api/v1/query?query=up&time={at.timestamp():.3f}")
    return [(r["metric"], float(r["value"][1])) for r in answer["data"]["result"]]


def test_firing_and_pending_alerts(live: PrometheusServer) -> None:
    run = run_probe(AlertsProbe, config={"prometheus": live.config()}, at=datetime.now(UTC), window="5m")
    firing = run.of_kind("alert_firing")
    assert [f.evidence.details["alertname"] for f in firing] == ["PaymentsTargetDown"]
    alert = firing[0]
    assert alert.severity is Severity.CRITICAL
    assert alert.entity.kind == "service" and alert.entity.name == "payments"
    assert alert.title.endswith(f": payments target {live.down_target} is down")
    assert alert.onset is not None and alert.onset <= datetime.now(UTC)
    assert alert.next_steps == ("https://runbooks.example/payments-down",)
    (pending,) = run.of_kind("alert_pending")
    assert pending.evidence.details["alertname"] == "SlowBurn"
    assert pending.severity is Severity.WARNING  # critical, one level lower while pending
    # Watchdog fires too, by design, and is ignored
    assert "Watchdog" not in {f.evidence.details["alertname"] for f in run.findings}


def test_unreachable_alertmanager_keeps_the_prometheus_alerts(live: PrometheusServer) -> None:
    alertmanager = f"http://127.0.0.1:{free_port()}"
    run = run_probe(
        AlertsProbe,
        config={"prometheus": live.config(alertmanager_url=alertmanager)},
        at=datetime.now(UTC),
        window="5m",
    )
    assert run.outcome.status is Status.CRITICAL, run.outcome.error
    assert [f.evidence.details["alertname"] for f in run.of_kind("alert_firing")] == ["PaymentsTargetDown"]
    (unreachable,) = run.of_kind("alertmanager_unreachable")
    assert unreachable.severity is Severity.WARNING
    assert unreachable.title == (
        f"Alertmanager alerts not read: cannot reach Alertmanager at {alertmanager}: Connection refused"
    )
    assert live.url not in unreachable.title
    assert unreachable.evidence.details["error_kind"] == "connect"


def test_no_alert_at_a_past_moment(live: PrometheusServer) -> None:
    run = run_probe(AlertsProbe, config={"prometheus": live.config()}, at=AT)
    assert run.outcome.status is Status.OK and run.findings == ()


# -- failures: a clean error outcome, never a traceback ----------------------------------


def test_unreachable_prometheus_is_a_connect_error() -> None:
    url = f"http://user:hunter2@127.0.0.1:{free_port()}"
    for probe in (AnomaliesProbe, AlertsProbe, ScrapeProbe):
        run = run_probe(probe, config={"prometheus": {"url": url, "timeout": "2s"}}, at=AT)
        assert run.outcome.status is Status.ERROR
        assert run.outcome.error_kind is ErrorKind.CONNECT
        assert "Connection refused" in (run.outcome.error or "")
        assert "hunter2" not in (run.outcome.error or "")


def test_bad_promql_names_the_query(shop: PrometheusServer) -> None:
    run = run_probe(
        AnomaliesProbe,
        config={"prometheus": shop.config(bearer_token="tok-s3cr3t-value")},
        options={"queries": [{"name": "checkout latency", "query": "sum(rate(x[5m])"}]},
        at=AT,
    )
    assert run.outcome.status is Status.ERROR
    assert run.outcome.error_kind is ErrorKind.QUERY
    error = run.outcome.error or ""
    assert error.startswith("'checkout latency': Prometheus rejected query sum(rate(x[5m])")
    assert "parse error" in error
    assert "tok-s3cr3t-value" not in error


class _HtmlPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html><body>Sign in to continue</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def html_server() -> Iterator[str]:
    with serving(_HtmlPage) as url:
        yield url


def test_non_json_answer_is_a_protocol_error(html_server: str) -> None:
    for probe in (AnomaliesProbe, AlertsProbe, ScrapeProbe):
        run = run_probe(probe, config={"prometheus": {"url": html_server}}, at=AT)
        assert run.outcome.status is Status.ERROR
        assert run.outcome.error_kind is ErrorKind.PROTOCOL
        assert "text/html" in (run.outcome.error or "")


def test_not_configured_is_skipped_with_a_hint() -> None:
    run = run_probe(AnomaliesProbe, config={}, at=AT)
    assert run.outcome.status is Status.SKIPPED
    assert "prometheus" in (run.outcome.hint or "")


def test_prometheus_url_from_the_environment(shop: PrometheusServer) -> None:
    run = run_probe(ScrapeProbe, config={}, env={"PROMETHEUS_URL": shop.url}, at=AT)
    assert run.outcome.status is Status.WARNING


def test_a_configured_query_matching_nothing_is_not_checked_never_clean(shop: PrometheusServer) -> None:
    run = run_probe(
        AnomaliesProbe,
        config={"prometheus": shop.config()},
        options={"queries": [{"name": "checkout p99", "query": 'checkout_p99_seconds{job="nope"}'}]},
        at=AT,
    )
    assert run.outcome.status is Status.NOT_CHECKED
    assert run.outcome.error == "no configured query returned a series ('checkout p99')"
    assert (
        run.outcome.hint is not None and "probes: {metrics.anomalies: {queries: [{name:" in run.outcome.hint
    )
    [metrics] = [row for row in coverage(run.report) if row.item is ChecklistItem.METRICS]
    assert metrics.state is Coverage.NOT_CHECKED
    assert metrics.detail.startswith("metrics.anomalies: no configured query returned a series")
    assert exit_status(run.report) is ExitStatus.UNKNOWN


def test_no_golden_signal_discovered_is_not_checked_with_the_line_to_add(shop: PrometheusServer) -> None:
    before_any_data = AT - timedelta(days=60)
    run = run_probe(AnomaliesProbe, config={"prometheus": shop.config()}, at=before_any_data)
    assert run.outcome.status is Status.NOT_CHECKED
    assert run.outcome.error is not None and run.outcome.error.startswith("no golden signal discovered")
    assert run.outcome.hint is not None and run.outcome.hint.startswith("probes: {metrics.anomalies:")
    text = render_text(run.report, color=False)
    assert "Check dashboards and metrics: not checked — metrics.anomalies: no golden signal" in text
    assert "Check dashboards and metrics: clean" not in text


def test_an_hourly_series_is_judged_in_its_own_samples(shop: PrometheusServer) -> None:
    """One hourly point three times the usual is a departure: persistence counts the series'
    own samples, not the 5-minute grid's, and a point every hour is no sparse history."""
    run = run_probe(
        AnomaliesProbe,
        config={"prometheus": shop.config()},
        options={"queries": [{"name": "orders per hour", "query": "orders_hourly"}]},
        at=AT,
    )
    (finding,) = run.findings
    details = finding.evidence.details
    assert finding.kind == "metric_anomaly" and details["change"] == "up"
    assert details["sampling_interval_s"] == 3600 and not details["short_history"]
    assert value(finding, "peak") == 1500 and "3x normal" in finding.title
    assert finding.onset == AT


def _young_services() -> Iterator[StagedSeries]:
    """Two services a day old, their traffic a 60 +- 30 daily wave; checkout's falls to 0 for
    the last half hour before AT."""
    at = AT.timestamp()
    start = at - timedelta(days=1, hours=2).total_seconds()
    rng = np.random.default_rng(5)
    times = np.arange(start, at + 1, 60.0)
    for service in ("checkout", "search"):
        wave = (60 + 30 * np.cos(2 * np.pi * (times % 86_400) / 86_400)) * (
            1 + 0.05 * rng.normal(size=len(times))
        )
        if service == "checkout":
            wave[times >= at - 1800] = 0.0
        yield staged("service_requests_per_second", {"service": service}, start, 60, wave.tolist())


YOUNG = PrometheusDataset(name="young-services", series=_young_services)


def test_a_day_old_service_falling_to_zero_is_found(prometheus_server: Server) -> None:
    """Too young for a daily model, judged by a level whose spread holds the whole daily wave
    (0 is 2 robust deviations out): found because it lies far beyond the most extreme sample
    of its day, as the tail of that day measures it."""
    server = prometheus_server(YOUNG)
    query = {"name": "traffic", "query": "service_requests_per_second", "unit": "req/s"}
    run = run_probe(
        AnomaliesProbe, config={"prometheus": server.config()}, options={"queries": [query]}, at=AT
    )
    (finding,) = run.findings
    details = finding.evidence.details
    assert details["labels"]["service"] == "checkout" and details["direction"] == "level_shift"
    assert details["short_history"] and not details["seasonal"] and 0.9 < details["history_days"] < 1.1
    assert "shifted down to 0 req/s, 100 % below normal" in finding.title
    assert "(short history: 24h)" in finding.title
    assert value(finding, "normal low") > 0
    assert finding.onset is not None and abs(finding.onset - (AT - timedelta(minutes=30))) <= STEP
