"""Checks of configuration values that several backend sections share, for their validators.

Each raises ``ValueError`` with a message that never repeats a secret (the caller's validation
error then names the file, line and key). A value that can never work is refused when the
configuration loads, not when a probe runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr

_FORBIDDEN_IN_HEADERS = ("\r", "\n", "\0")


def check_headers(headers: Mapping[str, str]) -> Mapping[str, str]:
    """HTTP headers that can be sent as they are: no CR, LF or NUL anywhere (a value could
    otherwise smuggle a header of its own), names without ``:`` or spaces."""
    for name, value in headers.items():
        if not name or any(c in name for c in (*_FORBIDDEN_IN_HEADERS, ":", " ")):
            raise ValueError(f"{name!r} is not an HTTP header name")
        if any(c in value for c in _FORBIDDEN_IN_HEADERS):
            raise ValueError(f"the value of header {name!r} contains a line break or NUL")
    return headers


def check_secret_headers(headers: Mapping[str, SecretStr]) -> Mapping[str, SecretStr]:
    """:func:`check_headers` for header values typed as secrets (the message never shows one)."""
    check_headers({name: value.get_secret_value() for name, value in headers.items()})
    return headers


def check_port(port: object, where: str) -> None:
    """A TCP port from 1 to 65535; ``where`` names the value (without credentials)."""
    text = str(port).strip()
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"the port of {where} is not a number from 1 to 65535")


def existing_file(path: str, what: str) -> str:
    """``path`` with ``~`` expanded, if it names a regular file; ``what`` says what it is for."""
    expanded = Path(path).expanduser()
    if not expanded.is_file():
        raise ValueError(f"no such {what} file: {path}")
    return str(expanded)


def unique_names(entries: Iterable[Any], what: str = "entries") -> None:
    """Entries (with a ``name``) of one section must not share a name: their findings would
    be indistinguishable."""
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        name = getattr(entry, "name", None)
        if name is None:
            continue
        if name in seen:
            raise ValueError(f"two {what} are named {name!r} (entries {seen[name]} and {index})")
        seen[name] = index
