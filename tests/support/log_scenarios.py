"""Realistic application and access logs with staged incidents, for the log probes' tests.

A shop service writes info lines at a steady, noisy rate, a few known errors and warnings at a
steady rate (a payment gateway timing out now and then, a cache miss), and multi-line Python
tracebacks. Incidents are added on top, each from its own onset:

- ``new_pattern``: the orders database refuses connections (an error never seen before);
- ``rise``: the known gateway timeout rises from ~0.3/min to ~12/min;
- access logs: ``server_errors`` from ~1 % of requests answered 5xx to ~30 %.

Every random draw comes from ``seed``: tests judge several seeds (variants not tuned on).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True, slots=True)
class Line:
    """One generated event: time, level word, message, extra structured fields, continuation."""

    time: datetime
    level: str
    message: str
    logger: str = "shop.app"
    trace: tuple[str, ...] = ()
    fields: dict[str, str] = field(default_factory=dict)


NEW_ERROR = "could not connect to database orders-db at 10.0.4.{n}:5432: connection refused (attempt {k})"
GATEWAY_TIMEOUT = "payment gateway timeout after {ms} ms for order {order}"
CACHE_MISS = "cache miss for key user:{user}, falling back to the database"
INFO_MESSAGES = (
    "GET /api/cart/{n} answered 200 in {ms} ms",
    "order {order} created for user {user}",
    "payment {order} captured amount={amount}",
    "session {hex} refreshed for user {user}",
    "inventory sync finished: {n} items in {ms} ms",
)


def _fill(rng: random.Random, template: str) -> str:
    return template.format(
        n=rng.randint(1, 250),
        k=rng.randint(1, 5),
        ms=rng.randint(3, 4000),
        order=f"ord-{rng.randint(10_000, 99_999)}",
        user=rng.randint(1000, 9999),
        amount=f"{rng.uniform(1, 500):.2f}",
        hex=f"{rng.getrandbits(48):012x}",
    )


def _poisson_times(
    rng: random.Random, start: datetime, end: datetime, per_minute: float
) -> Iterator[datetime]:
    if per_minute <= 0:
        return
    t = start
    while True:
        t += timedelta(seconds=rng.expovariate(per_minute / 60.0))
        if t >= end:
            return
        yield t


def app_lines(
    *,
    at: datetime,
    span: timedelta,
    seed: int,
    new_pattern_at: datetime | None = None,
    rise_at: datetime | None = None,
    info_per_minute: float = 40.0,
) -> list[Line]:
    """The shop service's lines from ``at - span`` to ``at``, oldest first."""
    rng = random.Random(seed)
    start = at - span
    lines: list[Line] = []
    for t in _poisson_times(rng, start, at, info_per_minute):
        lines.append(Line(t, "INFO", _fill(rng, rng.choice(INFO_MESSAGES))))
    for t in _poisson_times(rng, start, at, 0.3):
        lines.append(Line(t, "ERROR", _fill(rng, GATEWAY_TIMEOUT), "shop.payments"))
    for t in _poisson_times(rng, start, at, 1.0):
        lines.append(Line(t, "WARNING", _fill(rng, CACHE_MISS), "shop.cache"))
    for t in _poisson_times(rng, start, at, 0.2):
        lines.append(
            Line(
                t,
                "ERROR",
                f"unhandled error rendering page {rng.randint(1, 40)}",
                "shop.web",
                trace=(
                    "Traceback (most recent call last):",
                    '  File "/srv/shop/web.py", line 88, in render',
                    "    return template.render(context)",
                    "KeyError: 'price'",
                ),
            )
        )
    if rise_at is not None:
        for t in _poisson_times(rng, rise_at, at, 12.0):
            lines.append(Line(t, "ERROR", _fill(rng, GATEWAY_TIMEOUT), "shop.payments"))
    if new_pattern_at is not None:
        for t in _poisson_times(rng, new_pattern_at, at, 6.0):
            lines.append(Line(t, "ERROR", _fill(rng, NEW_ERROR), "shop.db"))
    return sorted(lines, key=lambda line: line.time)


def python_text(lines: list[Line]) -> str:
    """Python logging's default-ish format: ``2026-12-07 01:02:03,456 ERROR [shop.db] ...``."""
    out = []
    for line in lines:
        stamp = line.time.strftime("%Y-%m-%d %H:%M:%S,") + f"{line.time.microsecond // 1000:03d}"
        out.append(f"{stamp} {line.level} [{line.logger}] {line.message}")
        out.extend(line.trace)
    return "\n".join(out) + "\n"


def json_text(lines: list[Line]) -> str:
    """One JSON object per line (``ts``, ``level``, ``logger``, ``msg``; traces in ``stack``)."""
    out = []
    for line in lines:
        record = {
            "ts": line.time.isoformat().replace("+00:00", "Z"),
            "level": line.level.lower(),
            "logger": line.logger,
            "msg": line.message,
        }
        if line.trace:
            record["stack"] = "\n".join(line.trace)
        out.append(json.dumps(record))
    return "\n".join(out) + "\n"


def access_text(
    *, at: datetime, span: timedelta, seed: int, spike_at: datetime | None, per_minute: float = 120.0
) -> str:
    """nginx combined log lines: ~1 % 5xx, ~30 % from ``spike_at`` on."""
    rng = random.Random(seed)
    out = []
    paths = ("/api/cart", "/api/orders", "/api/products/42", "/static/app.js", "/api/checkout")
    for t in _poisson_times(rng, at - span, at, per_minute):
        share = 0.30 if spike_at is not None and t >= spike_at else 0.01
        status = (
            rng.choice((500, 502, 503)) if rng.random() < share else rng.choice((200, 200, 200, 304, 404))
        )
        stamp = t.strftime("%d/%b/%Y:%H:%M:%S +0000")
        ip = f"10.1.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        out.append(
            f'{ip} - - [{stamp}] "GET {rng.choice(paths)}?page={rng.randint(1, 9)} HTTP/1.1" {status} '
            f'{rng.randint(200, 9000)} "-" "Mozilla/5.0 (X11; Linux x86_64)"'
        )
    return "\n".join(out) + "\n"


def minute_now() -> datetime:
    """The current minute (UTC): backends that refuse old or future lines need recent ones."""
    now = datetime.now(UTC)
    return now.replace(second=0, microsecond=0)
