"""When CronJobs are due (cronsim, time zones, macros), and parsing of quantities, slices and HPAs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from probes.kubernetes.cron import ScheduleError, last_due, next_due
from probes.kubernetes.parse_cluster import parse_autoscaler, parse_endpoint_slice, quantity

T = datetime(2026, 3, 28, 23, 30, tzinfo=UTC)  # the night before Europe/Berlin's switch to summer time


def test_last_and_next_due_in_utc() -> None:
    assert last_due("*/15 * * * *", None, T) == T
    assert last_due("*/15 * * * *", None, T.replace(minute=44)) == T
    assert next_due("*/15 * * * *", None, T) == T.replace(minute=45)


def test_macros_and_time_zones() -> None:
    assert last_due("@hourly", None, T) == T.replace(minute=0)
    assert next_due("@daily", None, T) == datetime(2026, 3, 29, 0, 0, tzinfo=UTC)
    # 02:30 Berlin does not exist on 29 March (clocks jump 02:00 -> 03:00); 04:00 Berlin is 02:00 UTC
    assert next_due("0 4 * * *", "Europe/Berlin", T) == datetime(2026, 3, 29, 2, 0, tzinfo=UTC)
    assert next_due("CRON_TZ=America/New_York 0 9 * * 1-5", None, T) == datetime(
        2026, 3, 30, 13, 0, tzinfo=UTC
    )


def test_bad_schedules_and_zones_raise_schedule_error() -> None:
    with pytest.raises(ScheduleError, match="cannot parse schedule"):
        last_due("61 * * * *", None, T)
    with pytest.raises(ScheduleError, match="unknown time zone"):
        last_due("0 * * * *", "Mars/Olympus_Mons", T)


@pytest.mark.parametrize(
    ("text", "value"),
    [("250m", 0.25), ("512Mi", 512 * 2**20), ("1.5", 1.5), ("2k", 2000.0), (70, 70.0), ("12Gi", 12 * 2**30)],
)
def test_quantities(text: object, value: float) -> None:
    assert quantity(text) == value


def test_unparseable_quantities_are_none() -> None:
    assert quantity("lots") is None
    assert quantity(None) is None


def test_an_endpoint_without_ready_condition_counts_as_ready() -> None:
    sliced = parse_endpoint_slice(
        {
            "metadata": {"namespace": "shop", "labels": {"kubernetes.io/service-name": "web"}},
            "endpoints": [
                {"addresses": ["10.0.0.1"]},
                {
                    "addresses": ["10.0.0.2"],
                    "conditions": {"ready": False},
                    "targetRef": {"kind": "Pod", "name": "web-1"},
                },
            ],
        }
    )
    assert sliced is not None
    assert (sliced.ready, sliced.not_ready, sliced.not_ready_pods) == (1, 1, ("web-1",))


def test_autoscaler_metrics_are_matched_by_type_and_name() -> None:
    hpa = parse_autoscaler(
        {
            "metadata": {"namespace": "shop", "name": "api"},
            "spec": {
                "scaleTargetRef": {"kind": "Deployment", "name": "api"},
                "maxReplicas": 8,
                "metrics": [
                    {
                        "type": "Pods",
                        "pods": {
                            "metric": {"name": "queue_depth"},
                            "target": {"type": "AverageValue", "averageValue": "30"},
                        },
                    },
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "memory",
                            "target": {"type": "Utilization", "averageUtilization": 80},
                        },
                    },
                ],
            },
            "status": {
                "currentReplicas": 8,
                "currentMetrics": [
                    {
                        "type": "Resource",
                        "resource": {"name": "memory", "current": {"averageUtilization": 61}},
                    },
                    {
                        "type": "Pods",
                        "pods": {"metric": {"name": "queue_depth"}, "current": {"averageValue": "42500m"}},
                    },
                ],
            },
        }
    )
    queue, memory = hpa.metrics
    assert (queue.name, queue.target, queue.current, queue.above_target) == ("queue_depth", 30.0, 42.5, True)
    assert (memory.unit, memory.current, memory.above_target) == ("%", 61.0, False)
