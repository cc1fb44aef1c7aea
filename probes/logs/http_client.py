"""The HTTP transport the remote log backends share (Loki, Elasticsearch, VictoriaLogs).

One ``requests`` session per source and run, credentials from the source's configuration, every
request bounded by ``request_timeout`` and the probe's deadline, never retried; failures become
a :class:`ProbeError` whose kind says why (connect, dns, tls, auth, permission, timeout, query).
"""

from __future__ import annotations

import json
import time as clock
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from diagnostics import ErrorKind, ProbeError, ProbeTimeout
from probes.logs.config import HttpBackend, auth_headers

if TYPE_CHECKING:
    pass

CONNECT_TIMEOUT_S = 3.0
MAX_BODY = 64 * 1024 * 1024
"""An answer larger than this is refused (a misconfigured query must not eat the memory)."""


class LogHttp:
    """Requests to one log backend; use as a context manager so the session closes."""

    def __init__(self, backend: HttpBackend, *, name: str, deadline: float) -> None:
        import requests

        self.backend = backend
        self.name = name
        self.deadline = deadline
        self.session = requests.Session()
        self.session.headers.update(auth_headers(backend))
        self.session.verify = backend.verify_tls
        self.queries: list[str] = []

    def __enter__(self) -> LogHttp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.session.close()

    def _timeout(self) -> tuple[float, float]:
        left = self.deadline - clock.monotonic()
        if left <= 0.05:
            raise ProbeTimeout(f"{self.name}: no time left before the deadline")
        read = min(self.backend.request_timeout.total_seconds(), left)
        return min(CONNECT_TIMEOUT_S, read), read

    def get(self, path: str, params: Mapping[str, Any], *, what: str) -> Any:
        """GET ``path`` and decode its JSON answer."""
        return self._json(self._send("GET", path, params=params, what=what), what)

    def post(self, path: str, *, what: str, body: Any = None, form: Mapping[str, Any] | None = None) -> Any:
        """POST a JSON ``body`` (or a ``form``) and decode the JSON answer."""
        return self._json(self._send("POST", path, json_body=body, form=form, what=what), what)

    def post_lines(self, path: str, form: Mapping[str, Any], *, what: str) -> Iterator[Any]:
        """POST a form and decode an answer of JSON lines (VictoriaLogs' query endpoint)."""
        text = self._send("POST", path, form=form, what=what)
        for line in text.splitlines():
            if line.strip():
                yield self._json(line, what)

    def _send(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        form: Mapping[str, Any] | None = None,
    ) -> str:
        import requests

        self.queries.append(
            f"{method} {path} {json.dumps(json_body or form or params or {}, sort_keys=True)}"
        )
        url = self.backend.url + path
        try:
            response = self.session.request(
                method, url, params=params, json=json_body, data=form, timeout=self._timeout(), stream=True
            )
            body = response.raw.read(MAX_BODY + 1, decode_content=True)
            response.close()
        except requests.exceptions.SSLError:
            raise ProbeError(
                f"{self.name}: TLS handshake with {self.backend.url} failed", kind=ErrorKind.TLS
            ) from None
        except requests.exceptions.Timeout:
            raise ProbeTimeout(f"{self.name}: {self.backend.url} did not answer in time ({what})") from None
        except requests.exceptions.ConnectionError as exc:
            dns = "resolution" in str(exc).lower() or "not known" in str(exc)
            raise ProbeError(
                f"{self.name}: cannot reach {self.backend.url}"
                + (" (DNS)" if dns else " (connection refused or reset)"),
                kind=ErrorKind.DNS if dns else ErrorKind.CONNECT,
            ) from None
        if len(body) > MAX_BODY:
            raise ProbeError(
                f"{self.name}: the answer to {what} exceeds {MAX_BODY} bytes", kind=ErrorKind.QUERY
            )
        text = body.decode("utf-8", "replace")
        status = response.status_code
        if status == 401:
            raise ProbeError(
                f"{self.name}: {self.backend.url} refused the credentials (HTTP 401)", kind=ErrorKind.AUTH
            )
        if status == 403:
            raise ProbeError(
                f"{self.name}: {self.backend.url} forbids {what} (HTTP 403)", kind=ErrorKind.PERMISSION
            )
        if status >= 400:
            kind = ErrorKind.QUERY if status in (400, 404, 422) else ErrorKind.PROTOCOL
            raise ProbeError(f"{self.name}: {what} answered HTTP {status}: {text.strip()[:200]}", kind=kind)
        return text

    def _json(self, text: str, what: str) -> Any:
        try:
            return json.loads(text)
        except ValueError:
            raise ProbeError(
                f"{self.name}: the answer to {what} is not JSON", kind=ErrorKind.PROTOCOL
            ) from None
