"""Turning an HTTP dependency's attempts into findings: pure functions over plain values.

Per dependency at most three findings: the failure (the most frequent kind among the failed
attempts, e.g. ``http_status`` "payments-api: HTTP 503 on 3/3 attempts, 2.1s"), the latency
of the successful attempts (``http_latency``) and the certificate's remaining validity
(``tls_expiry``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

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
from probes.dependencies.client_http import HttpAttempt, HttpCheck, HttpTarget
from probes.dependencies.failures import BODY_TIMEOUT, Failure, TlsProblem
from probes.dependencies.judge_tls import OPENSSL, CertificateLimits, certificate_details, judge_certificate

ORDER = (
    Failure.DNS,
    Failure.CONNECT_REFUSED,
    Failure.CONNECT_TIMEOUT,
    Failure.TLS,
    Failure.PROXY,
    Failure.CONNECTION,
    Failure.READ_TIMEOUT,
    Failure.REDIRECT_LOOP,
    Failure.STATUS,
    Failure.BODY,
)
"""Ties between failure kinds go to the one earliest here (the one further down the stack)."""
PHASES = ("dns", "connect", "tls", "processing", "transfer")


def status_expected(status: int, expected: tuple[int, ...] | None) -> bool:
    """The configured statuses, or any 2xx or 3xx."""
    return status in expected if expected is not None else 200 <= status < 400


def attempt_failure(attempt: HttpAttempt, target: HttpTarget) -> Failure | None:
    """Why the attempt counts as failed: transport, then status, then body; None when it passed."""
    if attempt.failure is not None:
        return attempt.failure.kind
    if attempt.status is None or not status_expected(attempt.status, target.expect_status):
        return Failure.STATUS
    if attempt.body_matched is False:
        return Failure.BODY
    return None


def _endpoint(attempts: list[HttpAttempt], target: HttpTarget) -> str:
    for attempt in reversed(attempts):
        if attempt.connections:
            last = attempt.connections[-1]
            return f"{last.host}:{last.port}"
    parts = urlsplit(target.url)
    return f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"


def _describe(kind: Failure, failed: list[HttpAttempt], check: HttpCheck) -> str:
    target = check.target
    first = failed[0].failure
    reason = first.reason if first is not None else ""
    endpoint = _endpoint(failed, target)
    host = endpoint.rsplit(":", 1)[0]
    if kind is Failure.STATUS:
        statuses = Counter(a.status for a in failed if a.status is not None)
        shown = ", ".join(str(s) for s, _ in statuses.most_common()) or "no status"
        if target.expect_status is not None:
            return f"HTTP {shown} (expected {', '.join(str(s) for s in target.expect_status)})"
        return f"HTTP {shown}"
    if kind is Failure.BODY:
        expected = target.expect_body.text if target.expect_body else ""
        return f"body does not contain {expected[:60]!r}"
    if kind is Failure.DNS:
        return f"DNS lookup of {host} failed ({reason})"
    if kind is Failure.CONNECT_REFUSED:
        return f"connection refused by {endpoint}"
    if kind is Failure.CONNECT_TIMEOUT:
        return f"connect to {endpoint} timed out after {seconds(target.timeout_s)}"
    if kind is Failure.READ_TIMEOUT:
        if reason == BODY_TIMEOUT:
            return f"body still arriving after {seconds(target.timeout_s)}"
        return f"no response within {seconds(target.timeout_s)} (read timeout)"
    if kind is Failure.TLS:
        problem = first.tls_problem if first is not None else None
        certificate = check.unverified_certificate
        if problem is TlsProblem.EXPIRED and certificate is not None:
            ago = (check.observed_at - certificate.not_after) / timedelta(days=1)
            return (
                f"TLS verification failed: certificate of {host} expired {ago:.1f} days ago "
                f"({certificate.not_after:%Y-%m-%d %H:%MZ})"
            )
        verb = "handshake" if problem is TlsProblem.HANDSHAKE else "verification"
        return f"TLS {verb} failed: {reason.rstrip('.')}"
    if kind is Failure.REDIRECT_LOOP:
        chain = next((a.redirects for a in failed if a.redirects), ())
        loop = redirect_loop(chain)
        if loop:
            return f"redirect loop {' → '.join(_path(u, target) for u in loop)}"
        return f"more than {target.max_redirects} redirects"
    if kind is Failure.PROXY:
        return f"proxy {check.proxy or '?'} failed ({reason})"
    return f"connection to {endpoint} failed ({reason})"


def redirect_loop(chain: tuple[str, ...]) -> tuple[str, ...]:
    """The cycle in a redirect chain (first URL seen twice, up to its repeat), or empty."""
    seen: dict[str, int] = {}
    for index, url in enumerate(chain):
        if url in seen:
            return chain[seen[url] : index + 1]
        seen[url] = index
    return ()


def _path(url: str, target: HttpTarget) -> str:
    """The path alone when ``url`` is on the configured URL's origin."""
    here, there = urlsplit(target.display_url), urlsplit(url)
    return url[len(f"{there.scheme}://{there.netloc}") :] or "/" if here.netloc == there.netloc else url


