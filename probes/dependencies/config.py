"""The shared ``dependencies`` section: one entry per upstream, each of exactly one kind.

    dependencies:
      - name: payments-api
        url: https://payments.internal/healthz     # deps.http
      - name: orders-db-tcp
        tcp: orders-db.internal:5432               # deps.tcp
      - name: stripe
        statuspage: https://status.stripe.com      # deps.statuspage

Fields an entry leaves out fall back to its probe's options (``probes.deps.http`` ...).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from diagnostics import BackendSection, Duration, Entity, ErrorKind, ProbeContext, ProbeError, ProbeSkipped
from diagnostics.config_values import check_secret_headers, existing_file, unique_names

KINDS = ("url", "tcp", "statuspage")
HTTP_ONLY = ("expect_status", "expect_body", "max_redirects")
NOT_FOR_TCP = (*HTTP_ONLY, "headers", "verify_tls", "ca_bundle")
NOT_FOR_STATUSPAGE = (*HTTP_ONLY, "attempts", "latency_warning", "latency_critical")


class Address(BaseModel):
    """A ``host:port`` pair; IPv6 literals are written ``[::1]:5432``."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    host: str
    port: int

    def display(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


_ADDRESS = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:\s\[\]]+)):(?P<port>\d{1,5})$")


def parse_address(text: str) -> Address:
    """``orders-db:5432`` or ``[::1]:5432`` into an Address; ValueError names what is wrong."""
    match = _ADDRESS.match(text.strip())
    if match is None:
        raise ValueError(f"expected host:port (e.g. orders-db.internal:5432), got {text!r}")
    port = int(match.group("port"))
    if not 0 < port < 65536:
        raise ValueError(f"port must be between 1 and 65535, got {port}")
    return Address(host=match.group("v6") or match.group("host"), port=port)


def _http_url(text: str) -> str:
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http:// or https:// URL with a host, got {display_url(text)!r}")
    try:
        _ = parts.port  # raises on a non-numeric or out-of-range port
    except ValueError as exc:
        raise ValueError(f"bad port in {display_url(text)!r}: {exc}") from None
    return text.strip()


