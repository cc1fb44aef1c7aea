"""The ``notify`` section: where ``diag watch`` sends changes (new, worsened, resolved findings).

notify:
  - name: team-alertmanager
    alertmanager: {url: 'http://alertmanager:9093'}
  - name: ops-channel
    slack: {webhook_url: '${SLACK_WEBHOOK_URL}'}
  - name: incident-bot
    webhook: {url: 'https://bot.internal/diag', headers: {Authorization: 'Bearer ${BOT_TOKEN}'}}
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from diagnostics.contract import Duration

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an http:// or https:// URL")
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError:
        raise ValueError("the URL's port must be from 1 to 65535") from None
    return value


def _clean_headers(value: dict[str, SecretStr]) -> dict[str, SecretStr]:
    for name, header in value.items():
        if any(c in name + header.get_secret_value() for c in "\r\n"):
            raise ValueError(f"header {name}: no line breaks allowed")
    return value


HttpURL = Annotated[str, AfterValidator(_http_url)]
Headers = Annotated[dict[str, SecretStr], AfterValidator(_clean_headers)]
DELIVERY_TIMEOUT = timedelta(seconds=10)


class AlertmanagerTarget(BaseModel):
    """An Alertmanager (v2 API): one alert per finding, resolved when the finding is."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    url: HttpURL
    """The Alertmanager's base URL; alerts go to ``/api/v2/alerts``."""
    headers: Headers = Field(default_factory=dict)
    """Extra request headers (authentication in front of it)."""
    timeout: Duration = DELIVERY_TIMEOUT
    """How long one delivery may take."""


class SlackTarget(BaseModel):
    """A Slack incoming webhook: one message per watch cycle with changes."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    webhook_url: SecretStr
    """The incoming webhook's URL (a secret: it is the credential)."""
    timeout: Duration = DELIVERY_TIMEOUT
    """How long one delivery may take."""

    @field_validator("webhook_url")
    @classmethod
    def _valid(cls, value: SecretStr) -> SecretStr:
        _http_url(value.get_secret_value())
        return value


class WebhookTarget(BaseModel):
    """Any HTTP endpoint: the changes as JSON (``diag.changes/v1``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    url: HttpURL
    """Where the JSON is POSTed."""
    headers: Headers = Field(default_factory=dict)
    """Extra request headers (authentication)."""
    timeout: Duration = DELIVERY_TIMEOUT
    """How long one delivery may take."""


class Notifier(BaseModel):
    """One destination of change notifications: a name and exactly one kind."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    name: str = Field(pattern=NAME_PATTERN)
    """Named in logs when a delivery fails."""
    alertmanager: AlertmanagerTarget | None = None
    slack: SlackTarget | None = None
    webhook: WebhookTarget | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Notifier:
        kinds = [k for k in ("alertmanager", "slack", "webhook") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("give exactly one of alertmanager, slack or webhook")
        return self

    @property
    def kind(self) -> Literal["alertmanager", "slack", "webhook"]:
        if self.alertmanager is not None:
            return "alertmanager"
        return "slack" if self.slack is not None else "webhook"


def unique_names(notifiers: list[Notifier]) -> list[Notifier]:
    """The notifiers, refusing two with one name."""
    seen: set[str] = set()
    for notifier in notifiers:
        if notifier.name in seen:
            raise ValueError(f"two notifiers are named {notifier.name!r}")
        seen.add(notifier.name)
    return notifiers


Notifiers = Annotated[list[Notifier], AfterValidator(unique_names)]
"""The ``notify`` section: a list of notifiers with unique names."""