NEXT_STEPS = {
    Failure.DNS: "dig +short {host}; cat /etc/resolv.conf",
    Failure.CONNECT_REFUSED: "nc -vz {host} {port}  # is anything listening?",
    Failure.CONNECT_TIMEOUT: "nc -vz -w 3 {host} {port}; traceroute -T -p {port} {host}  # firewall or route?",
    Failure.TLS: OPENSSL,
    Failure.PROXY: "env | grep -i _proxy",
}
CURL = "curl -sS -o /dev/null -w 'dns %{{time_namelookup}} connect %{{time_connect}} tls %{{time_appconnect}} first byte %{{time_starttransfer}} total %{{time_total}} status %{{http_code}}\\n' '{url}'"


def _next_steps(kind: Failure, check: HttpCheck, failed: list[HttpAttempt]) -> list[str]:
    host, _, port = _endpoint(failed, check.target).rpartition(":")
    steps = []
    if kind in NEXT_STEPS:
        steps.append(NEXT_STEPS[kind].format(host=host, port=port))
    steps.append(CURL.format(url=check.target.display_url))
    return steps


def _phase_values(attempts: Iterable[HttpAttempt]) -> list[Measurement]:
    chosen = list(attempts)
    values = []
    for phase in PHASES:
        measured = [v for a in chosen if (v := getattr(a, f"{phase}_s")) is not None]
        if measured:
            values.append(Measurement(name=f"{phase} (median)", value=round(median(measured), 4), unit="s"))
    return values


def _attempt_details(attempt: HttpAttempt, target: HttpTarget) -> dict[str, Any]:
    kind = attempt_failure(attempt, target)
    return {
        "failure": kind.value if kind else None,
        "reason": attempt.failure.reason if attempt.failure else None,
        "status": attempt.status,
        "elapsed_s": round(attempt.elapsed_s, 4),
        **{f"{p}_s": round(v, 4) if (v := getattr(attempt, f"{p}_s")) is not None else None for p in PHASES},
    }


def _failure_details(
    check: HttpCheck, kind: Failure, failed: list[HttpAttempt], counts: Counter[str]
) -> dict[str, Any]:
    target = check.target
    details: dict[str, Any] = {
        "url": target.display_url,
        "failures_by_kind": dict(counts),
        "attempts": [_attempt_details(a, target) for a in check.attempts],
        "expected_status": list(target.expect_status) if target.expect_status else "2xx or 3xx",
    }
    problem = next((a.failure.tls_problem for a in failed if a.failure and a.failure.tls_problem), None)
    if problem is not None:
        details["tls_problem"] = problem.value
    if check.unverified_certificate is not None:
        details["certificate"] = certificate_details(check.unverified_certificate, check.observed_at)
    if check.proxy:
        details["proxy"] = check.proxy
    redirects = next((a.redirects for a in failed if a.redirects), ())
    if redirects:
        details["redirects"] = list(redirects)
    excerpt = next((a.body_excerpt for a in failed if a.body_excerpt is not None), None)
    if kind is Failure.BODY and excerpt is not None:
        details["body_excerpt"] = excerpt
    return details


def _failure_values(
    attempts: list[HttpAttempt], failed: list[HttpAttempt], failures: int
) -> list[Measurement]:
    values = [
        Measurement(name="failed attempts", value=failures, unit="count"),
        Measurement(name="attempts", value=len(attempts), unit="count"),
        Measurement(
            name="latency (median)", value=round(median([a.elapsed_s for a in attempts]), 4), unit="s"
        ),
        Measurement(name="latency (worst)", value=round(max(a.elapsed_s for a in attempts), 4), unit="s"),
    ]
    statuses = Counter(a.status for a in failed if a.status is not None)
    if statuses:
        values.append(Measurement(name="status", value=statuses.most_common(1)[0][0]))
    return values + _phase_values(attempts)


