"""``diag watch``: run, compare with what was seen before, print and notify what changed, repeat."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from diagnostics.config import Config
from diagnostics.model import Report
from diagnostics.notify.config import Notifier, Notifiers
from diagnostics.notify.deliver import Delivery, deliver
from diagnostics.plan import validate_section
from diagnostics.redaction import Redactor
from diagnostics.watch.changes import Change, TrackedFinding, changes_between
from diagnostics.watch.state_file import load_state, save_state

logger = logging.getLogger("diag.watch")

ALERT_HOLD_INTERVALS = 3
"""Alertmanager alerts stay firing this many watch intervals without being repeated."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Cycle:
    """One watch cycle: its report, what changed, and how the notifications went."""

    report: Report
    changes: tuple[Change, ...]
    deliveries: tuple[Delivery, ...]


def notifiers_of(config: Config) -> list[Notifier]:
    """The validated ``notify`` section (empty without one)."""
    raw = config.section("notify")
    if raw is None:
        return []
    notifiers: list[Notifier] = validate_section(config, ("notify",), Notifiers, raw)
    return notifiers


def notifier_secrets(notifiers: list[Notifier]) -> list[str]:
    """Every secret of the notifiers (webhook URLs, header values), for the redactor."""
    secrets: list[str] = []
    for notifier in notifiers:
        target = notifier.alertmanager or notifier.webhook
        if target is not None:
            secrets += [value.get_secret_value() for value in target.headers.values()]
        if notifier.slack is not None:
            secrets.append(notifier.slack.webhook_url.get_secret_value())
    return secrets


class Watcher:
    """Runs cycles; remembers findings in memory and, when given, in a state file."""

    def __init__(
        self,
        *,
        diagnose: Callable[[], Report],
        notifiers: list[Notifier],
        every: timedelta,
        redactor: Redactor,
        state_file: Path | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._diagnose = diagnose
        self._notifiers = notifiers
        self._hold = every * ALERT_HOLD_INTERVALS
        self._redact = redactor.with_secrets(notifier_secrets(notifiers))
        self._state_file = state_file
        self._clock = clock
        self._seen: Mapping[str, TrackedFinding] = load_state(state_file) if state_file else {}

    def cycle(self) -> Cycle:
        """One run: changes against what was seen, notifications, the state saved."""
        report = self._diagnose()
        now = self._clock()
        changes, current = changes_between(self._seen, report, now=now)
        from diagnostics.report.overview import headline

        deliveries = deliver(
            self._notifiers,
            changes=changes,
            current=current,
            headline=headline(report),
            now=now,
            hold=self._hold,
            redact=self._redact,
        )
        for delivery in deliveries:
            if delivery.error:
                logger.error("notification failed: %s", delivery.error)
        if self._state_file is not None:
            save_state(self._state_file, current, saved_at=now)
        self._seen = current
        return Cycle(report=report, changes=tuple(changes), deliveries=tuple(deliveries))

    def run_forever(self, every: timedelta, on_cycle: Callable[[Cycle], None], stop: threading.Event) -> None:
        """Cycles every ``every`` (start to start) until ``stop`` is set."""
        while not stop.is_set():
            started = self._clock()
            try:
                on_cycle(self.cycle())
            except Exception as exc:  # one failed cycle (a backend, the config) must not end the watch
                logger.error("watch cycle failed: %s", self._redact(str(exc)))
            elapsed = (self._clock() - started).total_seconds()
            stop.wait(max(0.0, every.total_seconds() - elapsed))
