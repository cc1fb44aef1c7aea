"""Judging storage: claims that cannot bind, volumes lost or failed, StatefulSets that cannot start.

- ``pvc_pending``: a claim Pending longer than ``pending_after`` (a warning; critical when its
  StorageClass does not exist), with the provisioner's latest event (``ProvisioningFailed``,
  ``ExternalProvisioning``...). A claim waiting for its first consumer
  (``WaitForFirstConsumer`` binding) is not a problem;
- ``pvc_lost`` (critical): the claim's volume is gone;
- ``pv_failed`` (warning): a volume whose reclaim failed, with the message;
- ``statefulset_storage_class_missing`` (critical): a volume claim template names a
  StorageClass that does not exist: new replicas stay Pending;
- ``statefulset_service_missing`` (warning): the governing Service (``serviceName``) does not
  exist: the pods get no stable DNS names.

Claims are dated from their creation, volumes are not dated (the API keeps no transition time).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from diagnostics import Entity, Finding, Measurement, Severity
from diagnostics.units import format_duration, isoformat
from probes.kubernetes.client_cluster import StorageData
from probes.kubernetes.cluster_objects import Claim
from probes.kubernetes.findings import MakeFinding, live_state_note, observed_now, workload_entity
from probes.kubernetes.objects import Event, WorkloadRef

WAITING_FOR_CONSUMER = "WaitForFirstConsumer"


def _claim_entity(claim: Claim) -> Entity:
    return Entity(
        kind="volume_claim",
        name=f"{claim.meta.namespace}/{claim.meta.name}",
        attributes={"namespace": claim.meta.namespace},
    )


def _latest_events(events: Iterable[Event]) -> dict[tuple[str, str], Event]:
    """The most recent event about each claim."""
    latest: dict[tuple[str, str], Event] = {}
    dated = [e for e in events if e.object_kind == "PersistentVolumeClaim" and e.last is not None]
    for event in sorted(dated, key=lambda e: e.last or datetime.min):
        latest[(event.object_namespace or event.namespace, event.object_name)] = event
    return latest


def judge_storage(
    data: StorageData,
    *,
    at: datetime,
    server_time: datetime | None,
    pending_after_s: float,
    kubectl_suffix: str,
    make: MakeFinding,
) -> list[Finding]:
    """A finding per claim Pending or Lost, per volume Failed, per StatefulSet missing a class or Service."""
    now = observed_now(at, server_time)
    note = live_state_note(at, server_time, "Claim state")
    queries = list(data.observed.queries)
    classes = {c.name: c for c in data.classes}
    default = next((c for c in data.classes if c.default), None)
    events = _latest_events(data.events)
    findings = []
    for claim in sorted(data.claims, key=lambda c: (c.meta.namespace, c.meta.name)):
        namespace, name = claim.meta.namespace, claim.meta.name
        describe = f"kubectl describe pvc {name} -n {namespace}{kubectl_suffix}"
        if claim.phase == "Lost":
            findings.append(
                make(
                    kind="pvc_lost",
                    severity=Severity.CRITICAL,
                    title=f"PersistentVolumeClaim {namespace}/{name} is Lost: its volume {claim.volume or '?'} is gone",
                    entity=_claim_entity(claim),
                    summary="The volume the claim was bound to no longer exists; pods using it cannot start."
                    + note,
                    queries=queries,
                    details={"volume": claim.volume, "storage_class": claim.storage_class},
                    next_steps=[describe, f"kubectl get pv{kubectl_suffix}"],
                )
            )
            continue
        if claim.phase != "Pending" or claim.meta.created is None or claim.meta.created > at:
            continue
        waited = (now - claim.meta.created).total_seconds()
        class_name = (
            claim.storage_class if claim.storage_class is not None else (default.name if default else None)
        )
        storage_class = classes.get(class_name) if class_name else None
        event = events.get((namespace, name))
        # binds when a pod uses it: not a problem by itself (the event says so even when the
        # StorageClass could not be read)
        waits_for_consumer = (event is not None and event.reason == WAITING_FOR_CONSUMER) or (
            event is None and storage_class is not None and storage_class.binding_mode == WAITING_FOR_CONSUMER
        )
        if waits_for_consumer:
            continue
        if waited < pending_after_s:
            continue
        class_missing = bool(claim.storage_class) and data.class_names.missing("", claim.storage_class or "")
        cause = (
            f"StorageClass {claim.storage_class} does not exist"
            if class_missing
            else (f"{event.reason}: {event.message}" if event else "no provisioner event")
        )
        findings.append(
            make(
                kind="pvc_pending",
                severity=Severity.CRITICAL if class_missing else Severity.WARNING,
                title=f"PersistentVolumeClaim {namespace}/{name} Pending for {format_duration(waited)}: {cause}",
                entity=_claim_entity(claim),
                summary="Pods using the claim cannot start until it binds."
                + (f" Provisioner: {storage_class.provisioner}." if storage_class else "")
                + note,
                values=[Measurement(name="pending", value=round(waited), unit="s")],
                queries=queries,
                details={
                    "storage_class": class_name,
                    "storage_class_exists": not class_missing,
                    "requested": claim.requested,
                    "event": {
                        "reason": event.reason,
                        "message": event.message,
                        "source": event.source,
                        "count": event.count,
                        "last": isoformat(event.last),
                    }
                    if event
                    else None,
                },
                onset=claim.meta.created,
                next_steps=[describe, f"kubectl get storageclass{kubectl_suffix}"],
            )
        )
    for volume in sorted(data.volumes, key=lambda v: v.name):
        if volume.phase != "Failed":
            continue
        findings.append(
            make(
                kind="pv_failed",
                severity=Severity.WARNING,
                title=f"PersistentVolume {volume.name} Failed: {volume.message or volume.reason or 'no message'}",
                entity=Entity(kind="volume", name=volume.name),
                summary="Its automatic reclamation failed; the storage behind it may still be allocated."
                + (f" It was bound to {volume.claim}." if volume.claim else ""),
                queries=queries,
                details={"reason": volume.reason, "message": volume.message, "claim": volume.claim},
                next_steps=[f"kubectl describe pv {volume.name}{kubectl_suffix}"],
            )
        )
    findings += _stateful_sets(data, queries, kubectl_suffix, make)
    return findings


def _stateful_sets(data: StorageData, queries: list[str], suffix: str, make: MakeFinding) -> list[Finding]:
    findings = []
    for sts in sorted(data.stateful_sets, key=lambda s: (s.meta.namespace, s.meta.name)):
        ref = WorkloadRef(
            namespace=sts.meta.namespace, kind="StatefulSet", name=sts.meta.name, service=sts.meta.service
        )
        describe = f"kubectl describe statefulset {ref.name} -n {ref.namespace}{suffix}"
        missing = sorted(
            {
                t.storage_class
                for t in sts.claims
                if t.storage_class and data.class_names.missing("", t.storage_class)
            }
        )
        if missing:
            templates = [t.name for t in sts.claims if t.storage_class in missing]
            findings.append(
                make(
                    kind="statefulset_storage_class_missing",
                    severity=Severity.CRITICAL,
                    title=f"StatefulSet {ref.key} claims storage from missing StorageClass {', '.join(missing)}",
                    entity=workload_entity(ref),
                    summary=f"Volume claim template(s) {', '.join(templates)} cannot be provisioned: new replicas "
                    f"stay Pending ({sts.ready} of {sts.desired} ready).",
                    values=[
                        Measurement(name="desired", value=sts.desired, unit="count"),
                        Measurement(name="ready", value=sts.ready, unit="count"),
                    ],
                    queries=queries,
                    details={"storage_classes": missing, "claim_templates": templates},
                    next_steps=[f"kubectl get storageclass{suffix}", describe],
                )
            )
        if sts.service_name and data.service_names.missing(ref.namespace, sts.service_name):
            findings.append(
                make(
                    kind="statefulset_service_missing",
                    severity=Severity.WARNING,
                    title=f"StatefulSet {ref.key} names governing Service {sts.service_name}, which does not exist",
                    entity=workload_entity(ref),
                    summary="Its pods get no stable DNS names (pod-0.service): peers cannot find each other.",
                    queries=queries,
                    details={"service_name": sts.service_name},
                    next_steps=[f"kubectl get services -n {ref.namespace}{suffix}", describe],
                )
            )
    return findings
