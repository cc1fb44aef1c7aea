"""When a CronJob was due: its schedule evaluated with cronsim, in the CronJob's time zone.

Kubernetes schedules are five-field cron expressions (Vixie cron semantics, as cronsim's), the
macros ``@hourly``...``@yearly``, and an optional ``CRON_TZ=``/``TZ=`` prefix (deprecated in
favour of ``spec.timeZone``). Without a time zone the controller manager's (UTC in practice)
is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


class ScheduleError(ValueError):
    """A schedule or time zone that cannot be evaluated."""


def _parse(schedule: str, time_zone: str | None) -> tuple[str, tzinfo]:
    text = schedule.strip()
    zone = time_zone
    if text.startswith(("CRON_TZ=", "TZ=")):
        prefix, _, text = text.partition(" ")
        zone = prefix.split("=", 1)[1]
    text = MACROS.get(text.strip(), text.strip())
    try:
        return text, ZoneInfo(zone) if zone else UTC
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"unknown time zone {zone!r}") from None


def due_times(
    schedule: str, time_zone: str | None, start: datetime, *, reverse: bool = False
) -> Iterator[datetime]:
    """The times the schedule fires strictly after ``start`` (before it with ``reverse``), in UTC."""
    from cronsim import CronSim, CronSimError

    expression, zone = _parse(schedule, time_zone)
    # cronsim works at minute precision from a local time; nudge so ``start`` itself is excluded
    local = start.astimezone(zone)
    try:
        times = CronSim(expression, local, reverse=reverse)
    except CronSimError as exc:
        raise ScheduleError(f"cannot parse schedule {schedule!r}: {exc}") from None
    for moment in times:
        if (moment < local) if reverse else (moment > local):
            yield moment.astimezone(UTC)


def last_due(schedule: str, time_zone: str | None, before: datetime) -> datetime | None:
    """The last time the schedule fired at or before ``before``."""
    return next(due_times(schedule, time_zone, before + timedelta(seconds=1), reverse=True), None)


def next_due(schedule: str, time_zone: str | None, after: datetime) -> datetime | None:
    """The first time the schedule fires strictly after ``after``."""
    return next(due_times(schedule, time_zone, after), None)
