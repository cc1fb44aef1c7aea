"""Connecting to one ``host:port`` dependency a few times: name resolution and connect, timed.

Each attempt resolves the name (``socket.getaddrinfo``, timed apart), connects to the first
address that accepts, and closes at once without sending a byte. Servers may log that as an
aborted connection (PostgreSQL: "incomplete startup packet"); blackbox_exporter's tcp module
does the same.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from diagnostics import Entity

MIN_ATTEMPT_S = 0.05


class TcpFailure(StrEnum):
    """Why one connect attempt failed; the value is the finding kind."""

    DNS = "dns_failure"
    REFUSED = "tcp_refused"
    TIMEOUT = "tcp_timeout"
    ERROR = "tcp_error"


@dataclass(frozen=True, slots=True, kw_only=True)
class TcpTarget:
    name: str
    entity: Entity
    host: str
    port: int
    attempts: int
    timeout_s: float
    latency_warning_s: float
    latency_critical_s: float

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True, kw_only=True)
class TcpAttempt:
    started_at: datetime
    failure: TcpFailure | None
    reason: str | None
    dns_s: float | None
    connect_s: float | None
    elapsed_s: float
    peer: str | None
    """The address that accepted the connection."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TcpCheck:
    target: TcpTarget
    attempts: tuple[TcpAttempt, ...]

    @property
    def observed_at(self) -> datetime:
        """When the first attempt began: the check sees the present, whatever ``--at`` says."""
        return min(a.started_at for a in self.attempts)


def connect_once(target: TcpTarget, timeout: float) -> TcpAttempt:
    """One resolution and connect; never raises for the dependency's failures."""
    started_at = datetime.fromtimestamp(time.time(), UTC)
    began = time.perf_counter()
    try:
        infos = socket.getaddrinfo(target.host, target.port, 0, socket.SOCK_STREAM)
    except socket.gaierror as exc:
        spent = time.perf_counter() - began
        return TcpAttempt(
            started_at=started_at,
            failure=TcpFailure.DNS,
            reason=exc.strerror or "name not resolved",
            dns_s=spent,
            connect_s=None,
            elapsed_s=spent,
            peer=None,
        )
    resolved = time.perf_counter()
    failure, reason = TcpFailure.ERROR, "no address to connect to"
    for family, kind, proto, _, sockaddr in infos:
        left = timeout - (time.perf_counter() - began)
        if left <= 0:
            failure, reason = TcpFailure.TIMEOUT, "connect timed out"
            break
        with socket.socket(family, kind, proto) as sock:
            sock.settimeout(left)
            try:
                sock.connect(sockaddr)
            except TimeoutError:
                failure, reason = TcpFailure.TIMEOUT, "connect timed out"
                break  # every other address would wait as long again
            except ConnectionRefusedError:
                failure, reason = TcpFailure.REFUSED, "connection refused"
                continue
            except OSError as exc:
                failure, reason = TcpFailure.ERROR, exc.strerror or type(exc).__name__
                continue
            done = time.perf_counter()
            return TcpAttempt(
                started_at=started_at,
                failure=None,
                reason=None,
                dns_s=resolved - began,
                connect_s=done - resolved,
                elapsed_s=done - began,
                peer=str(sockaddr[0]),
            )
    done = time.perf_counter()
    return TcpAttempt(
        started_at=started_at,
        failure=failure,
        reason=reason,
        dns_s=resolved - began,
        connect_s=done - resolved,
        elapsed_s=done - began,
        peer=None,
    )


def attempt_tcp(target: TcpTarget, *, deadline: float) -> TcpAttempt | None:
    """One connect within the deadline; None when the deadline left no room for a fair one.

    A connect timeout shortened by the probe's deadline says nothing about the dependency: such
    an attempt is dropped rather than counted as failed.
    """
    timeout = min(target.timeout_s, deadline - time.monotonic())
    if timeout < MIN_ATTEMPT_S:
        return None
    attempt = connect_once(target, timeout)
    if attempt.failure is TcpFailure.TIMEOUT and timeout < target.timeout_s:
        return None
    return attempt
