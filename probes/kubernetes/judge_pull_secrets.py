"""Judging missing image pull secrets, from the kubelet's ``FailedToRetrieveImagePullSecret`` events.

The kubelet reports, per pod, the pull secrets it could not read (``Unable to retrieve some
image pull secrets (regcred); attempting to pull the image may not succeed.``). Grouped by
workload: critical when that workload's pods also cannot pull their image (the missing secret
is the likely reason), a warning otherwise (a public or cached image still starts).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from diagnostics import Finding, Measurement, Severity
from probes.kubernetes.findings import MakeFinding
from probes.kubernetes.judge_events import EventGroup
from probes.kubernetes.pod_problems import ProblemGroup

PULL_SECRET_REASON = "FailedToRetrieveImagePullSecret"
_SECRETS = re.compile(r"image pull secrets \(([^)]*)\)")


def missing_secrets(messages: Iterable[str]) -> list[str]:
    """The secret names the kubelet's messages list, each once."""
    names: dict[str, None] = {}
    for message in messages:
        for match in _SECRETS.finditer(message):
            names.update(dict.fromkeys(n.strip() for n in match[1].split(",") if n.strip()))
    return list(names)


def judge_pull_secrets(
    event_groups: Iterable[EventGroup],
    pod_groups: Iterable[ProblemGroup],
    *,
    queries: Iterable[str],
    kubectl_suffix: str,
    make: MakeFinding,
) -> list[Finding]:
    """A finding per workload whose pods name image pull secrets that do not exist."""
    pulling = {g.workload.key for g in pod_groups if g.kind == "image_pull"}
    findings = []
    for group in event_groups:
        if group.reason != PULL_SECRET_REASON:
            continue
        secrets = missing_secrets(group.messages) or ["?"]
        namespace = group.entity.attributes.get("namespace", "default")
        kind = group.entity.attributes.get("workload_kind", group.entity.kind)
        blocking = group.entity.name in pulling
        findings.append(
            make(
                kind="pull_secret_missing",
                severity=Severity.CRITICAL if blocking else Severity.WARNING,
                title=f"Pods of {kind} {group.entity.name} name missing image pull secret {', '.join(secrets)}",
                entity=group.entity,
                summary=(
                    "Their image pull fails: the registry refuses the request without these credentials."
                    if blocking
                    else "The kubelet pulls without these credentials; a private image would not be pulled."
                )
                + f" Reported for {', '.join(group.objects[:5])}.",
                values=[Measurement(name="events", value=group.count, unit="count")],
                queries=[q for q in queries if "/events" in q],
                details={"secrets": secrets, **group.details()},
                onset=group.first,
                next_steps=[
                    f"kubectl get secrets -n {namespace}{kubectl_suffix}",
                    f"kubectl create secret docker-registry {secrets[0]} -n {namespace} ...  # or fix imagePullSecrets",
                ],
            )
        )
    return findings
