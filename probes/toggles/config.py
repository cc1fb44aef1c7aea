"""The ``feature_flags`` section: one entry per flag provider, each of exactly one kind.

    feature_flags:
      - name: unleash
        unleash: {url: https://unleash.internal, token: '${UNLEASH_ADMIN_TOKEN}',
                  environment: production, projects: [default]}
      - name: launchdarkly
        launchdarkly: {token: '${LD_API_TOKEN}', project: default, environment: production}
      - name: flagd
        flagd: {files: [/etc/flagd/flags.json]}

``environment`` names the production environment: only changes there (or to every environment,
like archiving a flag) count as production changes. ``services`` maps a service to the flags it
owns, when neither the flag's tags nor its name say so. Tokens are ``SecretStr``: they are sent
in the ``Authorization`` header and never printed.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from diagnostics import BackendSection, Duration

PROVIDERS = ("unleash", "launchdarkly", "flagd")
LAUNCHDARKLY_API = "https://app.launchdarkly.com"


def _http_url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http:// or https:// URL with a host, got {value!r}")
    if parts.username or parts.password:
        raise ValueError("put credentials in token, not in the URL")
    return value.strip().rstrip("/")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class UnleashSource(_Model):
    """An Unleash server, read through its admin API with an admin (or read-only admin) token."""

    url: str
    token: SecretStr
    environment: str = Field("production", min_length=1)
    """The production environment's name."""
    projects: tuple[str, ...] = Field(("default",), min_length=1)
    request_timeout: Duration = timedelta(seconds=5)

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return _http_url(value)


class LaunchDarklySource(_Model):
    """A LaunchDarkly project, read through the REST API (``/api/v2/auditlog``, ``/api/v2/flags``)."""

    token: SecretStr
    project: str = Field(min_length=1)
    environment: str = Field("production", min_length=1)
    url: str = LAUNCHDARKLY_API
    """The API's base URL (another one for a federal or EU instance, or a relay)."""
    ui_url: str | None = None
    """Base of links to flags; defaults to ``url``."""
    request_timeout: Duration = timedelta(seconds=5)

    @field_validator("url", "ui_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value)


class FlagdSource(_Model):
    """flagd flag definition files (JSON or YAML), compared with the state kept by the last run."""

    files: tuple[str, ...] = Field(min_length=1)
    environment: str = Field("production", min_length=1)
    """The environment these files configure; changes in them count as production when it is
    the production one (``production_environment``)."""
    production_environment: str = "production"

    @field_validator("files")
    @classmethod
    def _absolute(cls, files: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(str(Path(f).expanduser()) for f in files)


class FlagProvider(_Model):
    """One entry: a name and exactly one of ``unleash``, ``launchdarkly`` or ``flagd``."""

    name: str = Field(min_length=1)
    unleash: UnleashSource | None = None
    launchdarkly: LaunchDarklySource | None = None
    flagd: FlagdSource | None = None
    services: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    """Service name -> the flags it owns (in addition to tags ``service:<name>`` and names)."""

    @model_validator(mode="after")
    def _one_kind(self) -> FlagProvider:
        given = [kind for kind in PROVIDERS if getattr(self, kind) is not None]
        if len(given) != 1:
            got = f"got {' and '.join(given)}" if given else "got none"
            raise ValueError(
                f"feature_flags entry {self.name!r} needs exactly one of unleash, launchdarkly or flagd ({got})"
            )
        return self

    @property
    def kind(self) -> str:
        return next(kind for kind in PROVIDERS if getattr(self, kind) is not None)

    def services_of(self, flag: str) -> tuple[str, ...]:
        """The services the ``services`` mapping gives this flag."""
        return tuple(service for service, flags in self.services.items() if flag in flags)


SECTION = BackendSection(
    key="feature_flags",
    model=list[FlagProvider],
    setup_hint="feature_flags: [{name: unleash, unleash: {url: https://unleash.internal, token: '${UNLEASH_ADMIN_TOKEN}'}}]",
    description="Feature flag providers: each entry has exactly one of unleash, launchdarkly or flagd.",
)


def describe_providers(entries: object) -> str:
    """``2 providers: unleash (unleash), flags (flagd)`` for ``diag config check``."""
    names = (
        [f"{e.name} ({e.kind})" for e in entries if isinstance(e, FlagProvider)]
        if isinstance(entries, list)
        else []
    )
    if not names:
        return "nothing (no feature_flags entry)"
    return f"{len(names)} provider{'s' if len(names) != 1 else ''}: {', '.join(names)}"
