"""The ``traces`` section (where the traces are) and the options of ``traces.errors`` / ``traces.latency``.

```yaml
traces:
  jaeger: {url: http://jaeger-query:16686}     # or tempo: {url}, or zipkin: {url}
  services: [frontend, checkout]               # optional: the entry services to follow
  sample: 500                                  # traces per query (window, baseline, errors)
  prometheus: *prometheus                      # optional: span metrics for the rates
```

A backend accepts ``headers`` (values are secrets), ``bearer_token`` (a secret), ``verify_tls``
and ``timeout``. Secrets are :class:`pydantic.SecretStr`: no message, log or report shows them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from diagnostics import BackendSection, Duration, ProbeOptions
from probes.prometheus.config import PrometheusConfig, display_url

BackendKind = Literal["jaeger", "tempo", "zipkin"]
BACKEND_KINDS: tuple[BackendKind, ...] = ("jaeger", "tempo", "zipkin")


class TraceEndpoint(BaseModel):
    """How to reach one trace store's HTTP query API."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    url: str
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    """Sent with every request (e.g. ``X-Scope-OrgID``); never shown anywhere."""
    bearer_token: SecretStr | None = None
    verify_tls: bool | str = True
    """True, False, or the path of a CA bundle."""
    timeout: Duration = timedelta(seconds=10)
    """Ceiling of one HTTP request; the probe's deadline may cut it shorter."""
    ui_url: str | None = None
    """Base of the links to example traces, when the UI is not at ``url``."""

    @field_validator("url", "ui_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected an http:// or https:// URL with a host, got {display_url(value)!r}")
        return value.strip().rstrip("/")

    @field_validator("timeout")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value.total_seconds() <= 0:
            raise ValueError("the timeout must be longer than zero")
        return value


class TracesConfig(BaseModel):
    """The validated ``traces`` section: exactly one of ``jaeger``, ``tempo`` or ``zipkin``."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    jaeger: TraceEndpoint | None = None
    tempo: TraceEndpoint | None = None
    zipkin: TraceEndpoint | None = None
    services: tuple[str, ...] = ()
    """Entry services to follow; empty: every service that starts traces (at most ``max_services``)."""
    sample: int = Field(500, ge=10, le=5000)
    """Traces per query: the window's, the baseline's and the window's failing ones."""
    max_services: int = Field(20, ge=1, le=200)
    max_spans_per_trace: int = Field(5000, ge=10, le=100_000)
    """A trace with more spans is cut to its first ones (by start time)."""
    max_spans: int = Field(1_000_000, ge=1000, le=20_000_000)
    """Spans one run walks at most: once reached, further entry services are not fetched."""
    concurrency: int = Field(8, ge=1, le=32)
    """Requests in flight at once (Tempo fetches each trace by id)."""
    prometheus: PrometheusConfig | None = None
    """Where span metrics / service-graph metrics live (often the ``prometheus`` section, via a
    YAML anchor): rates then come from them, and traces only name the path."""

    @model_validator(mode="after")
    def _one_backend(self) -> TracesConfig:
        given = [kind for kind in BACKEND_KINDS if getattr(self, kind) is not None]
        if len(given) != 1:
            got = f"got {' and '.join(given)}" if given else "got none"
            raise ValueError(f"traces needs exactly one of jaeger, tempo or zipkin ({got})")
        return self

    @property
    def kind(self) -> BackendKind:
        return next(kind for kind in BACKEND_KINDS if getattr(self, kind) is not None)

    @property
    def endpoint(self) -> TraceEndpoint:
        endpoint = getattr(self, self.kind)
        assert isinstance(endpoint, TraceEndpoint)
        return endpoint


SECTION = BackendSection(
    key="traces",
    model=TracesConfig,
    setup_hint="traces: {jaeger: {url: http://jaeger-query:16686}}  (or tempo: {url}, zipkin: {url})",
    description="The trace store (Jaeger, Tempo or Zipkin query API) that traces.* probes read",
)


class TracesOptions(ProbeOptions):
    """Options both trace probes share."""

    timeout: Duration = timedelta(seconds=30)
    """How long the probe may take before it ends as ``timeout``."""
    baseline: Duration = timedelta(hours=1)
    """Length of the baseline window, which ends where the diagnosed window starts."""
    min_traces: int = Field(20, ge=5)
    """Fewer traces than this in the window or the baseline: too few to compare, nothing judged."""


class ErrorsOptions(TracesOptions):
    """Options of ``traces.errors``."""

    min_failing: int = Field(5, ge=1)
    """At least this many failing traces in the window before anything is said."""
    min_ratio_increase: float = Field(1.5, gt=1.0)
    """The window's error ratio must be at least this multiple of the baseline's..."""
    min_z: float = Field(3.0, gt=0.0)
    """...and above it by this many standard errors (two-proportion z-test)."""
    critical_ratio: float = Field(0.2, gt=0.0, le=1.0)
    """An error ratio at or above this is critical; below, a warning."""


class LatencyOptions(TracesOptions):
    """Options of ``traces.latency``."""

    min_ratio: float = Field(1.25, gt=1.0)
    """p50 or p95 must grow at least this much, or more when the baseline's own chunks vary more."""
    min_increase: Duration = timedelta(milliseconds=5)
    """...and by at least this much time."""
    critical_ratio: float = Field(2.0, gt=1.0)
    """p95 at or above this multiple of the baseline's is critical; below, a warning."""
