"""The HTTP layer of :mod:`probes.prometheus.client`: the run's session, the response hook, and
what each failure of one request means, as a :class:`ProbeError` of the right kind.

A failure names the server (Prometheus or Alertmanager) and its displayed URL, what was asked,
and, for a timeout, the limit that ran out and the setting that raises it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from diagnostics import ErrorKind, ProbeError, ProbeTimeout

if TYPE_CHECKING:
    import requests

    from probes.prometheus.config import PrometheusConfig

CONNECT_TIMEOUT_CEILING = 3.0
QUOTED_BYTES = 80
"""How much of an unexpected answer an error message quotes."""
PROMETHEUS = "Prometheus"
ALERTMANAGER = "Alertmanager"


@dataclass(frozen=True, slots=True)
class Server:
    """The server one request goes to, as error messages name it."""

    name: str
    where: str
    """Its URL as displayed (credentials masked)."""


class RunSession:
    """The ``requests`` session of one run towards one Prometheus (and its Alertmanager)."""

    def __init__(self, config: PrometheusConfig) -> None:
        import requests

        from probes.sockets import track

        session = requests.Session()
        session.verify = config.verify_tls
        session.headers.update({name: value.get_secret_value() for name, value in config.headers.items()})
        if config.bearer_token is not None:
            session.headers["Authorization"] = f"Bearer {config.bearer_token.get_secret_value()}"
        if config.basic_auth is not None:
            session.auth = (config.basic_auth.username, config.basic_auth.password.get_secret_value())
        session.hooks["response"] = [check_response]
        adapter = requests.adapters.HTTPAdapter(max_retries=0)
        self._sockets = [track(adapter.poolmanager)]
        original = adapter.proxy_manager_for

        def tracked_proxy_manager(proxy: str, **kwargs: Any) -> Any:
            manager = original(proxy, **kwargs)
            if not getattr(manager, "_diag_tracked", False):
                self._sockets.append(track(manager))
                manager._diag_tracked = True
            return manager

        adapter.proxy_manager_for = tracked_proxy_manager  # type: ignore[method-assign]
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        self.session = session

    def close(self) -> None:
        """Shut down every socket (a thread blocked reading one gets an error), then close."""
        for sockets in list(self._sockets):
            sockets.shut_down()
        self.session.close()


def check_response(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """Response hook: anything but a JSON 200 becomes an HttpFailure (reading a bounded part)."""
    if response.status_code == 200:
        kind = response.headers.get("Content-Type", "")
        if "json" not in kind:
            response.close()
            raise HttpFailure(200, "not_json", f"a {kind.split(';')[0] or 'non-JSON'} page, not JSON")
        return
    error_type, message = "", response.reason or ""
    try:
        body = json.loads(response.raw.read(QUOTED_BYTES * 100, decode_content=True) or b"null")
        if isinstance(body, Mapping):
            error_type = str(body.get("errorType", ""))
            message = str(body.get("error") or message)
    except (ValueError, OSError):
        pass
    response.close()
    raise HttpFailure(response.status_code, error_type, message)


class TooLarge(Exception):
    """An answer longer than the client reads."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(size)
        self.size = size
        self.limit = limit


class BadAnswer(Exception):
    """An answer that is not what the API sends (its first bytes are quoted)."""

    def __init__(self, message: str, body: bytes) -> None:
        super().__init__(message)
        self.message = message
        self.body = body


