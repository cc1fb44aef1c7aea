"""Plain-value snapshots for the judging tests."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from diagnostics import ProbeContext
from probes.resources import client_containers, client_nodes, promql
from probes.resources.baseline import Departure
from probes.resources.client import Key, Vector, empty
from probes.resources.client_containers import ContainerSnapshot
from probes.resources.client_nodes import NodeSnapshot
from probes.resources.containers import ContainerOptions, ContainerResourcesProbe
from probes.resources.containers import query_set as container_queries
from probes.resources.nodes import NodeOptions, NodeResourcesProbe
from probes.resources.nodes import query_set as node_queries

AT = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
WINDOW = timedelta(hours=1)
NODE_QUERIES: promql.QuerySet = node_queries(NodeOptions(), WINDOW)
CONTAINER_QUERIES: promql.QuerySet = container_queries(ContainerOptions(), WINDOW)
NODE_CTX = ProbeContext(probe_id=NodeResourcesProbe.id, at=AT, window=WINDOW, options=NodeOptions())
CONTAINER_CTX = ProbeContext(
    probe_id=ContainerResourcesProbe.id, at=AT, window=WINDOW, options=ContainerOptions()
)

Values = Mapping[Key, float]


def _labels(key_labels: tuple[str, ...], key: Key, extra: Mapping[str, str]) -> dict[str, str]:
    labels = dict(zip(key_labels, key, strict=True))
    if "instance" in labels:
        labels.setdefault("job", "node")
    return {**labels, **extra}


def vector(
    key_labels: tuple[str, ...], values: Values, extra: Mapping[str, Mapping[str, str]] | None = None
) -> Vector:
    """A vector as the fetcher builds it; ``extra`` labels per key (``"reason"`` ...)."""
    extra = extra or {}
    return Vector(
        query="synthetic",
        key_labels=key_labels,
        values=dict(values),
        labels={k: _labels(key_labels, k, extra.get("|".join(k), {})) for k in values},
    )


def nodes(departures: Mapping[str, Mapping[Key, Departure]] | None = None, **signals: Values) -> NodeSnapshot:
    vectors = {name: empty(keys) for name, (_, keys, _) in client_nodes.SIGNALS.items()}
    for name, values in signals.items():
        key_labels = client_nodes.SIGNALS[name][1]
        extra = (
            {"|".join(k): {"device": "/dev/sdb", "fstype": "xfs"} for k in values}
            if key_labels == client_nodes.FILESYSTEM
            else {}
        )
        if name == "uname":
            extra = {"|".join(k): {"nodename": k[0].split(":")[0] + ".example"} for k in values}
        vectors[name] = vector(key_labels, values, extra)
    return NodeSnapshot(
        present=frozenset(client_nodes.all_metrics()),
        signals=vectors,
        departures={k: dict(v) for k, v in (departures or {}).items()},
    )


def containers(
    extra: Mapping[str, Mapping[str, Mapping[str, str]]] | None = None, **signals: Values
) -> ContainerSnapshot:
    vectors = {name: empty(keys) for name, (_, keys, _) in client_containers.SIGNALS.items()}
    for name, values in signals.items():
        vectors[name] = vector(client_containers.SIGNALS[name][1], values, (extra or {}).get(name))
    return ContainerSnapshot(present=frozenset(client_containers.all_metrics()), signals=vectors)


def departure(value: float, normal_high: float, onset: datetime, *, censored: bool = False) -> Departure:
    """A departure as the baseline judge returns it (``censored``: it began before its range)."""
    return Departure(
        value=value,
        expected=normal_high / 2,
        normal_high=normal_high,
        score=12.0,
        onset=onset.timestamp(),
        onset_censored=censored,
    )
