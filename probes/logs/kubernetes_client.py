"""Reading pod logs through the Kubernetes API (``/api/v1/namespaces/{ns}/pods/{pod}/log``).

The pods the selector picks in the namespace (at most ``max_pods``), each container's log with
``timestamps=true``, ``sinceTime`` at the baseline's start, ``tailLines`` and ``limitBytes``
bounding each answer (the source's byte and line bounds shared among the containers). Each line
carries the kubelet's timestamp; the line's own timestamp (JSON, logfmt, plain) wins when it has
one, and an indented line without one continues the event before it (stack frames).
"""

from __future__ import annotations

from datetime import UTC, datetime

from diagnostics import ProbeContext
from probes.kubernetes.client import PODS, KubeApi
from probes.kubernetes.config import KubernetesSettings
from probes.logs.config import KubernetesSource
from probes.logs.levels import level_of_text
from probes.logs.lines import LineParser, RawEvent, detect_format, events
from probes.logs.model import Collected, ReadPlan
from probes.logs.tally import Tally
from probes.logs.timestamps import TimestampParser


class StampedParser(LineParser):
    """Parses ``<RFC 3339> <line>``: the line's own format, else the kubelet's timestamp."""

    def __init__(self, line_format: str, timestamps: TimestampParser) -> None:
        super().__init__(line_format, timestamps)
        self._own = self.parse
        self.parse = self._stamped

    def _stamped(self, line: str) -> RawEvent | None:
        stamp, _, rest = line.partition(" ")
        own = self._own(rest)
        if own is not None:
            return own
        if not rest or rest[:1].isspace() or rest.startswith(("at ", "Caused by", "...")):
            return None  # a continuation (stack frame)
        time = self.timestamps.value(stamp)
        return None if time is None else (time, level_of_text(rest), rest, None)


def read_pod_logs(source: KubernetesSource, plan: ReadPlan, ctx: ProbeContext) -> Collected:
    """Count the events of the selected pods' containers over ``plan``."""
    settings = KubernetesSettings(
        namespaces=(source.namespace,),
        context=source.context,
        kubeconfig=source.kubeconfig,
        in_cluster=source.in_cluster,
    )
    tally = Tally(plan)
    since = datetime.fromtimestamp(plan.start, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with KubeApi(settings, ctx) as api:
        listing = api.list_objects(PODS, label_selector=source.selector)
        pods = sorted(listing.items, key=lambda p: str(p.get("metadata", {}).get("name")))[: source.max_pods]
        containers = [
            (str(pod["metadata"]["name"]), str(container["name"]))
            for pod in pods
            for container in pod.get("spec", {}).get("containers", [])
            if source.container in (None, container.get("name"))
        ]
        share_bytes = max(1024, plan.max_bytes // max(1, len(containers)))
        share_lines = max(1000, plan.max_lines // max(1, len(containers)))
        for pod, container in containers:
            text = api.pod_log(
                source.namespace,
                pod,
                container,
                since_time=since,
                tail_lines=share_lines,
                limit_bytes=share_bytes,
            )
            if text is None:
                continue
            lines = text.splitlines()
            timestamps = TimestampParser(reference=plan.at)
            line_format: str = source.format
            if line_format == "auto":
                line_format = detect_format(line.partition(" ")[2] for line in lines[:50])
            for event in events(lines, StampedParser(line_format, timestamps)):
                tally.add(event)
        queries = tuple(api.queries) + tuple(
            f"GET /api/v1/namespaces/{source.namespace}/pods/{pod}/log?container={c}&timestamps=true&sinceTime={since}"
            for pod, c in containers
        )
    return tally.collected(queries=queries, details={"pods": len(pods), "containers": len(containers)})
