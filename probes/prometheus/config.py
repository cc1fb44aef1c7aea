"""The ``prometheus`` configuration section, shared by every probe that reads Prometheus.

```yaml
prometheus:
  url: http://127.0.0.1:9090          # or $PROMETHEUS_URL when the section is absent
  headers: {X-Scope-OrgID: team-a}    # optional, sent with every request
  bearer_token: ${PROM_TOKEN}         # optional; or basic_auth: {username, password}
  verify_tls: true                    # false, or the path of a CA bundle
  timeout: 5s                         # ceiling of one HTTP request
  alertmanager_url: http://127.0.0.1:9093   # optional, read by metrics.alerts
```
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from diagnostics import BackendSection, Duration
from diagnostics.config_values import check_secret_headers, existing_file


def _check_http_url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http:// or https:// URL, got {display_url(value)!r}")
    try:
        _ = parts.port  # a non-numeric or out-of-range port raises
    except ValueError:
        raise ValueError(f"the port of {display_url(value)!r} is not a number from 1 to 65535") from None
    if parts.port == 0:
        raise ValueError(f"the port of {display_url(value)!r} is not a number from 1 to 65535")
    return value.strip().rstrip("/")


def display_url(url: str) -> str:
    """``url`` without any user:password part, for messages."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    port = _port(url)
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _port(url: str) -> int | None:
    try:
        return urlsplit(url).port
    except ValueError:
        return None


class BasicAuth(BaseModel):
    """HTTP basic authentication towards Prometheus (and Alertmanager)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    username: str = Field(min_length=1)
    password: SecretStr


class PrometheusConfig(BaseModel):
    """How to reach Prometheus: validated value of the ``prometheus`` section."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    url: str
    headers: Mapping[str, SecretStr] = Field(default_factory=dict)
    """Sent with every request (e.g. ``X-Scope-OrgID``); values are secrets, never shown."""
    bearer_token: SecretStr | None = None
    basic_auth: BasicAuth | None = None
    verify_tls: bool | str = True
    """True, False, or the path of a CA bundle to verify the server against."""
    timeout: Duration = timedelta(seconds=5)
    """Ceiling of one HTTP request; the probe's own deadline may cut it shorter."""
    alertmanager_url: str | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_http_url(value)

    @field_validator("alertmanager_url")
    @classmethod
    def _alertmanager_url(cls, value: str | None) -> str | None:
        return None if value is None else _check_http_url(value)

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: Mapping[str, SecretStr]) -> Mapping[str, SecretStr]:
        return check_secret_headers(value)

    @field_validator("verify_tls")
    @classmethod
    def _verify_tls(cls, value: bool | str) -> bool | str:
        return value if isinstance(value, bool) else existing_file(value, "CA bundle")

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: timedelta) -> timedelta:
        if value.total_seconds() <= 0:
            raise ValueError("the timeout must be longer than zero")
        return value

    @model_validator(mode="after")
    def _one_auth(self) -> PrometheusConfig:
        if self.bearer_token is not None and self.basic_auth is not None:
            raise ValueError("set either bearer_token or basic_auth, not both")
        return self


def _from_environment(env: Mapping[str, str]) -> dict[str, Any] | None:
    url = env.get("PROMETHEUS_URL", "").strip()
    return {"url": url} if url else None


SECTION = BackendSection(
    key="prometheus",
    model=PrometheusConfig,
    setup_hint="prometheus: {url: http://127.0.0.1:9090}  (or set $PROMETHEUS_URL)",
    from_environment=_from_environment,
    description="The Prometheus server (HTTP API) that metrics.* and resources.* probes query",
    client_modules=("requests", "urllib3", "numpy"),
)
