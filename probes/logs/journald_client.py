"""Reading the systemd journal through ``journalctl -o json`` (the local journal or a directory).

One ``journalctl`` per range (the baseline through the window, and the window a day earlier),
filtered by unit (``-u``) and identifier (``-t``) on its side, with only the fields needed
(``--output-fields``). Its output is read line by line within the byte, line and time bounds;
the process is ended as soon as a bound is reached. Level: ``PRIORITY`` <= 3 is an error, 4 a
warning; an application that logs everything at the default priority (6) is judged on its
message's own level markers.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time as clock
from collections.abc import Iterator

from diagnostics import ErrorKind, ProbeError
from probes.logs.config import JournaldSource
from probes.logs.file_client import Budget
from probes.logs.levels import level_of_text, level_of_value
from probes.logs.lines import RawEvent
from probes.logs.model import Collected, Level, ReadPlan
from probes.logs.tally import Tally

FIELDS = "MESSAGE,PRIORITY,_SYSTEMD_UNIT,SYSLOG_IDENTIFIER"


def journalctl_command(source: JournaldSource, since: float, until: float) -> list[str]:
    """The ``journalctl`` arguments reading one range of the source."""
    binary = shutil.which("journalctl")
    if binary is None:
        raise ProbeError("journalctl is not installed on this machine", kind=ErrorKind.CONFIG)
    command = [binary, "--no-pager", "-q", "-o", "json", f"--output-fields={FIELDS}"]
    if source.directory:
        command.append(f"--directory={source.directory}")
    for unit in source.units:
        command.append(f"--unit={unit}")
    for identifier in source.identifiers:
        command.append(f"--identifier={identifier}")
    command += [f"--since=@{since:.6f}", f"--until=@{until:.6f}"]
    return command


def read_journal(source: JournaldSource, plan: ReadPlan, deadline: float) -> Collected:
    """Count the journal's events over ``plan`` (and a day earlier)."""
    tally = Tally(plan)
    budget = Budget(bytes_left=plan.max_bytes, lines_left=plan.max_lines, deadline=deadline)
    queries = []
    if plan.day_earlier:
        command = journalctl_command(source, *plan.day_ago)
        queries.append(" ".join(command[1:]))
        for event in _entries(command, budget):
            tally.add_day_ago(event)
    command = journalctl_command(source, plan.start, plan.at)
    queries.append(" ".join(command[1:]))
    for event in _entries(command, budget):
        tally.add(event)
    return tally.collected(queries=tuple(queries), stopped=budget.stopped, details=dict(budget.used))


def _entries(command: list[str], budget: Budget) -> Iterator[RawEvent]:
    if budget.stopped:
        return
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
    )
    assert process.stdout is not None and process.stderr is not None
    try:
        for line in process.stdout:
            if not budget.spend(len(line), 1):
                break
            event = entry_event(line)
            if event is not None:
                yield event
    finally:
        if process.poll() is None:
            process.kill()
        process.stdout.close()
        error = process.stderr.read(2000).decode("utf-8", "replace").strip()
        process.stderr.close()
        status = process.wait(timeout=max(1.0, budget.deadline - clock.monotonic()))
    if status not in (0, -9) and not budget.stopped:
        first = error.splitlines()[0] if error else f"exit status {status}"
        raise ProbeError(f"journalctl failed: {first}", kind=ErrorKind.QUERY)


def entry_event(line: bytes) -> RawEvent | None:
    """An event from one line of ``journalctl -o json``."""
    try:
        entry = json.loads(line)
        time = int(entry["__REALTIME_TIMESTAMP"]) / 1e6
    except (ValueError, KeyError, TypeError):
        return None
    message = entry.get("MESSAGE")
    if isinstance(message, list):  # binary-safe form: an array of bytes
        message = bytes(b for b in message if isinstance(b, int) and 0 <= b < 256).decode("utf-8", "replace")
    text = message if isinstance(message, str) else ""
    level = level_of_value(entry.get("PRIORITY", "6"))
    if level is Level.OTHER:
        level = level_of_text(text)
    unit = entry.get("_SYSTEMD_UNIT") or entry.get("SYSLOG_IDENTIFIER")
    return time, level, f"{unit}: {text}" if isinstance(unit, str) and unit else text, None
