"""One line naming what a probe will check, from its validated backend section."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

_NAME_FIELDS = ("name", "url", "host", "context", "dsn")


def _one(target: Any) -> str:
    if isinstance(target, BaseModel):
        for field in _NAME_FIELDS:
            value = getattr(target, field, None)
            if value:
                return str(value)
        return type(target).__name__
    return str(target)


def describe_targets(backend: Any) -> str:
    """``orders, billing`` for a list of named targets, the URL of a single one, or ``this host``."""
    if backend is None:
        return "this host"
    if isinstance(backend, list | tuple):
        names = [_one(t) for t in backend]
        return f"{len(names)} target{'s' if len(names) != 1 else ''}: {', '.join(names)}"
    return _one(backend)
