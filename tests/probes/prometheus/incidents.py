"""Staged incidents in a shop's metrics, at fixed past times, for the real-Prometheus tests.

Every job serves HTTP traffic with a daily evening peak (19:00Z) and a little noise, sampled
every minute for the 9 days before :data:`AT`. At :data:`AT` (a Wednesday 19:00Z, the top of
the evening peak):

- checkout: 12 % of requests fail from :data:`ERROR_ONSET` (8 minutes before): an error spike;
- search: p99 latency shifts from ~0.24 s to ~2 s at :data:`LATENCY_ONSET` (40 minutes before);
- cart: traffic drops to zero at :data:`DROP_ONSET` (10 minutes before), still reported;
- billing: its process restarted at :data:`RESET_AT` (the counter reset to 0), nothing else;
- legacy: stopped reporting at :data:`VANISHED_AT`;
- catalog: healthy (its evening peak is usual);
- up: target api-2 of job api down from :data:`TARGET_DOWN_AT`;
- queue_capacity: worker flat at 45 all along; worker2 flat at 45, then 90 from :data:`FLAT_SHIFT_AT`;
- batch_duration_seconds: sparse (one sample an hour), wild values; feature_evaluations: new
  (only since 3 hours), jumping 10x.

:data:`HEALTHY_AT`, a day earlier at the same time, has no incident at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np

from tests.support.prometheus import PrometheusDataset, StagedSeries, staged

AT = datetime(2025, 3, 12, 19, 0, tzinfo=UTC)
HEALTHY_AT = AT - timedelta(days=1)
ERROR_ONSET = AT - timedelta(minutes=8)
LATENCY_ONSET = AT - timedelta(minutes=40)
DROP_ONSET = AT - timedelta(minutes=10)
RESET_AT = AT - timedelta(minutes=20)
VANISHED_AT = AT - timedelta(minutes=15)
TARGET_DOWN_AT = AT - timedelta(minutes=10)
FLAT_SHIFT_AT = AT - timedelta(minutes=30)
STEP = 60.0
START = AT - timedelta(days=9)

JOBS = {"checkout": 50.0, "search": 80.0, "cart": 30.0, "billing": 20.0, "legacy": 10.0, "catalog": 40.0}
BUCKETS = ("0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf")
NORMAL_SHARES = np.array([0.60, 0.30, 0.095, 0.004, 0.001, 0.0, 0.0])
SLOW_SHARES = np.array([0.30, 0.20, 0.20, 0.15, 0.12, 0.029, 0.001])


def _times() -> np.ndarray:
    count = int((AT - START).total_seconds() // STEP) + 1
    return START.timestamp() + STEP * np.arange(count)


def _traffic(times: np.ndarray, base: float, rng: np.random.Generator) -> np.ndarray:
    """Requests per second: a daily bump peaking at 19:00Z, 3 % noise."""
    hours = (times % 86400) / 3600
    distance = np.minimum(np.abs(hours - 19), 24 - np.abs(hours - 19))
    bump = np.exp(-((distance / 2.5) ** 2))
    traffic: np.ndarray = base * (1 + 0.8 * bump) * (1 + rng.normal(0, 0.03, len(times)))
    return traffic


def _counter(per_minute: np.ndarray, reset_index: int | None = None) -> np.ndarray:
    counts = np.cumsum(per_minute)
    if reset_index is not None:
        counts[reset_index:] -= counts[reset_index - 1]
    return counts


def _http_series(
    job: str, base: float, times: np.ndarray, rng: np.random.Generator
) -> Iterator[StagedSeries]:
    rps = _traffic(times, base, rng)
    if job == "cart":
        rps = np.where(times >= DROP_ONSET.timestamp(), 0.0, rps)
    error_share = np.clip(rng.normal(0.003, 0.0008, len(times)), 0, 1)
    if job == "checkout":
        error_share = np.where(times >= ERROR_ONSET.timestamp(), 0.12, error_share)
    requests = rps * STEP
    reset = int(np.searchsorted(times, RESET_AT.timestamp())) if job == "billing" else None
    keep = times < VANISHED_AT.timestamp() if job == "legacy" else np.ones(len(times), dtype=bool)
    for code, share in (("200", 1 - error_share), ("500", error_share)):
        values = np.where(keep, _counter(requests * share, reset), np.nan)
        yield staged("http_requests_total", {"job": job, "code": code}, times[0], STEP, values)
    if job in ("checkout", "search"):
        slow = (times >= LATENCY_ONSET.timestamp()) if job == "search" else np.zeros(len(times), dtype=bool)
        noise = rng.normal(1, 0.02, (len(times), len(BUCKETS)))
        shares = np.where(slow[:, None], SLOW_SHARES, NORMAL_SHARES) * noise
        shares /= shares.sum(axis=1, keepdims=True)
        cumulative = np.cumsum(shares, axis=1) * requests[:, None]
        counts = np.cumsum(cumulative, axis=0)
        for column, le in enumerate(BUCKETS):
            labels = {"job": job, "le": le}
            yield staged("http_request_duration_seconds_bucket", labels, times[0], STEP, counts[:, column])


def shop_series() -> Iterator[StagedSeries]:
    """Every staged series (deterministic)."""
    rng = np.random.default_rng(20250312)
    times = _times()
    for job, base in JOBS.items():
        yield from _http_series(job, base, times, rng)
    ones = np.ones(len(times))
    yield staged("up", {"job": "api", "instance": "api-1:8080"}, times[0], STEP, ones)
    down = np.where(times >= TARGET_DOWN_AT.timestamp(), 0.0, 1.0)
    yield staged("up", {"job": "api", "instance": "api-2:8080"}, times[0], STEP, down)
    yield staged("queue_capacity", {"job": "worker"}, times[0], STEP, 45.0 * ones)
    shifted = np.where(times >= FLAT_SHIFT_AT.timestamp(), 90.0, 45.0)
    yield staged("queue_capacity", {"job": "worker2"}, times[0], STEP, shifted)
    hourly = np.where((np.arange(len(times)) % 60) == 0, rng.uniform(10, 1000, len(times)), np.nan)
    hourly[np.searchsorted(times, (AT - timedelta(minutes=2)).timestamp())] = 50_000.0
    yield staged("batch_duration_seconds", {"job": "batch"}, times[0], STEP, hourly)
    since = times >= (AT - timedelta(hours=3)).timestamp()
    jump = np.where(times >= (AT - timedelta(minutes=30)).timestamp(), 1000.0, 100.0)
    yield staged("feature_evaluations", {"job": "flags"}, times[0], STEP, np.where(since, jump, np.nan))
    # a downsampled store's hourly means, the last one (stamped at AT) three times the usual
    hours = np.arange(times[0], AT.timestamp() + 1, 3600.0)
    hourly_orders = 500 * (1 + rng.normal(0, 0.04, len(hours)))
    hourly_orders[-1] = 1500.0
    yield staged("orders_hourly", {"job": "orders"}, hours[0], 3600.0, hourly_orders)


ALERT_RULES = """
groups:
  - name: staged
    rules:
      - alert: PaymentsTargetDown
        expr: up{job="payments"} == 0
        labels: {severity: critical}
        annotations:
          summary: "{{ $labels.job }} target {{ $labels.instance }} is down"
          runbook_url: https://runbooks.example/payments-down
      - alert: SlowBurn
        expr: vector(1)
        for: 1h
        labels: {severity: critical}
        annotations: {summary: "always pending"}
      - alert: Watchdog
        expr: vector(1)
        annotations: {summary: "heartbeat, always firing"}
"""

SHOP = PrometheusDataset(
    name="shop",
    series=shop_series,
    rules=ALERT_RULES,
    scrape_self=True,
    scrape_down_job="payments",
)
