"""Telling failure kinds apart: DNS, refused, connect timeout, TLS, read timeout, redirects, proxy.

requests wraps urllib3 which wraps the socket error; the cause is found by walking the whole
chain. Reasons are built from the root error only (``strerror``, OpenSSL's verify message),
never from ``str()`` of a requests exception, which quotes the URL and with it any query secret.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from enum import StrEnum


class Failure(StrEnum):
    """Why one attempt failed; the value is the finding kind."""

    DNS = "dns_failure"
    CONNECT_REFUSED = "connect_refused"
    CONNECT_TIMEOUT = "connect_timeout"
    TLS = "tls_error"
    READ_TIMEOUT = "read_timeout"
    REDIRECT_LOOP = "redirect_loop"
    PROXY = "proxy_error"
    CONNECTION = "connection_error"
    STATUS = "http_status"
    BODY = "http_body"


class TlsProblem(StrEnum):
    EXPIRED = "certificate expired"
    NOT_YET_VALID = "certificate not yet valid"
    HOSTNAME = "hostname mismatch"
    UNTRUSTED = "untrusted certificate"
    HANDSHAKE = "handshake failed"


BODY_TIMEOUT = "body still arriving at the timeout"


@dataclass(frozen=True, slots=True, kw_only=True)
class TransportFailure:
    kind: Failure
    reason: str
    tls_problem: TlsProblem | None = None


def causes(error: BaseException) -> list[BaseException]:
    """``error`` and everything it wraps: ``reason``, ``__cause__``, ``__context__``, args."""
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop(0)
        if current is None or any(current is known for known in seen):
            continue
        seen.append(current)
        reason = getattr(current, "reason", None)
        pending += [
            reason if isinstance(reason, BaseException) else None,
            current.__cause__,
            current.__context__,
            *(arg for arg in current.args if isinstance(arg, BaseException)),
        ]
    return seen


def _os_reason(chain: list[BaseException]) -> str | None:
    """The message of the first plain socket error (requests' own errors are OSErrors too)."""
    for cause in chain:
        if isinstance(cause, OSError) and type(cause).__module__ in ("builtins", "socket"):
            if cause.strerror:
                return cause.strerror
            if len(cause.args) == 1 and isinstance(cause.args[0], str):
                return cause.args[0]
    return None


def _tls_failure(chain: list[BaseException]) -> TransportFailure | None:
    for cause in chain:
        if isinstance(cause, ssl.SSLCertVerificationError):
            message = str(cause.verify_message or cause.reason or "verification failed")
            lowered = message.lower()
            if "expired" in lowered:
                problem = TlsProblem.EXPIRED
            elif "not yet valid" in lowered:
                problem = TlsProblem.NOT_YET_VALID
            elif "mismatch" in lowered or "doesn't match" in lowered:
                problem = TlsProblem.HOSTNAME
            else:
                problem = TlsProblem.UNTRUSTED
            return TransportFailure(kind=Failure.TLS, reason=message, tls_problem=problem)
    for cause in chain:
        if isinstance(cause, ssl.SSLError):
            reason = str(cause.reason or cause.strerror or type(cause).__name__)
            return TransportFailure(kind=Failure.TLS, reason=reason, tls_problem=TlsProblem.HANDSHAKE)
    return None


def classify(error: BaseException) -> TransportFailure:
    """The kind of an exception raised by requests (or urllib3, or a socket) and a safe reason."""
    import requests
    from urllib3 import exceptions as u3

    chain = causes(error)

    def found(*types: type[BaseException]) -> BaseException | None:
        return next((c for c in chain if isinstance(c, types)), None)

    if found(requests.TooManyRedirects):
        return TransportFailure(kind=Failure.REDIRECT_LOOP, reason="too many redirects")
    dns = found(socket.gaierror)
    if dns is not None or found(u3.NameResolutionError):
        reason = dns.strerror if isinstance(dns, socket.gaierror) and dns.strerror else "name not resolved"
        return TransportFailure(kind=Failure.DNS, reason=reason)
    if found(requests.exceptions.ProxyError, u3.ProxyError):
        return TransportFailure(kind=Failure.PROXY, reason=_os_reason(chain) or "proxy failed")
    tls = _tls_failure(chain)
    if tls is not None:
        return tls
    if found(ConnectionRefusedError):
        return TransportFailure(kind=Failure.CONNECT_REFUSED, reason="connection refused")
    if found(u3.NewConnectionError):  # a subclass of ConnectTimeoutError in urllib3 2: test it first
        return TransportFailure(kind=Failure.CONNECTION, reason=_os_reason(chain) or "cannot connect")
    if found(u3.ConnectTimeoutError, requests.ConnectTimeout):
        return TransportFailure(kind=Failure.CONNECT_TIMEOUT, reason="connect timed out")
    if found(u3.ReadTimeoutError, requests.ReadTimeout, TimeoutError):
        return TransportFailure(kind=Failure.READ_TIMEOUT, reason="no response before the read timeout")
    if found(ConnectionResetError):
        return TransportFailure(kind=Failure.CONNECTION, reason="connection reset by peer")
    if found(ConnectionAbortedError) or any(type(c).__name__ == "RemoteDisconnected" for c in chain):
        return TransportFailure(
            kind=Failure.CONNECTION, reason="server closed the connection without a response"
        )
    return TransportFailure(kind=Failure.CONNECTION, reason=_os_reason(chain) or type(chain[-1]).__name__)
