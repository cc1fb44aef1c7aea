"""What a finding does to users and data: the impact class and reach the ranking uses.

Impact classes, worst first:

==============  ==========================================================================
failing         users or callers get errors now: a user-facing error ratio or traffic drop,
                a dependency that refuses, times out or answers errors, a pool unreachable
blocked         work is blocked or refused now: lock trees, exhausted connections, clients
                queued in a pool, crash-looping or OOM-killed containers, pending pods
data_at_risk    data can be lost or writes stop: disks and inodes filling, replication
                broken or lagging, transaction-id wraparound
degraded        slower or unusual: latency, slow statements, anomalies, alerts, anything
                else a probe reports
saturation      a resource is busy (CPU, memory, disk I/O, network, file handles of a
                host, node or container) and no finding shows who suffers from it
==============  ==========================================================================

A probe may state the class in ``details["impact"]`` and the number of sessions, requests,
pods or users touched in ``details["affected"]``; otherwise both are read from the kind, the
checklist item and the count measurements.
"""

from __future__ import annotations

from enum import IntEnum
from functools import lru_cache

from diagnostics.model import ChecklistItem, Finding
from diagnostics.summary.severity import DATA_AT_RISK_WORDS, current_value, normal_value, signal_of


class Impact(IntEnum):
    """How directly a finding touches users and data; higher ranks first."""

    SATURATION = 0
    DEGRADED = 1
    DATA_AT_RISK = 2
    BLOCKED = 3
    FAILING = 4

    @property
    def label(self) -> str:
        return IMPACT_LABELS[self]

    @property
    def phrase(self) -> str:
        return IMPACT_PHRASES[self]


IMPACT_LABELS = {impact: impact.name.lower() for impact in Impact}
IMPACT_PHRASES = {
    Impact.FAILING: "failing now",
    Impact.BLOCKED: "blocking work now",
    Impact.DATA_AT_RISK: "data at risk",
    Impact.DEGRADED: "degraded",
    Impact.SATURATION: "generic saturation",
}

FAILING_KINDS = frozenset(
    {"dns_failure", "connect_refused", "connect_timeout", "tls_error", "read_timeout", "redirect_loop",
     "proxy_error", "connection_error", "http_status", "http_body", "pgbouncer_unreachable",
     "container_error", "image_pull"}
)  # fmt: skip
"""Kinds whose finding means requests fail now (dependencies, pools, containers not starting)."""
BLOCKED_KINDS = frozenset(
    {"connections_exhausted", "connection_saturation", "pgbouncer_clients_waiting", "deadlocks",
     "oom_kill", "oom_killed", "container_oom", "crash_loop", "evicted", "pending", "rollout_stuck",
     "restarts", "container_restarts", "node_not_ready"}
)  # fmt: skip
"""Kinds whose finding means work waits, is refused or keeps dying now."""
BLOCKED_WORDS = ("lock",)
"""Any kind naming a lock (lock trees, statements waiting on a lock)."""
DATA_KINDS = frozenset({"wal_receiver_down", "standby_replay_lag", "xid_wraparound"})
SATURATION_ENTITIES = frozenset({"host", "node", "process", "container"})
REACH_WORDS = ("session", "client", "connection", "request", "pod", "user", "replica", "attempt",
               "statement", "quer", "caller", "execution")  # fmt: skip
NOT_REACH_WORDS = ("limit", "max", "usable", "total", "reserved", "desired", "hidden", "seen", "since")


def impact_of(finding: Finding, item: ChecklistItem | None) -> Impact:
    """The impact class of a finding (see the module docstring)."""
    declared = finding.evidence.details.get("impact")
    if isinstance(declared, str) and declared.upper() in Impact.__members__:
        return Impact[declared.upper()]
    signal = signal_of(finding)
    if signal == "error_ratio" or _traffic_lost(finding, signal):
        return Impact.FAILING
    return _impact_of_kind(finding.kind, item, finding.entity.kind)


@lru_cache(maxsize=1024)
def _impact_of_kind(kind: str, item: ChecklistItem | None, entity_kind: str) -> Impact:
    """The class a finding's kind, checklist item and entity kind give it (few distinct ones)."""
    if kind in FAILING_KINDS:
        return Impact.FAILING
    if kind in BLOCKED_KINDS or any(word in kind for word in BLOCKED_WORDS):
        return Impact.BLOCKED
    if kind in DATA_KINDS or any(word in kind for word in DATA_AT_RISK_WORDS):
        return Impact.DATA_AT_RISK
    if item is ChecklistItem.RESOURCES or entity_kind in SATURATION_ENTITIES:
        return Impact.SATURATION
    return Impact.DEGRADED


def _traffic_lost(finding: Finding, signal: str | None) -> bool:
    if signal != "traffic":
        return False
    current, normal = current_value(finding), normal_value(finding)
    return current is not None and bool(normal) and current < (normal or 0)


def reach_of(finding: Finding) -> tuple[int, str] | None:
    """How many sessions, requests, pods or users the finding touches, and what they are."""
    declared = finding.evidence.details.get("affected")
    if isinstance(declared, int) and not isinstance(declared, bool):
        return declared, "affected"
    for measurement in finding.evidence.values:
        name = measurement.name.lower()
        if measurement.unit != "count" or not isinstance(measurement.value, int | float):
            continue
        if any(w in name for w in REACH_WORDS) and not any(w in name for w in NOT_REACH_WORDS):
            return int(measurement.value), measurement.name
    return None
