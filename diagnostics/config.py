"""Finding, reading and interpolating the YAML configuration.

The file is found at ``--config``, ``$DIAG_CONFIG``, ``./diag.yaml``, then
``$XDG_CONFIG_HOME/diag/diag.yaml`` (``~/.config/diag/diag.yaml``). ``${VAR}`` and
``${VAR:-default}`` interpolate environment variables; ``$${`` writes a literal ``${``.
An unset variable without a default fails only what reads its section: the probes reading a
backend section or their ``probes.<id>`` settings end in a configuration error naming it, while
other probes and commands (``diag probes``) work; ``run``, ``services`` and ``summary`` are read
by every run, so an unset variable there fails the run.
Line numbers are kept for every key so errors can point at them. Validation against the
registered probes happens in :mod:`diagnostics.plan`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from diagnostics.errors import ConfigError
from diagnostics.redaction import SECRET_KEY, Redactor

KeyPath = tuple[str | int, ...]
CONFIG_FILE_NAME = "diag.yaml"
_VARIABLE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True, slots=True)
class Config:
    """A loaded configuration: interpolated data, where each key was, which values are secret."""

    data: Mapping[str, Any] = field(default_factory=dict)
    source: str | None = None
    lines: Mapping[KeyPath, int] = field(default_factory=dict)
    redactor: Redactor = field(default_factory=Redactor)
    unset: Mapping[KeyPath, ConfigError] = field(default_factory=dict)
    """Where an unset ``${VAR}`` without a default was left uninterpolated, and the error."""

    def unset_variable(self, prefix: KeyPath) -> ConfigError | None:
        """The error of the first unset variable at or under ``prefix``, if any."""
        return next((e for path, e in self.unset.items() if path[: len(prefix)] == prefix), None)

    def require(self, prefix: KeyPath) -> None:
        """Raise the unset-variable error of the section at ``prefix``, if it has one."""
        error = self.unset_variable(prefix)
        if error is not None:
            raise error

    def line_of(self, path: KeyPath) -> int | None:
        """The line of the deepest key of ``path`` that exists in the file."""
        for end in range(len(path), 0, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None

    def error(self, path: KeyPath, message: str) -> ConfigError:
        """A ConfigError pointing at ``path`` in this file."""
        return ConfigError(message, source=self.source, line=self.line_of(path), key=format_key_path(path))

    def section(self, key: str) -> Any:
        return self.data.get(key)

    def probe_settings(self, probe_id: str) -> Mapping[str, Any]:
        probes = self.data.get("probes") or {}
        settings = probes.get(probe_id) if isinstance(probes, Mapping) else None
        return settings or {}


def format_key_path(path: KeyPath) -> str:
    """``probes.db.locks.wait_warning`` / ``postgres[0].dsn`` for a key path."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def find_config_file(explicit: str | os.PathLike[str] | None, env: Mapping[str, str]) -> Path | None:
    """The configuration file to use, or None for the embedded default."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError("no such configuration file", source=str(path))
        return path
    from_env = env.get("DIAG_CONFIG")
    if from_env:
        path = Path(from_env)
        if not path.is_file():
            raise ConfigError("no such configuration file (from $DIAG_CONFIG)", source=str(path))
        return path
    local = Path.cwd() / CONFIG_FILE_NAME
    if local.is_file():
        return local
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    config_home = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
    user = config_home / "diag" / CONFIG_FILE_NAME
    return user if user.is_file() else None


def load_config(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Find and read the configuration (an empty one when there is no file)."""
    environment = os.environ if env is None else env
    found = find_config_file(path, environment)
    if found is None:
        return Config()
    try:
        text = found.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc}", source=str(found)) from None
    return parse_config(text, source=str(found), env=environment)


def parse_config(text: str, *, source: str = "<config>", env: Mapping[str, str]) -> Config:
    """Parse YAML text into a Config, interpolating ``${VAR}`` from ``env``."""
    import yaml

    try:
        # one pass, with libyaml when PyYAML has it: a 500-entry file then loads in ~0.1 s
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(
            f"malformed YAML: {problem}",
            source=source,
            line=mark.line + 1 if mark is not None else None,
        ) from None
    if data is None:
        return Config(source=source)
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping of sections at the top level", source=source, line=1)
    lines: dict[KeyPath, int] = {}
    _record_lines(node, (), lines, source)
    secrets: set[str] = set()
    unset: dict[KeyPath, ConfigError] = {}
    interpolated = _interpolate(data, (), _Scope(env, secrets, lines, source, unset))
    return Config(
        data=interpolated,
        source=source,
        lines=lines,
        redactor=Redactor().with_secrets(secrets),
        unset=unset,
    )


@dataclass(frozen=True, slots=True)
class _Scope:
    """What interpolation reads (env, lines) and collects (secrets, unset variables)."""

    env: Mapping[str, str]
    secrets: set[str]
    lines: Mapping[KeyPath, int]
    source: str
    unset: dict[KeyPath, ConfigError]


def _record_lines(node: Any, path: KeyPath, lines: dict[KeyPath, int], source: str) -> None:
    import yaml

    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = (*path, key)
            if key in seen:
                raise ConfigError(
                    "duplicate key",
                    source=source,
                    line=key_node.start_mark.line + 1,
                    key=format_key_path(child),
                )
            seen.add(key)
            lines[child] = key_node.start_mark.line + 1
            _record_lines(value_node, child, lines, source)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            lines[child] = item.start_mark.line + 1
            _record_lines(item, child, lines, source)


def _interpolate(value: Any, path: KeyPath, scope: _Scope) -> Any:
    if isinstance(value, dict):
        return {str(k): _interpolate(v, (*path, str(k)), scope) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, (*path, i), scope) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value
    key_is_secret = any(SECRET_KEY.search(str(p)) for p in path if isinstance(p, str))

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        name, default = match.group(1), match.group(2)
        if name in scope.env:
            replacement = scope.env[name]
        elif default is not None:
            replacement = default
        else:
            scope.unset.setdefault(
                path,
                ConfigError(
                    f"environment variable {name} is not set",
                    source=scope.source,
                    line=_line(scope.lines, path),
                    key=format_key_path(path),
                ),
            )
            return match.group(0)  # left as written: whatever reads this section fails
        if key_is_secret or SECRET_KEY.search(name):
            scope.secrets.add(replacement)
        return replacement

    result = _VARIABLE.sub(substitute, value)
    if key_is_secret and result and (path not in scope.unset):
        scope.secrets.add(result)
    return result


def _line(lines: Mapping[KeyPath, int], path: KeyPath) -> int | None:
    for end in range(len(path), 0, -1):
        if tuple(path[:end]) in lines:
            return lines[tuple(path[:end])]
    return None


ConfigInput = Config | Mapping[str, Any] | str | os.PathLike[str] | None


def resolve_config(config: ConfigInput, env: Mapping[str, str]) -> Config:
    """A Config from a path, a mapping (as if read from YAML), a Config, or discovery."""
    if isinstance(config, Config):
        return config
    if isinstance(config, Mapping):
        import yaml

        return parse_config(yaml.safe_dump(dict(config)), source="<mapping>", env=env)
    return load_config(Path(config) if config is not None else None, env)