class HttpFailure(Exception):
    """Raised by the response hook; turned into a ProbeError naming what was asked."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        self.status = status
        self.error_type = error_type
        self.message = message
        super().__init__(message)


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise BadAnswer("not JSON", body) from None


def first_bytes(body: bytes) -> str:
    """The first bytes of an answer, quoted (the runner's redactor masks any secret in them)."""
    head = body[:QUOTED_BYTES].decode("utf-8", errors="replace")
    return repr(head) + (" ..." if len(body) > QUOTED_BYTES else "") if body else "empty"


def protocol_error(server: Server, what: str, message: str) -> ProbeError:
    return ProbeError(
        f"{server.name} at {server.where} answered {what} unexpectedly: {message}", kind=ErrorKind.PROTOCOL
    )


def too_slow(server: Server, what: str, read_timeout: float | None, configured: float) -> ProbeTimeout:
    """A request that did not answer within its read timeout: which request, which limit, and
    the setting that raises it (the section's ``timeout``, or the run's when the probe's deadline
    was nearer)."""
    if read_timeout is None:
        return ProbeTimeout(
            f"{server.name} at {server.where} accepted the connection but did not answer {what:.120} "
            "in time (read timeout)"
        )
    limit = (
        f"prometheus.timeout ({configured:g}s): raise it"
        if read_timeout >= configured - 1e-3
        else f"the {read_timeout:.1f}s left before the probe's deadline: raise the run's --timeout"
    )
    return ProbeTimeout(
        f"{server.name} at {server.where} accepted the connection but did not answer {what:.160} within "
        f"{limit} (read timeout)"
    )


@contextmanager
def request_errors(
    server: Server, what: str, read_timeout: float | None, configured: float
) -> Iterator[None]:
    """Turn any failure of one request to ``server`` into a ProbeError that says why (a read
    that timed out while the answer streamed in is a timeout, not an unreachable server)."""
    import requests
    import urllib3

    name, where = server.name, server.where
    try:
        yield
    except HttpFailure as failure:
        raise http_error(server, what, failure) from None
    except TooLarge as large:
        raise ProbeError(
            f"{name} at {where} answered {what:.120} with more than {large.limit} bytes "
            f"({large.size} seen); not read further",
            kind=ErrorKind.TOO_LARGE,
        ) from None
    except BadAnswer as bad:
        raise protocol_error(server, what, f"{bad.message}; it began {first_bytes(bad.body)}") from None
    except requests.exceptions.SSLError as exc:
        raise ProbeError(
            f"TLS handshake with {name} at {where} failed: {reason_of(exc)}", kind=ErrorKind.TLS
        ) from None
    except requests.exceptions.ConnectTimeout:
        raise ProbeError(
            f"cannot connect to {name} at {where}: no answer to the TCP connection within "
            f"{CONNECT_TIMEOUT_CEILING:g}s",
            kind=ErrorKind.CONNECT,
        ) from None
    except (requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError):
        # accepted the connection, then no answer within the read timeout
        raise too_slow(server, what, read_timeout, configured) from None
    except requests.exceptions.ConnectionError as exc:
        reason = reason_of(exc)
        if "Read timed out" in str(exc):  # urllib3's ReadTimeoutError while reading the body
            raise too_slow(server, what, read_timeout, configured) from None
        dns = any(
            s in reason for s in ("Name or service not known", "NameResolution", "getaddrinfo", "nodename")
        )
        raise ProbeError(
            f"cannot reach {name} at {where}: {reason}", kind=ErrorKind.DNS if dns else ErrorKind.CONNECT
        ) from None
    except requests.exceptions.RequestException as exc:
        raise ProbeError(
            f"request to {name} at {where} failed: {reason_of(exc)}", kind=ErrorKind.CONNECT
        ) from None
    except (
        urllib3.exceptions.ProtocolError,
        urllib3.exceptions.HTTPError,
        OSError,
    ) as exc:  # reading the body
        raise ProbeError(
            f"{name} at {where} broke off its answer to {what:.120}: {reason_of(exc)}", kind=ErrorKind.CONNECT
        ) from None
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise protocol_error(server, what, f"{type(exc).__name__}: {exc!s:.200}") from None


def http_error(server: Server, what: str, failure: HttpFailure) -> ProbeError:
    status, detail, name, where = failure.status, failure.message, server.name, server.where
    if status == 200:
        return protocol_error(server, what, f"{detail} (is {where} the {name} API?)")
    if status == 401:
        return ProbeError(f"{name} at {where} refused the credentials (HTTP 401)", kind=ErrorKind.AUTH)
    if status == 403:
        return ProbeError(f"{name} at {where} forbids {what} (HTTP 403)", kind=ErrorKind.PERMISSION)
    if failure.error_type == "timeout" or status == 504:
        return ProbeTimeout(f"{name} at {where} timed out evaluating {what}: {detail}")
    if status in (400, 422) and failure.error_type:
        return ProbeError(f"{name} rejected {what}: {detail}", kind=ErrorKind.QUERY)
    return ProbeError(
        f"{name} at {where} answered HTTP {status} to {what}: {detail:.200}", kind=ErrorKind.PROTOCOL
    )


def reason_of(exc: BaseException) -> str:
    """The innermost, most specific reason of a requests exception, without URLs."""
    text = str(exc)
    for marker in ("Caused by ", "] ", ">: "):
        if marker in text:
            text = text.rsplit(marker, 1)[-1]
    text = text.strip(" ()'\"")
    for known in ("Connection refused", "Name or service not known", "timed out", "No route to host",
                  "certificate verify failed", "Connection reset by peer", "Temporary failure in name resolution"):  # fmt: skip
        if known in str(exc):
            return known
    return text[:200] or type(exc).__name__
