"""flagd: flag changes between the definition files as the last run saw them and now.

flagd keeps no history, so each run compares every file (JSON or YAML, the ``flags`` object of
the flagd schema) with the copy kept in a small state file under ``state_dir`` (default
``$XDG_STATE_HOME/diag/toggles``), dates what differs by the file's modification time, and keeps
the changes it found for ``STATE_RETENTION`` so later runs over the same window still see them.
The first run of a file only records it. Nothing but the state file is ever written.

Per flag: ``state`` ENABLED/DISABLED (switched on/off); ``defaultVariant`` of a boolean flag
(on/off) or of another flag (variants); ``variants``; ``targeting`` (``fractional`` splits are
a rollout, anything else targeting); a flag added (created) or removed (archived).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from diagnostics import ErrorKind, ProbeError
from probes.toggles.config import FlagProvider
from probes.toggles.flags import ChangeKind, FlagChange, FlagInfo, ProviderChanges

STATE_RETENTION = timedelta(days=7)
MAX_FILE_BYTES = 10 * 1024 * 1024


def default_state_dir(environ: Mapping[str, str]) -> Path:
    """``$XDG_STATE_HOME/diag/toggles``, or ``~/.local/state/diag/toggles``."""
    home = Path(environ["HOME"]) if environ.get("HOME") else Path.home()
    return Path(environ.get("XDG_STATE_HOME") or home / ".local" / "state") / "diag" / "toggles"


def read_flagd(entry: FlagProvider, *, state_dir: Path, now: datetime) -> ProviderChanges:
    """Compare each file with its kept state, record the new state, return the changes kept."""
    source = entry.flagd
    assert source is not None
    changes: list[FlagChange] = []
    flags: dict[str, FlagInfo] = {}
    for path in map(Path, source.files):
        current, modified = load_flags(path)
        state_path = state_dir / f"flagd-{hashlib.sha256(str(path).encode()).hexdigest()[:16]}.json"
        state = _load_state(state_path)
        kept = [c for c in state.get("changes", ()) if isinstance(c, Mapping)]
        if "flags" in state and state.get("flags") != current:
            kept += [
                _to_state(c)
                for c in diff_flags(state["flags"], current, at=modified, environment=source.environment)
            ]
        horizon = now - STATE_RETENTION
        kept = [c for c in kept if _parse_time(c.get("at")) >= horizon]
        _save_state(state_path, {"file": str(path), "flags": current, "changes": kept})
        changes += [_from_state(c, source.environment) for c in kept]
        production = source.environment == source.production_environment
        flags.update({key: _info(key, value, production, str(path)) for key, value in current.items()})
    return ProviderChanges(
        source=entry.name,
        provider="flagd",
        production=source.production_environment,
        changes=tuple(changes),
        flags=flags,
        queries=tuple(f"read {f}" for f in source.files),
    )


def load_flags(path: Path) -> tuple[dict[str, Any], datetime]:
    """The ``flags`` object of a flagd definition file and the file's modification time."""
    try:
        stat = path.stat()
        if stat.st_size > MAX_FILE_BYTES:
            raise ProbeError(f"{path}: larger than {MAX_FILE_BYTES} bytes", kind=ErrorKind.QUERY)
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProbeError(f"cannot read flag file {path}: {exc}", kind=ErrorKind.QUERY) from None
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            document = yaml.safe_load(text)
        else:
            document = json.loads(text)
    except ValueError as exc:  # yaml.YAMLError is not a ValueError: caught below
        raise ProbeError(f"{path}: not valid JSON: {exc}", kind=ErrorKind.PROTOCOL) from None
    except Exception as exc:
        raise ProbeError(
            f"{path}: not valid YAML: {str(exc).splitlines()[0]}", kind=ErrorKind.PROTOCOL
        ) from None
    flags = document.get("flags") if isinstance(document, Mapping) else None
    if not isinstance(flags, Mapping):
        raise ProbeError(
            f"{path}: expected a flagd definition with a 'flags' object", kind=ErrorKind.PROTOCOL
        )
    return {str(k): v for k, v in flags.items()}, datetime.fromtimestamp(stat.st_mtime, UTC)


