"""The ``serve`` section: where ``diag serve`` listens, how often it runs the probes, who may ask.

serve:
  listen: 127.0.0.1:9799
  every: 1m
  intervals: {db.locks: 15s, deps.statuspage: 5m}   # a probe's own schedule
  max_probe_requests: 4                             # concurrent /probe runs; 429 beyond
  auth: {bearer_token: '${DIAG_SERVE_TOKEN}'}       # or {username: prom, password: ...}
  tls: {cert_file: /etc/diag/tls.crt, key_file: /etc/diag/tls.key}
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from diagnostics.contract import Duration

DEFAULT_LISTEN = "127.0.0.1:9799"


class ServeAuth(BaseModel):
    """Who may read the endpoints (all but ``/healthz``): a bearer token or basic credentials."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    bearer_token: SecretStr | None = Field(None, min_length=16)
    """Requests must send ``Authorization: Bearer <token>`` (16 characters at least)."""
    username: str | None = Field(None, min_length=1)
    """With ``password``: HTTP basic authentication."""
    password: SecretStr | None = Field(None, min_length=8)
    """With ``username``: HTTP basic authentication (8 characters at least)."""

    @model_validator(mode="after")
    def _one_scheme(self) -> ServeAuth:
        basic = self.username is not None or self.password is not None
        if basic and (self.username is None or self.password is None):
            raise ValueError("basic authentication needs both username and password")
        if basic == (self.bearer_token is not None):
            raise ValueError("give either bearer_token or username and password")
        return self


class ServeTLS(BaseModel):
    """Serve HTTPS with this certificate and key (PEM files)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    cert_file: Path
    """The certificate chain (PEM)."""
    key_file: Path
    """The private key (PEM)."""

    @field_validator("cert_file", "key_file")
    @classmethod
    def _readable(cls, value: Path) -> Path:
        if not value.is_file():
            raise ValueError(f"no such file: {value}")
        return value


class ServeSettings(BaseModel):
    """The ``serve`` section read by ``diag serve``."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    listen: str = DEFAULT_LISTEN
    """HOST:PORT to bind; loopback unless told otherwise."""
    every: Duration = timedelta(minutes=1)
    """How often every probe runs unless ``intervals`` gives its own."""
    intervals: dict[str, Duration] = Field(default_factory=dict)
    """Per probe id, its own interval."""
    max_probe_requests: int = Field(4, ge=1, le=64)
    """``/probe`` runs at once; more are answered 429."""
    auth: ServeAuth | None = None
    """Require credentials on every endpoint but ``/healthz``."""
    tls: ServeTLS | None = None
    """Serve HTTPS."""

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        parse_listen(value)
        return value

    @field_validator("every")
    @classmethod
    def _at_least_a_second(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=1):
            raise ValueError("must be 1s or longer")
        return value

    @field_validator("intervals")
    @classmethod
    def _intervals_at_least_a_second(cls, value: dict[str, timedelta]) -> dict[str, timedelta]:
        for probe_id, interval in value.items():
            if interval < timedelta(seconds=1):
                raise ValueError(f"{probe_id}: must be 1s or longer")
        return value


def parse_listen(value: str) -> tuple[str, int]:
    """``(host, port)`` of ``HOST:PORT`` / ``[::1]:PORT``; ValueError when it is not one."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) < 65536:
        raise ValueError(f"expected HOST:PORT with a port from 1 to 65535 (0: any free port), got {value!r}")
    host = host.removeprefix("[").removesuffix("]")
    return host or "127.0.0.1", int(port_text)
