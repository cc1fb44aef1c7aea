"""Turning a TCP dependency's connect attempts into findings: pure functions over plain values."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from diagnostics import Finding, Measurement, Severity
from probes.dependencies.attempts import (
    MakeFinding,
    attempts_text,
    dominant,
    failure_severity,
    latency_severity,
    latency_values,
    median,
    present_note,
    seconds,
)
from probes.dependencies.client_tcp import TcpAttempt, TcpCheck, TcpFailure, TcpTarget

ORDER = (TcpFailure.DNS, TcpFailure.REFUSED, TcpFailure.TIMEOUT, TcpFailure.ERROR)
NEXT_STEPS = {
    TcpFailure.DNS: "dig +short {host}; cat /etc/resolv.conf",
    TcpFailure.REFUSED: "nc -vz {host} {port}  # is anything listening?",
    TcpFailure.TIMEOUT: "nc -vz -w 3 {host} {port}; traceroute -T -p {port} {host}  # firewall or route?",
    TcpFailure.ERROR: "nc -vz -w 3 {host} {port}",
}


def _describe(kind: TcpFailure, failed: list[TcpAttempt], target: TcpTarget) -> str:
    reason = failed[0].reason or ""
    if kind is TcpFailure.DNS:
        return f"DNS lookup of {target.host} failed ({reason})"
    if kind is TcpFailure.REFUSED:
        return f"connection refused by {target.address}"
    if kind is TcpFailure.TIMEOUT:
        return f"connect to {target.address} timed out after {seconds(target.timeout_s)}"
    return f"cannot connect to {target.address} ({reason})"


def _details(attempts: tuple[TcpAttempt, ...], target: TcpTarget) -> dict[str, Any]:
    return {
        "address": target.address,
        "attempts": [
            {
                "failure": a.failure.value if a.failure else None,
                "reason": a.reason,
                "dns_s": round(a.dns_s, 4) if a.dns_s is not None else None,
                "connect_s": round(a.connect_s, 4) if a.connect_s is not None else None,
                "peer": a.peer,
            }
            for a in attempts
        ],
    }


def _phase_values(attempts: list[TcpAttempt]) -> list[Measurement]:
    values = []
    dns = [a.dns_s for a in attempts if a.dns_s is not None]
    connect = [a.connect_s for a in attempts if a.connect_s is not None]
    if dns:
        values.append(Measurement(name="dns (median)", value=round(median(dns), 4), unit="s"))
    if connect:
        values.append(Measurement(name="connect (median)", value=round(median(connect), 4), unit="s"))
    return values


def judge_tcp_failures(check: TcpCheck, *, at: datetime, make: MakeFinding) -> list[Finding]:
    target = check.target
    failed_kinds = [a.failure for a in check.attempts if a.failure is not None]
    if not failed_kinds:
        return []
    kind = dominant(failed_kinds, ORDER)
    failed = [a for a in check.attempts if a.failure is kind]
    total = len(check.attempts)
    typical = median([a.elapsed_s for a in check.attempts])
    counts = Counter(k.value for k in failed_kinds)
    breakdown = ", ".join(f"{n} {name}" for name, n in counts.most_common())
    severity = failure_severity(len(failed_kinds), total)
    verdict = "down" if severity is Severity.CRITICAL else "flaky: most attempts connected"
    return [
        make(
            kind=kind.value,
            severity=severity,
            title=f"{target.name}: {_describe(kind, failed, target)} {attempts_text(len(failed), len(failed_kinds), total)}, {seconds(typical)}",
            entity=target.entity,
            summary=f"{len(failed_kinds)} of {total} connect attempts failed ({breakdown}): {verdict}."
            + present_note(at, check.observed_at),
            values=[
                Measurement(name="failed attempts", value=len(failed_kinds), unit="count"),
                Measurement(name="attempts", value=total, unit="count"),
                Measurement(name="latency (median)", value=round(typical, 4), unit="s"),
                *_phase_values(list(check.attempts)),
            ],
            queries=[f"TCP connect {target.address}"],
            details={**_details(check.attempts, target), "failures_by_kind": dict(counts)},
            seen_at=at,  # a live check: when it began is unknown
            next_steps=[NEXT_STEPS[kind].format(host=target.host, port=target.port)],
        )
    ]


def judge_tcp_latency(check: TcpCheck, *, at: datetime, make: MakeFinding) -> list[Finding]:
    target = check.target
    passed = [a for a in check.attempts if a.failure is None and a.connect_s is not None]
    if not passed:
        return []
    typical = median([a.elapsed_s for a in passed])
    worst = max(a.elapsed_s for a in passed)
    severity = latency_severity(typical, worst, target.latency_warning_s, target.latency_critical_s)
    if severity is None:
        return []
    return [
        make(
            kind="tcp_latency",
            severity=severity,
            title=f"{target.name}: connect to {target.address} takes {seconds(typical)} (median of {len(passed)}, worst {seconds(worst)})",
            entity=target.entity,
            summary=f"Warning at {seconds(target.latency_warning_s)}, critical at {seconds(target.latency_critical_s)}."
            + present_note(at, check.observed_at),
            values=[
                *latency_values(typical, worst, target.latency_warning_s, target.latency_critical_s),
                *_phase_values(passed),
            ],
            queries=[f"TCP connect {target.address}"],
            details=_details(check.attempts, target),
            seen_at=at,  # a live check: when it began is unknown
            next_steps=[NEXT_STEPS[TcpFailure.TIMEOUT].format(host=target.host, port=target.port)],
        )
    ]


def judge_tcp(check: TcpCheck, *, at: datetime, make: MakeFinding) -> list[Finding]:
    """Every finding for one TCP dependency; none when it accepts connections quickly."""
    return [*judge_tcp_failures(check, at=at, make=make), *judge_tcp_latency(check, at=at, make=make)]
