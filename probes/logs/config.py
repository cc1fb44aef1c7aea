"""The top-level ``logs`` section: one entry per source, each with a name and exactly one kind.

    logs:
      - name: checkout
        file: {paths: ['/var/log/checkout/*.log'], format: auto}   # auto | json | logfmt | plain | access
      - name: nginx
        journald: {units: [nginx.service]}        # or directory: PATH of journal files
      - name: cart
        kubernetes: {namespace: shop, selector: app=cart}
      - name: payments
        loki: {url: 'http://loki:3100', query: '{app="payments"}'}
      - name: api
        elasticsearch: {url: 'https://es:9200', index: 'logs-*', query: 'service.name:api'}
      - name: orders
        victorialogs: {url: 'http://vlogs:9428', query: 'service:orders'}

The ``name`` is the service the lines belong to: findings name it (entity kind ``service``), so
the summary matches them with the other probes' findings on that service. Credentials come
through ``${VAR}`` (headers, ``bearer_token``, ``basic_auth``) and are never printed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from diagnostics import BackendSection, Duration, Entity, ErrorKind, ProbeError, ProbeOptions, ProbeSkipped

KINDS = ("file", "journald", "kubernetes", "loki", "elasticsearch", "victorialogs")
LineFormat = Literal["auto", "json", "logfmt", "plain", "access"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


def _http_url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http:// or https:// URL with a host, got {value!r}")
    if parts.username or parts.password:
        raise ValueError("put credentials in basic_auth or bearer_token, not in the URL")
    return value.strip().rstrip("/")


class BasicAuth(_Strict):
    """HTTP basic authentication; the password never appears in output."""

    username: str = Field(min_length=1)
    password: SecretStr


class HttpBackend(_Strict):
    """What every HTTP log backend shares: the URL, credentials and TLS."""

    url: str
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    """Sent with every request (e.g. ``X-Scope-OrgID``); values never shown."""
    bearer_token: SecretStr | None = None
    basic_auth: BasicAuth | None = None
    verify_tls: bool = True
    request_timeout: Duration = timedelta(seconds=10)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value)

    @model_validator(mode="after")
    def _one_auth(self) -> HttpBackend:
        if self.bearer_token is not None and self.basic_auth is not None:
            raise ValueError("give bearer_token or basic_auth, not both")
        return self


class FileSource(_Strict):
    """Plain files, rotated or not; ``paths`` are glob patterns."""

    paths: tuple[str, ...] = Field(min_length=1)
    format: LineFormat = "auto"
    timezone_offset: Duration = timedelta(0)
    """Offset of timestamps written without a zone (log4j, syslog); default UTC."""


class JournaldSource(_Strict):
    """The systemd journal through ``journalctl`` (the local one, or a directory of journal files)."""

    units: tuple[str, ...] = ()
    directory: str | None = None
    identifiers: tuple[str, ...] = ()
    """``SYSLOG_IDENTIFIER`` values to keep (``-t``)."""


class KubernetesSource(_Strict):
    """Container logs of the pods a label selector picks in one namespace."""

    namespace: str = Field(min_length=1)
    selector: str = Field(min_length=1)
    container: str | None = None
    context: str | None = None
    kubeconfig: str | None = None
    """Default: the client's own: ``$KUBECONFIG``, then ``~/.kube/config``."""
    in_cluster: bool = False
    """True: the pod's service account (diag running inside the cluster)."""
    format: LineFormat = "auto"
    max_pods: int = Field(20, ge=1, le=500)


class LokiSource(HttpBackend):
    """Grafana Loki: ``query`` is a LogQL stream selector, optionally with line filters."""

    query: str = Field(min_length=1)


class ElasticsearchSource(HttpBackend):
    """Elasticsearch or OpenSearch: ``query`` is a query_string filter on ``index``."""

    index: str = Field(min_length=1)
    query: str = "*"
    time_field: str = "@timestamp"
    level_field: str = "log.level"
    message_field: str = "message"


class VictoriaLogsSource(HttpBackend):
    """VictoriaLogs: ``query`` is a LogsQL filter (``service:orders``)."""

    query: str = "*"
    level_field: str = "level"