def display_url(url: str) -> str:
    """The URL without credentials, query or fragment: safe to show in findings and logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    query = "?…" if parts.query else ""
    return f"{parts.scheme}://{host}{port}{parts.path}{query}"


class Dependency(BaseModel):
    """One upstream: exactly one of ``url`` (HTTP check), ``tcp`` (host:port) or ``statuspage``."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    name: str = Field(min_length=1)
    url: str | None = None
    tcp: str | None = None
    statuspage: str | None = None
    expect_status: tuple[Annotated[int, Field(ge=100, le=599)], ...] | None = Field(None, min_length=1)
    """Accepted final status codes; default any 2xx or 3xx."""
    expect_body: str | None = Field(None, min_length=1)
    """A substring of the body, or else a regular expression searched in it."""
    latency_warning: Duration | None = None
    latency_critical: Duration | None = None
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    """Sent with every request; never shown anywhere."""
    attempts: int | None = Field(None, ge=1, le=10)
    timeout: Duration | None = None
    """Per attempt: the connect and the read timeout."""
    verify_tls: bool = True
    ca_bundle: str | None = None
    """A PEM file of the CAs to trust instead of the system's."""
    max_redirects: int | None = Field(None, ge=0, le=30)

    @field_validator("url", "statuspage")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value)

    @field_validator("tcp")
    @classmethod
    def _check_address(cls, value: str | None) -> str | None:
        return None if value is None else parse_address(value).display()

    @field_validator("ca_bundle")
    @classmethod
    def _check_bundle(cls, value: str | None) -> str | None:
        return None if value is None else existing_file(value, "CA bundle")

    @field_validator("headers")
    @classmethod
    def _check_headers(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        check_secret_headers(value)
        return value

    @field_validator("timeout")
    @classmethod
    def _positive_timeout(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value.total_seconds() <= 0:
            raise ValueError("the timeout must be longer than zero")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> Dependency:
        given = [kind for kind in KINDS if getattr(self, kind) is not None]
        if len(given) != 1:
            got = f"got {' and '.join(given)}" if given else "got none"
            raise ValueError(f"dependency {self.name!r} needs exactly one of url, tcp or statuspage ({got})")
        not_allowed = {"tcp": NOT_FOR_TCP, "statuspage": NOT_FOR_STATUSPAGE}.get(given[0], ())
        wrong = [key for key in not_allowed if key in self.model_fields_set]
        if wrong:
            verb = "does" if len(wrong) == 1 else "do"
            raise ValueError(
                f"dependency {self.name!r}: {', '.join(wrong)} {verb} not apply to a {given[0]} entry"
            )
        if self.latency_warning and self.latency_critical and self.latency_warning >= self.latency_critical:
            raise ValueError(f"dependency {self.name!r}: latency_warning must be below latency_critical")
        return self

    @property
    def kind(self) -> str:
        return next(kind for kind in KINDS if getattr(self, kind) is not None)

    def entity(self) -> Entity:
        """How findings name this dependency (kind ``dependency``, the configured name)."""
        if self.tcp is not None:
            return Entity(kind="dependency", name=self.name, attributes={"address": self.tcp})
        return Entity(
            kind="dependency",
            name=self.name,
            attributes={"url": display_url(self.url or self.statuspage or "")},
        )


def _unique_per_kind(entries: list[Dependency]) -> list[Dependency]:
    for kind in KINDS:
        unique_names([e for e in entries if e.kind == kind], f"{kind} entries")
    return entries


SECTION = BackendSection(
    key="dependencies",
    # names are unique per kind: a provider's API check and its status page may share one
    model=Annotated[list[Dependency], AfterValidator(_unique_per_kind)],
    setup_hint="dependencies: [{name: payments-api, url: https://payments.internal/healthz}]",
    description="Upstreams to check: each entry has exactly one of url (HTTP), tcp (host:port) or statuspage.",
    client_modules=("requests", "urllib3"),
)


def entries_of_kind(entries: object, kind: str) -> list[Dependency]:
    """The validated entries of one kind (``url``, ``tcp`` or ``statuspage``).

    Two entries of one kind must not share a name (their findings would be indistinguishable);
    entries of different kinds may, so a provider's API check and its status page correlate.
    """
    assert isinstance(entries, list)
    chosen = [e for e in entries if isinstance(e, Dependency) and e.kind == kind]
    seen: set[str] = set()
    for entry in chosen:
        if entry.name in seen:
            raise ProbeError(
                f"dependencies: two {kind} entries are named {entry.name!r}; names must be unique per kind",
                kind=ErrorKind.CONFIG,
            )
        seen.add(entry.name)
    return chosen


KIND_HINTS = {
    "url": "dependencies: [{name: payments-api, url: https://payments.internal/healthz}]",
    "tcp": "dependencies: [{name: orders-db-tcp, tcp: orders-db.internal:5432}]",
    "statuspage": "dependencies: [{name: stripe, statuspage: https://status.stripe.com}]",
}


def nothing_to_check(kind: str) -> ProbeSkipped:
    """The skip of a probe whose kind has no entry in the ``dependencies`` section."""
    return ProbeSkipped(f"no {kind} entry in the dependencies section", hint=KIND_HINTS[kind])


def describe_entries(entries: object, kind: str) -> str:
    """``2 targets: a, b`` for the entries of one kind (for ``diag config check``)."""
    names = (
        [e.name for e in entries if isinstance(e, Dependency) and e.kind == kind]
        if isinstance(entries, list)
        else []
    )
    if not names:
        return f"nothing (no {kind} entry) — add: {KIND_HINTS[kind]}"
    return f"{len(names)} target{'s' if len(names) != 1 else ''}: {', '.join(names)}"


def entries_to_check(ctx: ProbeContext, kind: str) -> list[Dependency]:
    """The probe's entries of ``kind``; skipped when there is none, a timeout when no time is left."""
    entries = entries_of_kind(ctx.backend, kind)
    if not entries:
        raise nothing_to_check(kind)
    ctx.timeout_for_call(1.0)  # raises ProbeTimeout when no time is left at all
    return entries
