"""Judging admission webhooks: a webhook whose Service is missing or has no ready endpoint.

The API server calls every matching webhook on each request it admits. When the webhook's
Service is gone or has no ready pod, a webhook with ``failurePolicy: Fail`` (the default)
refuses every matching request: pods, ReplicaSets, anything its rules name cannot be created in
the namespaces it selects (critical). With ``Ignore`` each request waits for the call to fail
first (a warning). One finding per configuration and Service; ``details.webhooks`` names the
webhooks, so the summary can link the failed creations whose messages name them
(``failed calling webhook "NAME"``). Webhooks called by URL are not checked.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

from diagnostics import Entity, Finding, Measurement, Severity
from probes.kubernetes.client_cluster import AdmissionData
from probes.kubernetes.cluster_objects import Webhook
from probes.kubernetes.findings import MakeFinding, live_state_note
from probes.kubernetes.judge_services import ready_addresses


def _scope(hooks: Iterable[Webhook]) -> str:
    listed = list(hooks)
    operations = sorted({o for h in listed for o in h.operations}) or ["*"]
    resources = sorted({r for h in listed for r in h.resources}) or ["*"]
    selectors = {json.dumps(h.namespace_selector, sort_keys=True) for h in listed if h.namespace_selector}
    where = f"namespaces matching {', '.join(sorted(selectors))}" if selectors else "every namespace"
    return f"{'/'.join(operations)} of {', '.join(resources)} in {where}"


def judge_webhooks(
    data: AdmissionData, *, at: datetime, server_time: datetime | None, kubectl_suffix: str, make: MakeFinding
) -> list[Finding]:
    """A finding per webhook configuration calling a Service that is missing or has no ready endpoint."""
    totals = ready_addresses(data.slices)
    grouped: dict[tuple[str, str, str], list[Webhook]] = {}
    for hook in data.webhooks:
        if hook.service_key is not None:
            grouped.setdefault((hook.kind, hook.configuration, hook.service_key), []).append(hook)
    queries = list(data.observed.queries)
    note = live_state_note(at, server_time, "Endpoint state")
    findings = []
    for (kind, configuration, service), hooks in sorted(grouped.items()):
        namespace, _, name = service.partition("/")
        if data.service_names.missing(namespace, name):
            state, what = "webhook_service_missing", f"Service {service}, which does not exist"
            ready = not_ready = 0
        elif data.slices_listing is not None and data.slices_listing.covers(namespace):
            ready, not_ready, _ = totals.get((namespace, name), (0, 0, []))
            if ready > 0:
                continue
            state, what = "webhook_no_endpoints", f"Service {service}, which has no ready endpoint"
        else:
            continue
        failing = [h for h in hooks if h.failure_policy == "Fail"]
        policy = "Fail" if failing else "Ignore"
        effect = (
            f"The API server refuses {_scope(failing)}: creations and updates fail until the webhook answers."
            if failing
            else f"Requests for {_scope(hooks)} wait for the call to time out before being admitted."
        )
        findings.append(
            make(
                kind=state,
                severity=Severity.CRITICAL if failing else Severity.WARNING,
                title=f"{kind} {configuration} calls {what} (failurePolicy {policy})",
                entity=Entity(
                    kind="webhook",
                    name=configuration,
                    attributes={"configuration_kind": kind, "webhook_service": service},
                ),
                summary=effect + note,
                values=[
                    Measurement(name="ready addresses", value=ready, unit="count"),
                    Measurement(name="not ready addresses", value=not_ready, unit="count"),
                ],
                queries=queries,
                details={
                    "webhooks": [h.name for h in hooks],
                    "service": service,
                    "failure_policy": {h.name: h.failure_policy for h in hooks},
                    "scope": _scope(hooks),
                },
                next_steps=[
                    f"kubectl get {kind.lower()} {configuration} -o yaml{kubectl_suffix}",
                    f"kubectl get pods,endpointslices -n {namespace}{kubectl_suffix}",
                ],
            )
        )
    return findings
