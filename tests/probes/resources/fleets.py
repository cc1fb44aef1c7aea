"""The staged fleets of the resource probes' real-Prometheus tests, at fixed past times.

:data:`INCIDENTS` (every 30 s for the 6 hours before :data:`AT`, judged over a 2 h window):

- db-1: ``/data`` (200 GiB) fills linearly from :data:`FILL_ONSET` and is full 3 h after AT;
  ``/backup`` has been 96 % full all along (a breach that began before the window);
- api-7: 4 cores 100 % busy with load 32 (8x the cores) from :data:`CPU_ONSET`;
- batch-2: the kernel's OOM killer fires at :data:`HOST_OOM_AT`;
- edge-3: eth0 drops about 3 packets/s, as always, then 40/s from :data:`DROPS_ONSET` (no
  fixed threshold crossed: a departure from its own baseline);
- db-2: ``/data`` (100 GiB) filled at 25 MiB/s for 50 min, then was emptied at
  :data:`EMPTIED_AT`: its hour-long trend still falls, but it is filling no more;
- web-1, web-2: healthy;
- shop/checkout (2 pods): container ``app`` throttled in 60 % (55 %) of its CFS periods from
  :data:`THROTTLE_ONSET`; its ``envoy`` sidecar is fine;
- shop/cart: container ``app`` climbs to 97 % of its 512 MiB limit from :data:`MEMORY_ONSET`;
- jobs/report-worker: container ``worker`` OOM-killed at :data:`CONTAINER_OOM_AT`, restarted;
- monitoring/prometheus-0, kube-system/node-exporter-x2b4k and a bare pod: healthy; pod-level
  cgroups (``container=""``, ``POD``) near their limits, which must be ignored.

:data:`HEALTHY` (every 60 s for 3 hours before AT, judged over 1 h): 50 hosts with everyday noise,
one of them with steady major page faults and one with steady drops above the baseline floors
(normal for them), and 100 healthy containers, some with restarts long ago. Only series above a
floor are compared with their baseline, so those two hosts alone have :data:`LONG_HISTORY` of
history: enough for the default one-day baseline.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np

from tests.probes.resources.staging import (
    GIB,
    MIB,
    Container,
    Disk,
    Filesystem,
    Host,
    Interface,
    const,
    container_series,
    host_series,
    linear_from,
    noisy,
    pod_cgroup_series,
    step_at,
    unique,
)
from tests.support.prometheus import PrometheusDataset, StagedSeries

AT = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
WINDOW = "2h"
FILL_ONSET = AT - timedelta(minutes=75)
FILL_FREE_AT_ONSET = 60 * GIB
FILL_RATE = FILL_FREE_AT_ONSET / (75 * 60 + 3 * 3600)  # bytes/s: empty 3 h after AT
CPU_ONSET = AT - timedelta(minutes=40)
HOST_OOM_AT = AT - timedelta(minutes=25)
DROPS_ONSET = AT - timedelta(minutes=20)
THROTTLE_ONSET = AT - timedelta(minutes=30)
MEMORY_ONSET = AT - timedelta(minutes=20)
EMPTIED_AT = AT - timedelta(minutes=6)
CONTAINER_OOM_AT = AT - timedelta(minutes=15)
CART_LIMIT = 512 * MIB
BACKUP_SIZE = 500 * GIB
LONG_HISTORY = timedelta(hours=27)
"""The default 1 d baseline, before a 1 h window, its 30 min lead-in and a 5 min rate: 25 h 35 min."""


def _times(hours: float, step: float) -> np.ndarray:
    count = int(hours * 3600 // step) + 1
    return AT.timestamp() - step * np.arange(count)[::-1]


def _plain_host(name: str, seed: int = 0, **changes: object) -> Host:
    rng = np.random.default_rng(seed)
    busy = float(rng.uniform(0.1, 0.5))
    cores = int(rng.choice([2, 4, 8]))
    defaults: dict[str, object] = {
        "instance": f"{name}:9100",
        "nodename": name,
        "cores": cores,
        "busy": noisy(const(busy), 0.03, f"{name}-busy", 0.0, 1.0),
        "load1": noisy(const(busy * cores * 1.2), 0.1 * cores, f"{name}-load"),
        "running": noisy(const(max(1.0, busy * cores)), 0.5, f"{name}-run"),
        "memory_available": noisy(const(float(rng.uniform(0.3, 0.7)) * 16 * GIB), 0.1 * GIB, f"{name}-mem"),
        "major_faults": noisy(const(float(rng.uniform(0, 20))), 2.0, f"{name}-pgmaj"),
        "filesystems": (
            Filesystem(
                mountpoint="/",
                device="/dev/sda1",
                size=50 * GIB,
                available=noisy(
                    linear_from(AT - timedelta(hours=8), float(rng.uniform(15, 35)) * GIB, -12_000.0),
                    20 * MIB,
                    f"{name}-root",
                ),
            ),
            Filesystem(
                mountpoint="/run", device="tmpfs", fstype="tmpfs", size=1 * GIB, available=const(0.01 * GIB)
            ),
        ),
        "disks": (
            Disk(
                device="sda",
                busy=noisy(const(float(rng.uniform(0.05, 0.3))), 0.02, f"{name}-io", 0, 1),
                queue=noisy(const(0.3), 0.05, f"{name}-q"),
            ),
        ),
        "interfaces": (Interface(device="eth0", drops=noisy(const(0.1), 0.05, f"{name}-drops")),),
    }
    defaults.update(changes)
    return Host(**defaults)  # type: ignore[arg-type]


def _emptied(t: np.typing.NDArray[np.float64]) -> np.typing.NDArray[np.float64]:
    """Free space of db-2:/data: falling 25 MiB/s for 50 min until EMPTIED_AT, 95 GiB free after."""
    filling = 95 * GIB - 25 * MIB * np.clip(t - (EMPTIED_AT - timedelta(minutes=50)).timestamp(), 0, None)
    result: np.typing.NDArray[np.float64] = np.where(t >= EMPTIED_AT.timestamp(), 95 * GIB, filling)
    return result


def incident_hosts() -> list[Host]:
    return [
        _plain_host(
            "db-1",
            1,
            filesystems=(
                Filesystem(
                    mountpoint="/data",
                    device="/dev/nvme1n1",
                    size=200 * GIB,
                    available=linear_from(FILL_ONSET, FILL_FREE_AT_ONSET, -FILL_RATE),
                ),
                Filesystem(mountpoint="/", device="/dev/nvme0n1p1", size=50 * GIB, available=const(30 * GIB)),
                Filesystem(
                    mountpoint="/backup",
                    device="/dev/sdb1",
                    size=BACKUP_SIZE,
                    available=const(0.04 * BACKUP_SIZE),
                ),
            ),
        ),
        _plain_host(
            "api-7",
            2,
            cores=4,
            busy=step_at(CPU_ONSET, 0.3, 1.0),
            load1=step_at(CPU_ONSET, 1.2, 32.0),
            running=step_at(CPU_ONSET, 2.0, 32.0),
        ),
        _plain_host("batch-2", 3, oom_kills=(HOST_OOM_AT,)),
        _plain_host(
            "edge-3",
            4,
            interfaces=(
                Interface(device="eth0", drops=noisy(step_at(DROPS_ONSET, 3.0, 40.0), 0.5, "edge-3-eth0")),
            ),
        ),
        _plain_host(
            "db-2",
            7,
            filesystems=(
                Filesystem(mountpoint="/data", device="/dev/nvme1n1", size=100 * GIB, available=_emptied),
            ),
        ),
        _plain_host("web-1", 5),
        _plain_host("web-2", 6),
    ]


def incident_containers() -> list[Container]:
    checkout_rs = ("ReplicaSet", "checkout-6b8f9d7c5c")
    return [
        Container(
            namespace="shop",
            pod="checkout-6b8f9d7c5c-q2w4z",
            container="app",
            cpu_usage=const(0.95),
            throttled_share=step_at(THROTTLE_ONSET, 0.02, 0.60),
            owner=checkout_rs,
        ),
        Container(
            namespace="shop",
            pod="checkout-6b8f9d7c5c-x7kpl",
            container="app",
            cpu_usage=const(0.9),
            throttled_share=step_at(THROTTLE_ONSET, 0.02, 0.55),
            owner=checkout_rs,
        ),
        Container(
            namespace="shop",
            pod="checkout-6b8f9d7c5c-q2w4z",
            container="envoy",
            cpu_limit=0.5,
            throttled_share=const(0.01),
            owner=checkout_rs,
        ),
        Container(
            namespace="shop",
            pod="checkout-6b8f9d7c5c-x7kpl",
            container="envoy",
            cpu_limit=0.5,
            throttled_share=const(0.01),
            owner=checkout_rs,
        ),
        Container(
            namespace="shop",
            pod="cart-5d7f8c9b4b-m2n4p",
            container="app",
            memory_limit=CART_LIMIT,
            working_set=lambda t: np.where(t >= MEMORY_ONSET.timestamp(), 0.97, 0.6) * CART_LIMIT,
            owner=("ReplicaSet", "cart-5d7f8c9b4b"),
        ),
        Container(
            namespace="jobs",
            pod="report-worker-7c9d5f6b8-z5z6q",
            container="worker",
            oom_kills=(CONTAINER_OOM_AT,),
            restarts=(CONTAINER_OOM_AT + timedelta(seconds=20),),
            last_terminated_reason="OOMKilled",
            owner=("ReplicaSet", "report-worker-7c9d5f6b8"),
        ),
        Container(
            namespace="monitoring",
            pod="prometheus-0",
            container="prometheus",
            memory_limit=4 * GIB,
            working_set=const(2 * GIB),
            owner=("StatefulSet", "prometheus"),
        ),
        Container(
            namespace="kube-system",
            pod="node-exporter-x2b4k",
            container="node-exporter",
            cpu_limit=None,
            memory_limit=None,
            owner=("DaemonSet", "node-exporter"),
        ),
        Container(namespace="default", pod="debug-shell", container="shell", restarts_before=2),
    ]


def _incidents() -> Iterator[StagedSeries]:
    yield from unique(_incident_series())


def _incident_series() -> Iterator[StagedSeries]:
    step = 30.0
    times = _times(6, step)
    for host in incident_hosts():
        yield from host_series(host, times, step)
    for container in incident_containers():
        yield from container_series(container, times, step)
    yield from pod_cgroup_series("shop", "checkout-6b8f9d7c5c-q2w4z", times, 0.99 * GIB, GIB)


def healthy_hosts() -> list[Host]:
    hosts = [_plain_host(f"node-{i:02d}", 100 + i) for i in range(48)]
    hosts.append(_plain_host("busy-pager", 200, major_faults=noisy(const(150.0), 10.0, "busy-pager-pgmaj")))
    hosts.append(
        _plain_host(
            "lossy-nic",
            201,
            interfaces=(Interface(device="eth0", drops=noisy(const(5.0), 0.7, "lossy-nic-eth0")),),
        )
    )
    return hosts


def healthy_containers() -> list[Container]:
    containers = []
    for index in range(50):
        rs = f"svc{index:02d}-6b8f9d7c5c"
        for pod in ("q2w4z", "x7kpl"):
            containers.append(
                Container(
                    namespace=f"team{index % 5}",
                    pod=f"{rs}-{pod}",
                    container="app",
                    cpu_usage=noisy(const(0.3), 0.05, f"{rs}-{pod}-cpu"),
                    throttled_share=noisy(const(0.03), 0.01, f"{rs}-{pod}-thr", 0, 1),
                    working_set=noisy(const(0.5 * GIB), 20 * MIB, f"{rs}-{pod}-ws"),
                    restarts_before=index % 3,
                    owner=("ReplicaSet", rs),
                )
            )
    return containers


def _healthy() -> Iterator[StagedSeries]:
    yield from unique(_healthy_series())


def _healthy_series() -> Iterator[StagedSeries]:
    step = 60.0
    times, long = _times(3, step), _times(LONG_HISTORY.total_seconds() / 3600, step)
    for host in healthy_hosts():
        yield from host_series(host, long if host.nodename in ("busy-pager", "lossy-nic") else times, step)
    for container in healthy_containers():
        yield from container_series(container, times, step)


INCIDENTS = PrometheusDataset(name="resources-incidents", series=_incidents)
HEALTHY = PrometheusDataset(name="resources-healthy-fleet", series=_healthy)


EXPORTER_DIED = AT - timedelta(minutes=20)
"""When node_exporter on gone-1 stopped answering (:data:`DEAD_EXPORTER`)."""


def _dead_exporter() -> Iterator[StagedSeries]:
    """gone-1's node_exporter answered every 30 s for 3 hours, then died at EXPORTER_DIED;
    web-9's still answers; new-2's started 10 minutes ago, its /data losing 2 MiB/s of its
    70 GiB free (10 h to full: too far ahead for 10 minutes of history to tell)."""
    from tests.support.prometheus import staged

    start = (AT - timedelta(hours=3)).timestamp()
    times = start + 30.0 * np.arange(6 * 60 + 1)
    alive = times < EXPORTER_DIED.timestamp()
    for host, died in (("gone-1", True), ("web-9", False)):
        labels = {"instance": f"{host}:9100", "job": "node"}
        up = np.where(alive, 1.0, 0.0) if died else np.ones(times.shape)
        load = np.where(alive, 0.5, np.nan) if died else np.full(times.shape, 0.5)
        yield staged("up", labels, start, 30.0, up)
        yield staged("node_load1", labels, start, 30.0, load)
    young = times >= (AT - timedelta(minutes=10)).timestamp()
    labels = {"instance": "new-2:9100", "job": "node"}
    fs = {**labels, "mountpoint": "/data", "device": "/dev/sdb1", "fstype": "ext4"}
    free = 70 * GIB - 2 * MIB * (times - (AT - timedelta(minutes=10)).timestamp())
    yield staged("up", labels, start, 30.0, np.where(young, 1.0, np.nan))
    yield staged("node_load1", labels, start, 30.0, np.where(young, 0.5, np.nan))
    yield staged("node_filesystem_avail_bytes", fs, start, 30.0, np.where(young, free, np.nan))
    yield staged("node_filesystem_size_bytes", fs, start, 30.0, np.where(young, 200 * GIB, np.nan))


DEAD_EXPORTER = PrometheusDataset(name="resources-dead-exporter", series=_dead_exporter)


def _spec_dropped() -> Iterator[StagedSeries]:
    """A kube-prometheus-stack cluster: no ``container_spec_*`` series; shop/cart's ``app`` at
    97 % of its 512 MiB limit from MEMORY_ONSET (the limit known from kube-state-metrics only),
    shop/web's ``app`` at 40 % of its limit."""
    start = (AT - timedelta(hours=3)).timestamp()
    times = start + 30.0 * np.arange(6 * 60 + 1)
    containers = (
        Container(
            namespace="shop",
            pod="cart-5d7f8c9b4b-m2n4p",
            container="app",
            memory_limit=CART_LIMIT,
            working_set=lambda t: np.where(t >= MEMORY_ONSET.timestamp(), 0.97, 0.6) * CART_LIMIT,
            owner=("ReplicaSet", "cart-5d7f8c9b4b"),
            spec_series=False,
        ),
        Container(
            namespace="shop",
            pod="web-6c8d9f7b5-k3l5m",
            container="app",
            memory_limit=GIB,
            working_set=const(0.4 * GIB),
            owner=("ReplicaSet", "web-6c8d9f7b5"),
            spec_series=False,
        ),
    )
    for container in containers:
        yield from container_series(container, times, 30.0)


SPEC_DROPPED = PrometheusDataset(name="resources-spec-dropped", series=_spec_dropped)
