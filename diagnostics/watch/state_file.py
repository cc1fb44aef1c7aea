"""The watcher's memory across restarts: the findings it last saw, as JSON written atomically."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from diagnostics.errors import ConfigError
from diagnostics.model import Severity
from diagnostics.watch.changes import TrackedFinding

SCHEMA = "diag.watch-state/v1"
MAX_STATE_BYTES = 16 * 1024 * 1024


def load_state(path: Path) -> dict[str, TrackedFinding]:
    """The remembered findings (empty when the file does not exist yet)."""
    try:
        if path.stat().st_size > MAX_STATE_BYTES:
            raise ConfigError(f"{path}: larger than {MAX_STATE_BYTES // 2**20} MiB; not a watch state file")
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the watch state: {exc.strerror}") from None
    except ValueError:
        raise ConfigError(
            f"{path}: not a watch state file (not JSON); move it away to start afresh"
        ) from None
    if (
        not isinstance(data, dict)
        or data.get("schema") != SCHEMA
        or not isinstance(data.get("findings"), list)
    ):
        raise ConfigError(f"{path}: not a watch state file (expected schema {SCHEMA!r})")
    try:
        return {item["fingerprint"]: _tracked(item) for item in data["findings"]}
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: a finding in the watch state is malformed ({exc})") from None


def save_state(path: Path, findings: dict[str, TrackedFinding], *, saved_at: datetime) -> None:
    """Write the state atomically (a crash never leaves half a file)."""
    document = {
        "schema": SCHEMA,
        "saved_at": saved_at.isoformat(),
        "findings": [_plain(f) for f in findings.values()],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(document, out, indent=1)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _plain(finding: TrackedFinding) -> dict[str, Any]:
    return {
        "fingerprint": finding.fingerprint,
        "probe": finding.probe,
        "kind": finding.kind,
        "severity": finding.severity.label,
        "title": finding.title,
        "summary": finding.summary,
        "entity": finding.entity,
        "first_seen": finding.first_seen.isoformat(),
        "onset": finding.onset.isoformat() if finding.onset else None,
        "next_step": finding.next_step,
    }


def _tracked(item: dict[str, Any]) -> TrackedFinding:
    return TrackedFinding(
        fingerprint=str(item["fingerprint"]),
        probe=str(item["probe"]),
        kind=str(item["kind"]),
        severity=Severity.parse(str(item["severity"])),
        title=str(item["title"]),
        summary=str(item["summary"]),
        entity=str(item["entity"]),
        first_seen=datetime.fromisoformat(item["first_seen"]),
        onset=datetime.fromisoformat(item["onset"]) if item.get("onset") else None,
        next_step=item.get("next_step"),
    )
