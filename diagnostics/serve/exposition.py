"""The ``/metrics`` series of ``diag serve``, in the Prometheus text format or OpenMetrics.

Series names are an interface (dashboards and alert rules rely on them):

- ``diag_probe_up{probe}``: 1 when the probe could check (ok, warning, critical), 0 on error
  or timeout; ``diag_probe_duration_seconds{probe}``;
- ``diag_findings{probe,severity}``: current findings per severity (0 included);
- ``diag_finding{probe,kind,severity,entity,fingerprint}``: 1 per current finding;
- ``diag_last_run_timestamp_seconds``, ``diag_run_duration_seconds``;
- the process's own ``process_*`` and ``python_*`` series (prometheus_client's collectors).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from diagnostics.model import Severity
from diagnostics.serve.state import LatestResults, ProbeResult, RunRecord

SEVERITIES = (Severity.CRITICAL, Severity.WARNING, Severity.INFO)


def probe_families(results: Mapping[str, ProbeResult]) -> list[Metric]:
    """The per-probe and per-finding series of these results."""
    up = GaugeMetricFamily(
        "diag_probe_up", "1 when the probe could check, 0 on error or timeout", labels=["probe"]
    )
    duration = GaugeMetricFamily(
        "diag_probe_duration_seconds", "How long the probe's newest run took", labels=["probe"]
    )
    counts = GaugeMetricFamily(
        "diag_findings", "Current findings of the probe by severity", labels=["probe", "severity"]
    )
    each = GaugeMetricFamily(
        "diag_finding",
        "1 per current finding",
        labels=["probe", "kind", "severity", "entity", "fingerprint"],
    )
    for probe in sorted(results):
        result = results[probe]
        up.add_metric([probe], 1.0 if result.outcome.status.checked else 0.0)
        duration.add_metric([probe], result.outcome.duration_s)
        for severity in SEVERITIES:
            number = sum(1 for f in result.findings if f.severity is severity)
            counts.add_metric([probe, severity.label], float(number))
        for finding in result.findings:
            each.add_metric(
                [probe, finding.kind, finding.severity.label, finding.entity.display(), finding.fingerprint],
                1.0,
            )
    return [up, duration, counts, each]


def run_families(last_run: RunRecord | None) -> list[Metric]:
    """When the newest run ended and how long it took (absent before the first run)."""
    if last_run is None:
        return []
    timestamp = GaugeMetricFamily("diag_last_run_timestamp_seconds", "When the newest run ended (unix time)")
    timestamp.add_metric([], last_run.finished_at.timestamp())
    duration = GaugeMetricFamily("diag_run_duration_seconds", "How long the newest run took")
    duration.add_metric([], last_run.duration_s)
    return [timestamp, duration]


class _Families(Collector):
    def __init__(self, families: Callable[[], Iterable[Metric]]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families()


def server_registry(latest: LatestResults) -> CollectorRegistry:
    """The registry behind ``/metrics``: the cached results and the process's own series."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(lambda: [*probe_families(latest.results()), *run_families(latest.last_run)]))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


def single_probe_registry(result: ProbeResult) -> CollectorRegistry:
    """The registry behind ``/probe?probe=ID``: that probe's series only."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(lambda: probe_families({result.outcome.probe: result})))
    return registry


def encode(registry: CollectorRegistry, accept: str | None) -> tuple[bytes, str]:
    """The registry's text in the format the ``Accept`` header asks for, and its content type."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type
