"""Real journal files for the journald tests, written by Debian's ``systemd-journal-remote``.

Entries are written in the journal export format (with their own ``__REALTIME_TIMESTAMP``, so
hours of history can be staged at once) and turned into a journal file by
``systemd-journal-remote --output=DIR/remote.journal``; ``journalctl --directory=DIR`` reads it.
"""

from __future__ import annotations

import struct
import subprocess
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

JOURNAL_REMOTE = Path("/lib/systemd/systemd-journal-remote")
BOOT_ID = "6b5e5a1c0e2f4c7d9a3b8e1f2d4c6a70"
PRIORITIES = {"ERROR": 3, "CRITICAL": 2, "WARNING": 4, "INFO": 6, "DEBUG": 7}


def _field(name: str, value: str) -> bytes:
    data = value.encode()
    if b"\n" in data:  # the export format's binary-safe form
        return name.encode() + b"\n" + struct.pack("<Q", len(data)) + data + b"\n"
    return f"{name}=".encode() + data + b"\n"


def write_journal(
    directory: Path, entries: Iterable[tuple[datetime, str, str]], *, unit: str, identifier: str
) -> Path:
    """A journal file in ``directory`` holding ``(time, level word, message)`` entries of ``unit``."""
    directory.mkdir(parents=True, exist_ok=True)
    export = bytearray()
    for index, (time, level, message) in enumerate(entries):
        micros = int(time.timestamp() * 1_000_000)
        export += _field("__REALTIME_TIMESTAMP", str(micros))
        export += _field("__MONOTONIC_TIMESTAMP", str(1_000_000 + index))
        export += _field("_BOOT_ID", BOOT_ID)
        export += _field("_HOSTNAME", "shop-1")
        export += _field("_SYSTEMD_UNIT", unit)
        export += _field("SYSLOG_IDENTIFIER", identifier)
        export += _field("PRIORITY", str(PRIORITIES.get(level, 6)))
        export += _field("MESSAGE", message)
        export += b"\n"
    source = directory / "entries.export"
    source.write_bytes(bytes(export))
    target = directory / "remote.journal"
    subprocess.run(
        [str(JOURNAL_REMOTE), f"--output={target}", str(source)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    source.unlink()
    return target
