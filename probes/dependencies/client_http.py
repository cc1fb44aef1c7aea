"""Checking one HTTP dependency: a few attempts, each on a fresh connection, phases timed.

An attempt follows redirects up to the entry's limit, reads at most ``max_body_bytes`` of the
final body and records what happened; it never raises for the dependency's failures. Whether
the status and the body were the expected ones is left to :mod:`probes.dependencies.judge_http`,
except the body match itself (the body is not kept, so memory stays flat on a large sweep).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from http.client import HTTPException
from typing import TYPE_CHECKING

from pydantic import SecretStr

from diagnostics import Entity
from probes.dependencies.config import display_url
from probes.dependencies.failures import BODY_TIMEOUT, Failure, TlsProblem, TransportFailure, classify
from probes.dependencies.tls import CertificateInfo, fetch_unverified

if TYPE_CHECKING:  # requests loads lazily: this module's types are imported by the judge
    import requests

    from probes.dependencies.phases import ConnectionTiming

MIN_ATTEMPT_S = 0.05
"""An attempt with less time than this before the deadline is not started."""
BODY_EXCERPT_CHARS = 120


@dataclass(frozen=True, slots=True, kw_only=True)
class BodyExpectation:
    """A substring of the body, or else a regular expression searched in it."""

    text: str

    def matches(self, body: str) -> bool:
        if self.text in body:
            return True
        try:
            return re.search(self.text, body) is not None
        except re.error:
            return False


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpTarget:
    """One ``url`` entry with every setting resolved (entry, else the probe's options)."""

    name: str
    entity: Entity
    url: str
    headers: Mapping[str, SecretStr]
    attempts: int
    timeout_s: float
    verify: bool | str
    max_redirects: int
    max_body_bytes: int
    expect_status: tuple[int, ...] | None
    expect_body: BodyExpectation | None
    latency_warning_s: float
    latency_critical_s: float
    proxies: Mapping[str, str]
    user_agent: str

    @property
    def display_url(self) -> str:
        return display_url(self.url)


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionPhases:
    host: str
    port: int
    address: str | None
    dns_s: float | None
    connect_s: float | None
    tls_s: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpAttempt:
    """What one attempt saw; ``failure`` is set only when no response came back."""

    started_at: datetime
    """Wall-clock time the attempt began: the check sees the present, whatever ``--at`` says."""
    timeout_s: float
    failure: TransportFailure | None
    status: int | None
    elapsed_s: float
    dns_s: float | None
    connect_s: float | None
    tls_s: float | None
    processing_s: float | None
    """From connected to the final response's headers (the server's time, plus redirects)."""
    transfer_s: float | None
    redirects: tuple[str, ...]
    """Every URL requested, in order, when redirects were followed (display form)."""
    body_bytes: int | None
    body_matched: bool | None
    body_excerpt: str | None
    connections: tuple[ConnectionPhases, ...]
    certificates: tuple[CertificateInfo, ...]
    peer_certificate: CertificateInfo | None = None
    """Read without verification after a TLS verification failure, to say what was wrong."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpCheck:
    """Every attempt made for one target, in order."""

    target: HttpTarget
    attempts: tuple[HttpAttempt, ...]
    proxy: str | None = None

    @property
    def observed_at(self) -> datetime:
        return min(a.started_at for a in self.attempts)

    @property
    def unverified_certificate(self) -> CertificateInfo | None:
        return next((a.peer_certificate for a in self.attempts if a.peer_certificate is not None), None)


def _sum(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _phases(timings: list[ConnectionTiming]) -> tuple[ConnectionPhases, ...]:
    return tuple(
        ConnectionPhases(
            host=t.host, port=t.port, address=t.address, dns_s=t.dns_s, connect_s=t.connect_s, tls_s=t.tls_s
        )
        for t in timings
    )


def prepare_request(target: HttpTarget) -> requests.PreparedRequest:
    """The request every attempt sends, prepared once (without a session's per-call merging)."""
    import requests

    # "Connection: close" lets the server free the connection at once: each attempt (and each
    # redirect hop) opens its own, see phases.TimedHTTPConnection
    headers = {
        "User-Agent": target.user_agent,
        "Accept": "*/*",
        "Accept-Encoding": "gzip, deflate",
        **{name: value.get_secret_value() for name, value in target.headers.items()},
        "Connection": "close",
    }
    return requests.Request("GET", target.url, headers=headers).prepare()


def _read_body(
    response: requests.Response, target: HttpTarget, began: float, timeout: float
) -> bytearray | None:
    """At most ``max_body_bytes``; None when the body was still arriving at the timeout."""
    body = bytearray()
    for chunk in response.iter_content(64 * 1024):
        body += chunk
        if len(body) >= target.max_body_bytes:
            return body
        if time.perf_counter() - began > timeout:
            return None
    return body


@dataclass(frozen=True, slots=True, kw_only=True)
class _Exchange:
    """What came back from sending the request (or why nothing did)."""

    failure: TransportFailure | None = None
    status: int | None = None
    headers_at: float | None = None
    redirects: tuple[str, ...] = ()
    body_bytes: int | None = None
    body_matched: bool | None = None
    body_excerpt: str | None = None


def _exchange(
    session: requests.Session,
    request: requests.PreparedRequest,
    target: HttpTarget,
    timeout: float,
    began: float,
) -> _Exchange:
    import requests

    try:
        with session.send(
            request.copy(),
            timeout=timeout,
            allow_redirects=target.max_redirects > 0,
            stream=True,
            verify=target.verify,
            proxies=dict(target.proxies),
        ) as response:
            headers_at = time.perf_counter()
            redirects: tuple[str, ...] = ()
            if response.history:
                redirects = (*(display_url(r.url) for r in response.history), display_url(response.url))
            body = _read_body(response, target, began, timeout)
    except (requests.RequestException, OSError, ValueError, HTTPException) as exc:
        # requests wraps what it knows; a malformed answer may still surface as http.client's
        # or urllib3's own error: a finding about the dependency, never a crash of the probe
        chain: tuple[str, ...] = ()
        if isinstance(exc, requests.TooManyRedirects) and exc.response is not None:
            chain = tuple(display_url(r.url) for r in (*exc.response.history, exc.response))
        return _Exchange(failure=classify(exc), redirects=chain)
    finally:
        session.cookies.clear()  # the session serves other attempts: no state carried over
    answered = _Exchange(status=response.status_code, headers_at=headers_at, redirects=redirects)
    if body is None:
        return replace(answered, failure=TransportFailure(kind=Failure.READ_TIMEOUT, reason=BODY_TIMEOUT))
    if target.expect_body is None:
        return replace(answered, body_bytes=len(body))
    text = body.decode(response.encoding or "utf-8", errors="replace")
    return replace(
        answered,
        body_bytes=len(body),
        body_matched=target.expect_body.matches(text),
        body_excerpt=" ".join(text[:BODY_EXCERPT_CHARS].split()),
    )


def attempt_http(
    target: HttpTarget,
    request: requests.PreparedRequest,
    session: requests.Session,
    *,
    deadline: float,
    read_certificate_on_failure: bool = True,
) -> HttpAttempt | None:
    """One attempt on a fresh connection; None when the deadline left no room for a fair one.

    A timeout shortened by the probe's deadline that then expires says nothing about the
    dependency: such an attempt is dropped rather than counted as failed.
    """
    from probes.dependencies.phases import recording

    timeout = min(target.timeout_s, deadline - time.monotonic())
    if timeout < MIN_ATTEMPT_S:
        return None
    started_at = datetime.fromtimestamp(time.time(), UTC)
    session.max_redirects = target.max_redirects
    with recording() as timings:
        began = time.perf_counter()
        exchange = _exchange(session, request, target, timeout, began)
        done = time.perf_counter()
    failure = exchange.failure
    if failure is not None and failure.kind in TIMEOUTS and timeout < target.timeout_s:
        return None
    phases = _phases(timings)
    peer = None
    left = deadline - time.monotonic()
    verification_failed = failure is not None and failure.tls_problem not in (None, TlsProblem.HANDSHAKE)
    if (
        read_certificate_on_failure
        and verification_failed
        and phases
        and not target.proxies
        and left > MIN_ATTEMPT_S
    ):
        # a second, unverified handshake only to read the certificate and say what is wrong
        peer = fetch_unverified(phases[-1].host, phases[-1].port, timeout=min(target.timeout_s, left))
    dns = _sum([p.dns_s for p in phases])
    connect = _sum([p.connect_s for p in phases])
    tls = _sum([p.tls_s for p in phases])
    setup = (dns or 0.0) + (connect or 0.0) + (tls or 0.0)
    headers_at = exchange.headers_at
    return HttpAttempt(
        started_at=started_at,
        timeout_s=timeout,
        failure=failure,
        status=exchange.status,
        elapsed_s=done - began,
        dns_s=dns,
        connect_s=connect,
        tls_s=tls,
        processing_s=max(0.0, headers_at - began - setup) if headers_at is not None else None,
        transfer_s=done - headers_at if headers_at is not None else None,
        redirects=exchange.redirects,
        body_bytes=exchange.body_bytes,
        body_matched=exchange.body_matched,
        body_excerpt=exchange.body_excerpt,
        connections=phases,
        certificates=tuple(t.certificate for t in timings if t.certificate is not None),
        peer_certificate=peer,
    )


TIMEOUTS = frozenset({Failure.CONNECT_TIMEOUT, Failure.READ_TIMEOUT})


def assemble(target: HttpTarget, attempts: list[HttpAttempt]) -> HttpCheck | None:
    """The check of one target from its attempts; None when none could be made."""
    from probes.dependencies.environment import proxy_display

    if not attempts:
        return None
    return HttpCheck(
        target=target, attempts=tuple(attempts), proxy=proxy_display(target.url, dict(target.proxies))
    )