def judge_failures(check: HttpCheck, *, at: datetime, make: MakeFinding) -> list[Finding]:
    """The attempts that failed, named by their most frequent kind; none when all passed."""
    target = check.target
    attempts = list(check.attempts)
    kinds = [(attempt, attempt_failure(attempt, target)) for attempt in attempts]
    failed_kinds = [kind for _, kind in kinds if kind is not None]
    if not failed_kinds:
        return []
    kind = dominant(failed_kinds, ORDER)
    failed = [attempt for attempt, k in kinds if k is kind]
    total = len(attempts)
    typical = median([a.elapsed_s for a in attempts])
    counts = Counter(k.value for k in failed_kinds)
    breakdown = ", ".join(f"{n} {name}" for name, n in counts.most_common())
    severity = failure_severity(len(failed_kinds), total)
    verdict = "down" if severity is Severity.CRITICAL else "flaky: most attempts succeeded"
    certificate = check.unverified_certificate
    expired = kind is Failure.TLS and certificate is not None and certificate.not_after < at
    redirects = next((a.redirects for a in failed if a.redirects), ())
    followed = ""
    if redirects:
        shown = " → ".join(_path(u, target) for u in redirects[:8]) + (" → …" if len(redirects) > 8 else "")
        followed = f" Redirects followed: {shown}."
    return [
        make(
            kind=kind.value,
            severity=severity,
            title=f"{target.name}: {_describe(kind, failed, check)} {attempts_text(len(failed), len(failed_kinds), total)}, {seconds(typical)}",
            entity=target.entity,
            summary=f"{len(failed_kinds)} of {total} attempts failed ({breakdown}): {verdict}.{followed}"
            + present_note(at, check.observed_at),
            values=_failure_values(attempts, failed, len(failed_kinds)),
            queries=[f"GET {target.display_url}" + (f" via proxy {check.proxy}" if check.proxy else "")],
            details=_failure_details(check, kind, failed, counts),
            # an expired certificate dates the failure; otherwise the check saw it now, at an
            # unknown time after it began
            onset=certificate.not_after if expired and certificate is not None else None,
            seen_at=at,
            next_steps=_next_steps(kind, check, failed),
        )
    ]


def judge_latency(check: HttpCheck, *, at: datetime, make: MakeFinding) -> list[Finding]:
    target = check.target
    passed = [a for a in check.attempts if attempt_failure(a, target) is None]
    if not passed:
        return []
    typical = median([a.elapsed_s for a in passed])
    worst = max(a.elapsed_s for a in passed)
    severity = latency_severity(typical, worst, target.latency_warning_s, target.latency_critical_s)
    if severity is None:
        return []
    phases = {p: median([v for a in passed if (v := getattr(a, f"{p}_s")) is not None]) for p in PHASES}
    slowest = max(phases, key=lambda p: phases[p])
    limit = target.latency_critical_s if severity is Severity.CRITICAL else target.latency_warning_s
    return [
        make(
            kind="http_latency",
            severity=severity,
            title=f"{target.name}: median response {seconds(typical)} over {len(passed)} attempts (worst {seconds(worst)})",
            entity=target.entity,
            summary=f"At or above the {severity.label} threshold of {seconds(limit)}; most of the time is {slowest} ({seconds(phases[slowest])})."
            + present_note(at, check.observed_at),
            values=[
                *latency_values(typical, worst, target.latency_warning_s, target.latency_critical_s),
                Measurement(name="attempts", value=len(passed), unit="count"),
                *_phase_values(passed),
            ],
            queries=[f"GET {target.display_url}" + (f" via proxy {check.proxy}" if check.proxy else "")],
            details={
                "url": target.display_url,
                "attempts": [_attempt_details(a, target) for a in check.attempts],
            },
            seen_at=at,  # a live check: when it began is unknown
            next_steps=[CURL.format(url=target.display_url)],
        )
    ]


def judge_http(
    check: HttpCheck, limits: CertificateLimits, *, at: datetime, make: MakeFinding
) -> list[Finding]:
    """Every finding for one HTTP dependency; none when it is healthy."""
    return [
        *judge_failures(check, at=at, make=make),
        *judge_latency(check, at=at, make=make),
        *judge_certificate(check, limits, make=make),
    ]
