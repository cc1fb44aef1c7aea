"""Sending notifications: one POST per notifier, failures reported (redacted), never raised.

Slack and webhooks hear only of changes; Alertmanager gets every current finding each cycle
(see :mod:`diagnostics.notify.alertmanager`). A failed delivery is logged and returned; the
watcher goes on (the next cycle's Alertmanager post repeats the current alerts).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from diagnostics.notify.alertmanager import alerts_for
from diagnostics.notify.config import Notifier
from diagnostics.notify.messages import slack_message, webhook_payload
from diagnostics.watch.changes import Change, TrackedFinding

MAX_RESPONSE_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    """How one notifier's delivery went."""

    notifier: str
    sent: bool
    error: str | None = None


def deliver(
    notifiers: Sequence[Notifier],
    *,
    changes: Sequence[Change],
    current: Mapping[str, TrackedFinding],
    headline: str,
    now: datetime,
    hold: timedelta,
    redact: Callable[[str], str],
) -> list[Delivery]:
    """Notify every notifier that has something to say this cycle."""
    import requests

    deliveries: list[Delivery] = []
    with requests.Session() as session:
        session.trust_env = False
        for notifier in notifiers:
            request = _request(
                notifier, changes=changes, current=current, headline=headline, now=now, hold=hold
            )
            if request is None:
                continue
            url, headers, body, timeout = request
            try:
                response = session.post(
                    url, data=json.dumps(body), headers=headers, timeout=timeout, stream=True
                )
                with response:
                    detail = response.raw.read(MAX_RESPONSE_BYTES, decode_content=True) or b""
                    if response.status_code >= 300:
                        text = detail[:200].decode("utf-8", "replace").strip()
                        raise OSError(f"HTTP {response.status_code}: {text}")
            except (OSError, requests.RequestException) as exc:
                reason = redact(f"{notifier.name} ({notifier.kind}): {_reason(exc, timeout)}")
                deliveries.append(Delivery(notifier=notifier.name, sent=False, error=reason))
                continue
            deliveries.append(Delivery(notifier=notifier.name, sent=True))
    return deliveries


def _reason(exc: BaseException, timeout: float) -> str:
    """Why a delivery failed, without the URL (a Slack webhook's path is its credential)."""
    import requests

    if isinstance(exc, requests.Timeout):
        return f"no answer within {timeout:g}s"
    if isinstance(exc, requests.ConnectionError):
        return "cannot connect"
    if isinstance(exc, requests.RequestException):
        return f"request failed ({type(exc).__name__})"
    return str(exc)


def _request(
    notifier: Notifier,
    *,
    changes: Sequence[Change],
    current: Mapping[str, TrackedFinding],
    headline: str,
    now: datetime,
    hold: timedelta,
) -> tuple[str, dict[str, str], Any, float] | None:
    json_type = {"Content-Type": "application/json"}
    if notifier.alertmanager is not None:
        target = notifier.alertmanager
        alerts = alerts_for(current, changes, now=now, hold=hold)
        if not alerts:
            return None
        headers = {**json_type, **{k: v.get_secret_value() for k, v in target.headers.items()}}
        url = target.url.rstrip("/") + "/api/v2/alerts"
        return url, headers, alerts, target.timeout.total_seconds()
    if not changes:
        return None
    if notifier.slack is not None:
        slack = notifier.slack
        body = slack_message(changes, headline=headline)
        return slack.webhook_url.get_secret_value(), json_type, body, slack.timeout.total_seconds()
    assert notifier.webhook is not None
    hook = notifier.webhook
    headers = {**json_type, **{k: v.get_secret_value() for k, v in hook.headers.items()}}
    return (
        hook.url,
        headers,
        webhook_payload(changes, headline=headline, at=now),
        hook.timeout.total_seconds(),
    )