def diff_flags(
    before: Mapping[str, Any], after: Mapping[str, Any], *, at: datetime, environment: str
) -> list[FlagChange]:
    """What changed between two ``flags`` objects, every change dated ``at``."""
    changes: list[FlagChange] = []

    def change(flag: str, kind: ChangeKind, was: object = None, now: object = None, detail: str = "") -> None:
        changes.append(
            FlagChange(
                flag=flag,
                kind=kind,
                at=at,
                environment=environment,
                author=None,
                before=None if was is None else _short(was),
                after=None if now is None else _short(now),
                detail=detail,
            )
        )

    for flag in sorted(set(before) | set(after)):
        old, new = before.get(flag), after.get(flag)
        if old == new:
            continue
        if not isinstance(old, Mapping):
            change(flag, ChangeKind.CREATED, now=_state_word(new), detail="flag added to the file")
            continue
        if not isinstance(new, Mapping):
            change(flag, ChangeKind.ARCHIVED, was=_state_word(old), detail="flag removed from the file")
            continue
        if old.get("state") != new.get("state"):
            on = new.get("state") == "ENABLED"
            change(
                flag,
                ChangeKind.SWITCHED_ON if on else ChangeKind.SWITCHED_OFF,
                old.get("state"),
                new.get("state"),
                "state",
            )
        if old.get("defaultVariant") != new.get("defaultVariant"):
            values = new.get("variants") or {}
            value = values.get(new.get("defaultVariant")) if isinstance(values, Mapping) else None
            kind = (
                (ChangeKind.SWITCHED_ON if value else ChangeKind.SWITCHED_OFF)
                if isinstance(value, bool)
                else ChangeKind.VARIANTS
            )
            change(flag, kind, old.get("defaultVariant"), new.get("defaultVariant"), "defaultVariant")
        if old.get("variants") != new.get("variants"):
            change(flag, ChangeKind.VARIANTS, old.get("variants"), new.get("variants"), "variants")
        if old.get("targeting") != new.get("targeting"):
            fractional = "fractional" in json.dumps([old.get("targeting"), new.get("targeting")])
            change(
                flag,
                ChangeKind.ROLLOUT if fractional else ChangeKind.TARGETING,
                _fractions(old.get("targeting")) or old.get("targeting"),
                _fractions(new.get("targeting")) or new.get("targeting"),
                "targeting",
            )
    return changes


def _fractions(targeting: object) -> str | None:
    """``on 25% / off 75%`` from a ``fractional`` operation, wherever it is nested."""
    if isinstance(targeting, Mapping):
        if "fractional" in targeting and isinstance(targeting["fractional"], list):
            buckets = [b for b in targeting["fractional"] if isinstance(b, list) and len(b) == 2]
            total = sum(float(b[1]) for b in buckets) or 1.0
            return " / ".join(f"{b[0]} {100 * float(b[1]) / total:g}%" for b in buckets)
        for value in targeting.values():
            found = _fractions(value)
            if found:
                return found
    if isinstance(targeting, list):
        for value in targeting:
            found = _fractions(value)
            if found:
                return found
    return None


def _state_word(flag: object) -> str:
    return str(flag.get("state", "?")) if isinstance(flag, Mapping) else "?"


def _short(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))
    return text if len(text) <= 120 else text[:117] + "..."


def _info(key: str, flag: object, production: bool, location: str) -> FlagInfo:
    metadata = flag.get("metadata") if isinstance(flag, Mapping) else None
    metadata = metadata if isinstance(metadata, Mapping) else {}
    tags = metadata.get("tags") or ()
    tags = [t.strip() for t in tags.split(",")] if isinstance(tags, str) else [str(t) for t in tags]
    tags += [f"{k}:{metadata[k]}" for k in ("service", "owner") if metadata.get(k)]
    state = flag.get("state") if isinstance(flag, Mapping) else None
    variants = flag.get("variants") if isinstance(flag, Mapping) else None
    off = [str(k) for k, v in variants.items() if v is False] if isinstance(variants, Mapping) else []
    return FlagInfo(
        name=key,
        description=str(metadata.get("description") or ""),
        tags=tuple(t for t in tags if t),
        on_in_production=(state == "ENABLED") if production and state else None,
        location=location,
        off_variant=off[0] if off else None,
    )


def _to_state(change: FlagChange) -> dict[str, Any]:
    return {
        "flag": change.flag,
        "kind": change.kind.value,
        "at": change.at.isoformat(),
        "before": change.before,
        "after": change.after,
        "detail": change.detail,
    }


def _from_state(saved: Mapping[str, Any], environment: str) -> FlagChange:
    return FlagChange(
        flag=str(saved["flag"]),
        kind=ChangeKind(saved["kind"]),
        at=_parse_time(saved["at"]),
        environment=environment,
        author=None,
        before=saved.get("before"),
        after=saved.get("after"),
        detail=str(saved.get("detail") or ""),
    )


def _parse_time(value: object) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _load_state(path: Path) -> dict[str, Any]:
    """The kept state, or an empty one (first run, or a state file that is not ours)."""
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(loaded, dict) or not isinstance(loaded.get("flags"), dict):
        return {}
    return loaded


def _save_state(path: Path, state: Mapping[str, Any]) -> None:
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary.write_text(json.dumps(state, sort_keys=True), encoding="utf-8")
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise ProbeError(f"cannot write the flagd state file {path}: {exc}", kind=ErrorKind.CONFIG) from None
