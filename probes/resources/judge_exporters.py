"""Judging node_exporter targets Prometheus cannot scrape: the hosts it has gone blind to (pure).

A node_exporter that was scraped within the history (``baseline``) and whose ``up`` is 0 now is
an ``exporter_down`` warning on its host, dated by the start of its run of failed scrapes: its
host's CPU, memory and disks are no longer judged. ``metrics.scrape`` reports the same target
from the job's side.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from datetime import UTC

from diagnostics import Entity, Measurement, Severity
from probes.resources import promql
from probes.resources.client_nodes import HOST, NodeSnapshot
from probes.resources.judge_nodes import host_entities
from probes.resources.problem import OnsetQuery, Problem

KIND = "exporter_down"


def judge_exporters(snapshot: NodeSnapshot, queries: promql.QuerySet) -> Iterator[Problem]:
    """One warning per node_exporter target that is down."""
    down = snapshot["exporter_down"]
    hosts = host_entities(snapshot)
    for key in sorted(down.values):
        instance = key[0]
        job = (down.labels.get(key) or {}).get("job", "")
        base = hosts.get(instance) or Entity(kind="host", name=instance)
        entity = dataclasses.replace(base, attributes={**base.attributes, "instance": instance, "job": job})
        down_query = queries.scoped(promql.EXPORTER_DOWN, {"instance": instance, "job": job})
        yield Problem(
            kind=KIND,
            severity=Severity.WARNING,
            title=f"node exporter on {entity.name} down",
            summary=(
                f"Prometheus cannot scrape node_exporter at {instance} (job {job}): the host's CPU, memory and "
                "disks go unjudged. metrics.scrape reports the same target."
            ),
            entity=entity,
            values=(Measurement(name="up", value=0, unit="count"),),
            queries=(down_query,),
            details={"instance": instance, "job": job, "scrape_probe": "metrics.scrape"},
            next_steps=(
                f"ssh {entity.name} systemctl status prometheus-node-exporter  # or node_exporter",
                f"curl -sS http://{instance}/metrics | head",
                "Prometheus' /targets page: the scrape error of this target",
            ),
            onset_query=OnsetQuery(promql=queries.fleet(promql.EXPORTER_DOWN), key_labels=HOST),
            onset_keys=(key,),
        )


def titled_with_onset(problems: Sequence[Problem]) -> list[Problem]:
    """``exporter_down`` titles say since when (after the onsets are looked up)."""
    titled = []
    for problem in problems:
        if problem.kind == KIND:
            if problem.onset is not None:
                since = f" since {problem.onset.astimezone(UTC):%Y-%m-%d %H:%M:%S}Z"
            elif problem.began_before_window:
                since = " since before the diagnosed window"
            else:
                since = ""
            problem = dataclasses.replace(problem, title=problem.title + since)
        titled.append(problem)
    return titled
