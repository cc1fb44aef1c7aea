"""Reading log files: glob patterns, rotated files, a time range found by bisection.

Each file is assumed to be in time order (as every logger writes). The first line of a range is
found by bisecting the file's bytes on the lines' timestamps (some 30 small reads), so reading
the last hours of a 10 GB file reads the last hours only. Files last modified before the range
are not opened. Reading stops at ``max_bytes`` or ``max_lines`` per source, or the deadline.
"""

from __future__ import annotations

import glob
import io
import os
import time as clock
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from diagnostics import ErrorKind, ProbeError
from probes.logs.config import FileSource
from probes.logs.lines import DETECT_LINES, LineParser, RawEvent, detect_format, events
from probes.logs.model import Collected, ReadPlan
from probes.logs.tally import Tally
from probes.logs.timestamps import TimestampParser

LATE_S = 300.0
"""Lines this long after the range's end stop the reading (writers may be slightly out of order)."""


@dataclass(slots=True)
class Budget:
    """What reading may still use: bytes, lines and wall-clock time (``time.monotonic()``)."""

    bytes_left: int
    lines_left: int
    deadline: float
    stopped: str | None = None
    used: dict[str, int] = field(default_factory=lambda: {"bytes": 0, "lines": 0, "files": 0})

    def spend(self, size: int, lines: int) -> bool:
        """Account for a block read; False once a bound is reached (the block is still used)."""
        self.bytes_left -= size
        self.lines_left -= lines
        self.used["bytes"] += size
        self.used["lines"] += lines
        if self.bytes_left < 0:
            self.stopped = "max_bytes"
        elif self.lines_left < 0:
            self.stopped = "max_lines"
        elif clock.monotonic() > self.deadline:
            self.stopped = "time"
        return self.stopped is None


def matching_files(source: FileSource, since: float) -> list[Path]:
    """Files matching the patterns, modified at or after ``since``, oldest first."""
    found: dict[str, float] = {}
    for pattern in source.paths:
        for name in glob.glob(os.path.expanduser(pattern)):
            try:
                stat = os.stat(name)
            except OSError:
                continue
            if os.path.isfile(name) and stat.st_mtime >= since and not name.endswith((".gz", ".zst", ".xz")):
                found[name] = stat.st_mtime
    return [Path(name) for name in sorted(found, key=lambda n: found[n])]


def read_files(source: FileSource, plan: ReadPlan, deadline: float) -> Collected:
    """Count the events of every matching file over ``plan`` (and a day earlier)."""
    earliest = plan.day_ago[0] if plan.day_earlier else plan.start
    files = matching_files(source, earliest)
    if not files:
        raise ProbeError(
            f"no file matching {', '.join(source.paths)} was modified since the baseline began",
            kind=ErrorKind.QUERY,
        )
    reference = plan.at
    tally = Tally(plan)
    budget = Budget(bytes_left=plan.max_bytes, lines_left=plan.max_lines, deadline=deadline)
    for path in files:
        timestamps = TimestampParser(offset_s=source.timezone_offset.total_seconds(), reference=reference)
        try:
            with path.open("rb") as raw:
                budget.used["files"] += 1
                parser = LineParser(_format_of(raw, source.format), timestamps)
                if plan.day_earlier:
                    low, high = plan.day_ago
                    for event in _range(raw, parser, low, high, budget):
                        tally.add_day_ago(event)
                for event in _range(raw, parser, plan.start, plan.at, budget):
                    if not tally.add(event):
                        break
        except OSError as exc:
            raise ProbeError(f"cannot read {path}: {exc.strerror}", kind=ErrorKind.PERMISSION) from None
        if budget.stopped:
            break
    return tally.collected(
        queries=tuple(f"file {p}" for p in files), stopped=budget.stopped, details=dict(budget.used)
    )


def _format_of(raw: io.BufferedReader, configured: str) -> str:
    if configured != "auto":
        return configured
    raw.seek(0)
    head = [raw.readline().decode("utf-8", "replace").rstrip("\r\n") for _ in range(DETECT_LINES)]
    return detect_format(head)


def _range(
    raw: io.BufferedReader, parser: LineParser, low: float, high: float, budget: Budget
) -> Iterator[RawEvent]:
    """Events with ``low <= time < high`` (give or take :data:`LATE_S`), from a bisected offset."""
    if budget.stopped:
        return
    raw.seek(_first_offset(raw, parser, low))
    for event in events(_lines(raw, budget), parser):
        if event[0] >= high + LATE_S:
            return
        if low <= event[0] < high:
            yield event


BLOCK = 1 << 20


def _lines(raw: io.BufferedReader, budget: Budget) -> Iterator[str]:
    """Lines without their ends, read and decoded a block (about 1 MiB, whole lines) at a time."""
    while True:
        if budget.bytes_left <= 0:
            if raw.read(1):
                budget.stopped = "max_bytes"
            return
        block = raw.read(min(BLOCK, budget.bytes_left))  # the bound holds to within one line
        if not block:
            return
        if not block.endswith(b"\n"):
            block += raw.readline()
        more = budget.spend(len(block), block.count(b"\n"))
        text = block.decode("utf-8", "replace")
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        yield from text[:-1].split("\n") if text.endswith("\n") else text.split("\n")
        if not more:
            return


def _time_after(raw: io.BufferedReader, parser: LineParser, offset: int) -> tuple[float | None, int]:
    """The time of the first event starting after ``offset`` and that event's offset."""
    raw.seek(offset)
    if offset:
        raw.readline()  # the rest of a line cut in the middle
    for _ in range(200):
        start = raw.tell()
        line = raw.readline()
        if not line:
            return None, start
        event = parser.parse(line.decode("utf-8", "replace").rstrip("\r\n"))
        if event is not None:
            return event[0], start
    return None, raw.tell()


def _first_offset(raw: io.BufferedReader, parser: LineParser, low: float) -> int:
    """The offset of a line at or before the first event at ``low`` (bisection on timestamps)."""
    size = raw.seek(0, io.SEEK_END)
    lo, hi = 0, size
    while hi - lo > 64 * 1024:
        middle = (lo + hi) // 2
        found, _ = _time_after(raw, parser, middle)
        if found is None or found >= low - LATE_S:
            hi = middle
        else:
            lo = middle
    return _time_after(raw, parser, lo)[1] if lo else 0
