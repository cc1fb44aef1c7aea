"""Reading one provider's status page: ``GET <base>/api/v2/summary.json``, bounded, once.

A status page is the provider's own statement, served from a CDN: one request, no attempts.
Anything but a readable Statuspage summary (unreachable, HTTP error, not JSON, another schema)
comes back as an error with its :class:`~diagnostics.ErrorKind`, never as a finding about the
provider.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http.client import HTTPException

from pydantic import SecretStr

from diagnostics import Entity, ErrorKind, ProbeError
from probes.dependencies.config import display_url
from probes.dependencies.failures import Failure, classify
from probes.dependencies.statuspage_schema import SchemaError, StatusSummary, parse_summary

SUMMARY_PATH = "/api/v2/summary.json"
MAX_REDIRECTS = 5
ERROR_KINDS = {
    Failure.DNS: ErrorKind.DNS,
    Failure.CONNECT_REFUSED: ErrorKind.CONNECT,
    Failure.CONNECTION: ErrorKind.CONNECT,
    Failure.PROXY: ErrorKind.CONNECT,
    Failure.CONNECT_TIMEOUT: ErrorKind.TIMEOUT,
    Failure.READ_TIMEOUT: ErrorKind.TIMEOUT,
    Failure.TLS: ErrorKind.TLS,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class StatuspageTarget:
    name: str
    entity: Entity
    base_url: str
    headers: Mapping[str, SecretStr]
    timeout_s: float
    verify: bool | str
    proxies: Mapping[str, str]
    max_body_bytes: int
    user_agent: str

    @property
    def summary_url(self) -> str:
        return self.base_url.rstrip("/") + SUMMARY_PATH

    @property
    def display_summary_url(self) -> str:
        return display_url(self.summary_url)


@dataclass(frozen=True, slots=True, kw_only=True)
class StatuspageCheck:
    target: StatuspageTarget
    summary: StatusSummary | None
    error: str | None = None
    error_kind: ErrorKind | None = None
    observed_at: datetime


def _download(target: StatuspageTarget, timeout: float) -> tuple[int, bytes]:
    """The status and at most ``max_body_bytes`` of the body; :class:`ProbeError` otherwise."""
    import requests

    from probes.dependencies.phases import open_session

    body = bytearray()
    with open_session() as session:
        session.max_redirects = MAX_REDIRECTS
        try:
            with session.get(
                target.summary_url,
                headers={
                    "User-Agent": target.user_agent,
                    "Accept": "application/json",
                    **{name: value.get_secret_value() for name, value in target.headers.items()},
                },
                timeout=timeout,
                stream=True,
                verify=target.verify,
                proxies=dict(target.proxies),
            ) as response:
                for chunk in response.iter_content(64 * 1024):
                    body += chunk
                    if len(body) > target.max_body_bytes:
                        raise ProbeError(
                            f"response larger than {target.max_body_bytes} bytes", kind=ErrorKind.PROTOCOL
                        )
                return response.status_code, bytes(body)
        except (requests.RequestException, OSError, ValueError, HTTPException) as exc:
            failure = classify(exc)
            kind = ERROR_KINDS.get(failure.kind, ErrorKind.PROTOCOL)
            raise ProbeError(f"{failure.kind.value}: {failure.reason}", kind=kind) from None


def _summary(status: int, body: bytes) -> StatusSummary:
    """The parsed summary of a downloaded page; :class:`ProbeError` when it is not one."""
    if status == 404:
        raise ProbeError(
            "HTTP 404: not a Statuspage-style page (no /api/v2/summary.json)", kind=ErrorKind.PROTOCOL
        )
    if status in (401, 403):
        raise ProbeError(
            f"HTTP {status}: access denied", kind=ErrorKind.AUTH if status == 401 else ErrorKind.PERMISSION
        )
    if status != 200:
        raise ProbeError(f"HTTP {status}", kind=ErrorKind.PROTOCOL)
    try:
        document = json.loads(body)
    except ValueError:
        raise ProbeError(
            "the response is not JSON: not a Statuspage-style page", kind=ErrorKind.PROTOCOL
        ) from None
    try:
        return parse_summary(document)
    except SchemaError as exc:
        raise ProbeError(
            f"unknown status page schema, expected Atlassian Statuspage's summary.json ({exc})",
            kind=ErrorKind.PROTOCOL,
        ) from None


def fetch_statuspage(target: StatuspageTarget, *, deadline: float) -> StatuspageCheck:
    """Fetch and parse the summary; the result carries either a summary or an error."""
    observed_at = datetime.fromtimestamp(time.time(), UTC)
    timeout = min(target.timeout_s, deadline - time.monotonic())
    try:
        if timeout <= 0:
            raise ProbeError("no time left before the deadline", kind=ErrorKind.TIMEOUT)
        summary = _summary(*_download(target, timeout))
    except ProbeError as exc:
        return StatuspageCheck(
            target=target,
            summary=None,
            error=f"{target.name}: {target.display_summary_url}: {exc}",
            error_kind=exc.kind,
            observed_at=observed_at,
        )
    return StatuspageCheck(target=target, summary=summary, observed_at=observed_at)