class LogSource(_Strict):
    """One source of log lines: a ``name`` (the service) and exactly one kind."""

    name: str = Field(min_length=1)
    file: FileSource | None = None
    journald: JournaldSource | None = None
    kubernetes: KubernetesSource | None = None
    loki: LokiSource | None = None
    elasticsearch: ElasticsearchSource | None = None
    victorialogs: VictoriaLogsSource | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> LogSource:
        given = [kind for kind in KINDS if getattr(self, kind) is not None]
        if len(given) != 1:
            got = f"got {' and '.join(given)}" if given else "got none"
            raise ValueError(f"log source {self.name!r} needs exactly one of {', '.join(KINDS)} ({got})")
        return self

    @property
    def kind(self) -> str:
        return next(kind for kind in KINDS if getattr(self, kind) is not None)

    def entity(self) -> Entity:
        """Findings name the service the lines belong to."""
        return Entity(kind="service", name=self.name, attributes={"log_source": self.kind})


SECTION = BackendSection(
    key="logs",
    model=list[LogSource],
    setup_hint="logs: [{name: checkout, file: {paths: ['/var/log/checkout/*.log']}}]",
    description="Log sources: each entry has a name (the service) and exactly one of file, journald, "
    "kubernetes, loki, elasticsearch (OpenSearch too) or victorialogs.",
)


def sources_to_read(backend: object) -> list[LogSource]:
    """The configured sources; skipped when there is none, a config error on duplicate names."""
    sources = [s for s in backend if isinstance(s, LogSource)] if isinstance(backend, list) else []
    if not sources:
        raise ProbeSkipped("no entry in the logs section", hint=SECTION.setup_hint)
    seen: set[str] = set()
    for source in sources:
        if source.name in seen:
            raise ProbeError(f"logs: two sources are named {source.name!r}", kind=ErrorKind.CONFIG)
        seen.add(source.name)
    return sources


def describe_sources(backend: object) -> str:
    """``2 sources: checkout (file), orders (victorialogs)`` for ``diag config check``."""
    sources = [s for s in backend if isinstance(s, LogSource)] if isinstance(backend, list) else []
    if not sources:
        return "nothing (no log source)"
    names = ", ".join(f"{s.name} ({s.kind})" for s in sources)
    return f"{len(sources)} source{'s' if len(sources) != 1 else ''}: {names}"


def auth_headers(backend: HttpBackend) -> Mapping[str, str]:
    """The request headers carrying the configured credentials (never logged)."""
    import base64

    headers = {name: value.get_secret_value() for name, value in backend.headers.items()}
    if backend.bearer_token is not None:
        headers["Authorization"] = f"Bearer {backend.bearer_token.get_secret_value()}"
    elif backend.basic_auth is not None:
        pair = f"{backend.basic_auth.username}:{backend.basic_auth.password.get_secret_value()}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    return headers


class ReadingOptions(ProbeOptions):
    """How much of each source is read, and the baseline it is compared against."""

    timeout: Duration = timedelta(seconds=30)
    """How long the probe may take before it ends as ``timeout``."""
    baseline: Duration = timedelta(hours=6)
    """The hours before the window (and its lead-in) that give the normal rate."""
    day_earlier: bool = True
    """Also compare with the same time a day earlier, where the source keeps it."""
    max_bytes: int = Field(512 * 1024 * 1024, ge=1024)
    """Per source: bytes read from files, journald and pod logs at most."""
    max_lines: int = Field(5_000_000, ge=1000)
    """Per source: lines read at most (split between a workload's containers for pod logs)."""
    max_samples: int = Field(20_000, ge=100)
    """Error and warning lines kept per source for templates (remote backends: fetched per range)."""
    concurrency: int = Field(4, ge=1, le=32)
    """Sources read at the same time."""


class ErrorsOptions(ReadingOptions):
    """Thresholds of ``logs.errors``."""

    threshold: float = Field(5.0, gt=0)
    """Robust z-score of errors per minute (as metrics.anomalies)."""
    persistence: Duration = timedelta(minutes=3)
    """How long errors per minute must stay above the threshold to count as a rise (whole minutes, at least 2)."""
    min_rise: float = Field(3.0, ge=0)
    """Errors per minute a rise must add, whatever its z-score."""
    min_ratio_rise: float = Field(0.02, ge=0)
    """Share of requests answered 5xx a rise must add (access logs)."""
    top_templates: int = Field(5, ge=1, le=50)
    """Most frequent error templates since the onset shown in a finding."""


class PatternsOptions(ReadingOptions):
    """Thresholds of ``logs.patterns``."""

    min_count: int = Field(3, ge=1)
    """Occurrences in the window a new template needs."""
    rise_factor: float = Field(10.0, gt=1)
    """A known template whose rate rose this many times is reported."""
    max_findings: int = Field(10, ge=1)
    """Findings reported at most, most frequent first; the rest are counted in one info finding."""
