"""JSON over HTTP for the flag providers' APIs: one session, read-only, bounded by the deadline.

Every call is a GET (or the documented read-only search POST) with a timeout that never
outlives the probe's deadline; failures become :class:`~diagnostics.ProbeError` with the kind
(connect, timeout, auth, protocol) and the URL without its query, never the token.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from diagnostics import ErrorKind, ProbeContext, ProbeError

if TYPE_CHECKING:
    import requests

MAX_BODY_BYTES = 20 * 1024 * 1024
"""An answer larger than this is refused (bounded memory)."""


def display(url: str) -> str:
    """The URL without credentials: scheme, host, port and path (the query kept: it holds no secret)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme}://{host}{port}{parts.path}{query}"


class JsonApi:
    """GETs JSON from one API base URL with a fixed ``Authorization`` header."""

    def __init__(
        self, base_url: str, *, authorization: str, ctx: ProbeContext, request_timeout: float, name: str
    ) -> None:
        import requests

        self.base_url = base_url.rstrip("/")
        self.ctx = ctx
        self.request_timeout = request_timeout
        self.name = name
        self.queries: list[str] = []
        self._session = requests.Session()
        self._session.headers.update(
            {"Authorization": authorization, "Accept": "application/json", "User-Agent": "diag (toggles)"}
        )

    def __enter__(self) -> JsonApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self._session.close()

    def url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        query = f"?{urlencode(params, safe=':/*,')}" if params else ""
        return f"{self.base_url}{path}{query}"

    def get(self, path: str, params: Mapping[str, Any] | None = None, *, missing_ok: bool = False) -> Any:
        """The decoded JSON answer of ``GET path?params`` (None for a 404 when ``missing_ok``)."""
        url = self.url(path, params)
        self.queries.append(f"GET {display(url)}")
        timeout = self.ctx.timeout_for_call(self.request_timeout)
        with self._errors(url):
            response = self._session.get(url, timeout=timeout, stream=True, allow_redirects=False)
            try:
                if missing_ok and response.status_code == 404:
                    return None
                self._check_status(response, url)
                return _json(response, url)
            finally:
                response.close()

    def _check_status(self, response: requests.Response, url: str) -> None:
        status = response.status_code
        if status in (401, 403):
            raise ProbeError(
                f"{self.name}: {display(url)} answered {status}: the token is missing, wrong or lacks read access",
                kind=ErrorKind.AUTH,
            )
        if status >= 300:
            raise ProbeError(f"{self.name}: {display(url)} answered HTTP {status}", kind=ErrorKind.PROTOCOL)

    @contextlib.contextmanager
    def _errors(self, url: str) -> Iterator[None]:
        import requests

        try:
            yield
        except ProbeError:
            raise
        except requests.Timeout:
            raise ProbeError(
                f"{self.name}: {display(url)} did not answer in time", kind=ErrorKind.TIMEOUT
            ) from None
        except requests.exceptions.SSLError as exc:
            raise ProbeError(
                f"{self.name}: TLS error at {display(url)}: {_first_line(exc)}", kind=ErrorKind.TLS
            ) from None
        except requests.ConnectionError as exc:
            raise ProbeError(
                f"{self.name}: cannot connect to {display(url)}: {_first_line(exc)}", kind=ErrorKind.CONNECT
            ) from None
        except requests.RequestException as exc:
            raise ProbeError(
                f"{self.name}: {display(url)}: {_first_line(exc)}", kind=ErrorKind.PROTOCOL
            ) from None


def _first_line(exc: Exception) -> str:
    text = str(exc).splitlines()
    return text[0][:200] if text else type(exc).__name__


def _json(response: requests.Response, url: str) -> Any:
    import json

    body = bytearray()
    for chunk in response.iter_content(64 * 1024):
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise ProbeError(
                f"{display(url)}: answer larger than {MAX_BODY_BYTES} bytes", kind=ErrorKind.PROTOCOL
            )
    try:
        return json.loads(body)
    except ValueError:
        raise ProbeError(f"{display(url)}: the answer is not JSON", kind=ErrorKind.PROTOCOL) from None
