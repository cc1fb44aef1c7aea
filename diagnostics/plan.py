"""Turning a configuration and the registered probes into what each probe will do.

Validation errors name the file, the line and the key path, and suggest the right key for a
misspelt one. Nothing here talks to a backend.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from diagnostics.config import Config, KeyPath
from diagnostics.contract import BackendSection, Duration, Probe, ProbeOptions
from diagnostics.errors import ConfigError
from diagnostics.model import ChecklistItem
from diagnostics.notify.config import Notifiers
from diagnostics.registry import BrokenProbe, Registry
from diagnostics.serve.config import ServeSettings
from diagnostics.summary.settings import ServiceLinks, SummarySettings


class RunSettings(BaseModel):
    """The ``run`` section: defaults for every diagnosis."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    window: Duration = timedelta(hours=1)
    timeout: Duration = timedelta(seconds=30)
    """The overall deadline of a run; each probe also has its own timeout."""
    concurrency: int = Field(32, ge=1, le=256)
    """How many probes run at once at most (more than the built-in ones, so all start at once)."""

    @field_validator("window", "timeout")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value.total_seconds() <= 0:
            raise ValueError("must be longer than zero")
        return value


CORE_SECTIONS: dict[str, Any] = {
    "run": RunSettings,
    "probes": dict[str, Any],
    "services": dict[str, ServiceLinks],
    "summary": SummarySettings,
    "serve": ServeSettings,
    "notify": Notifiers,
}
"""Top-level sections the core itself reads; backend sections come from the probes."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbePlan:
    """What one probe will do in a run: run with these settings, or be skipped and why."""

    probe_id: str
    checklist_item: ChecklistItem | None
    probe_class: type[Probe] | None
    options: ProbeOptions | None
    backend: Any = None
    backend_origin: Literal["config", "environment"] | None = None
    skip_reason: str | None = None
    setup_hint: str | None = None
    broken: BrokenProbe | None = None
    config_error: str | None = None
    """Why the settings it reads are unusable (an unset ``${VAR}``): it ends in an error."""

    @property
    def runnable(self) -> bool:
        return (
            self.probe_class is not None
            and self.skip_reason is None
            and self.broken is None
            and self.config_error is None
        )

    @property
    def timeout(self) -> timedelta:
        return self.options.timeout if self.options else timedelta(seconds=10)


def suggest(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a candidate is close to ``word``."""
    import difflib  # only when a key or id is wrong

    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def run_settings(config: Config) -> RunSettings:
    """The validated ``run`` section."""
    config.require(("run",))
    settings: RunSettings = _validate(config, ("run",), RunSettings, config.section("run") or {})
    return settings


def summary_settings(config: Config) -> tuple[dict[str, ServiceLinks], SummarySettings]:
    """The validated ``services`` and ``summary`` sections."""
    config.require(("services",))
    config.require(("summary",))
    services: dict[str, ServiceLinks] = _validate(
        config, ("services",), dict[str, ServiceLinks], config.section("services") or {}
    )
    settings: SummarySettings = _validate(
        config, ("summary",), SummarySettings, config.section("summary") or {}
    )
    return services, settings


def validate_section(config: Config, path: KeyPath, model: Any, raw: Any) -> Any:
    """``raw`` validated against ``model``; a ConfigError naming the file, line and key."""
    return _validate(config, path, model, raw)


def check_top_level(config: Config, registry: Registry) -> None:
    """Reject unknown top-level sections and unknown probe ids under ``probes``."""
    known = {*CORE_SECTIONS, *registry.backend_keys()}
    for key in config.data:
        if key not in known:
            raise config.error(
                (key,),
                f"unknown section{suggest(key, known)}; expected one of {', '.join(sorted(known))}",
            )
    probes = config.section("probes")
    if probes is None:
        return
    if not isinstance(probes, Mapping):
        raise config.error(("probes",), "expected a mapping of probe id to settings")
    for probe_id, settings in probes.items():
        if probe_id not in registry.ids:
            raise config.error(("probes", probe_id), f"unknown probe id{suggest(probe_id, registry.ids)}")
        if settings is not None and not isinstance(settings, Mapping):
            raise config.error(("probes", probe_id), "expected a mapping of settings")


def check_selection(selected: Iterable[str], registry: Registry) -> list[str]:
    """The ``--probe`` ids, deduplicated; an unknown one is a ConfigError with a suggestion."""
    ids = list(dict.fromkeys(selected))
    for probe_id in ids:
        if probe_id not in registry.ids:
            raise ConfigError(
                f"unknown probe id {probe_id!r}{suggest(probe_id, registry.ids)}", key="--probe"
            )
    return ids


def plan_probes(
    config: Config,
    registry: Registry,
    *,
    selected: Iterable[str] = (),
    env: Mapping[str, str],
) -> list[ProbePlan]:
    """Validate the configuration and decide, for each probe, whether and how it runs.

    With ``selected`` ids only those are planned, and ``enabled: false`` is overridden.
    """
    check_top_level(config, registry)
    chosen = check_selection(selected, registry)
    ids = chosen or registry.ids
    backends: dict[str, tuple[Any, Literal["config", "environment"] | None]] = {}
    plans = []
    for probe_id in ids:
        broken = registry.broken.get(probe_id)
        if broken is not None:
            plans.append(
                ProbePlan(
                    probe_id=probe_id,
                    checklist_item=None,
                    probe_class=None,
                    options=None,
                    broken=broken,
                )
            )
            continue
        probe_class = registry.probes[probe_id]
        plans.append(_plan_one(config, probe_class, backends, env, explicitly_selected=bool(chosen)))
    return plans


def _plan_one(
    config: Config,
    probe_class: type[Probe],
    backends: dict[str, tuple[Any, Literal["config", "environment"] | None]],
    env: Mapping[str, str],
    *,
    explicitly_selected: bool,
) -> ProbePlan:
    probe_id = probe_class.id
    section = probe_class.backend_section
    unset = config.unset_variable(("probes", probe_id))
    if unset is None and section is not None:
        unset = config.unset_variable((section.key,))
    if unset is not None:
        return ProbePlan(
            probe_id=probe_id,
            checklist_item=probe_class.checklist_item,
            probe_class=probe_class,
            options=None,
            config_error=str(unset),
        )
    options = _validate(
        config, ("probes", probe_id), probe_class.options_model, config.probe_settings(probe_id)
    )
    base = {
        "probe_id": probe_id,
        "checklist_item": probe_class.checklist_item,
        "probe_class": probe_class,
        "options": options,
    }
    if not options.enabled and not explicitly_selected:
        return ProbePlan(**base, skip_reason=f"disabled in the configuration (probes.{probe_id}.enabled)")
    if section is None:
        return ProbePlan(**base)
    if section.key not in backends:
        backends[section.key] = _resolve_backend(config, section, env)
    value, origin = backends[section.key]
    if origin is None:
        return ProbePlan(
            **base,
            skip_reason=f"not configured: no {section.key!r} section",
            setup_hint=probe_class.setup_hint or section.setup_hint,
        )
    return ProbePlan(**base, backend=value, backend_origin=origin)


def _resolve_backend(
    config: Config, section: BackendSection, env: Mapping[str, str]
) -> tuple[Any, Literal["config", "environment"] | None]:
    raw = config.section(section.key)
    if raw is not None:
        return _validate(config, (section.key,), section.model, raw), "config"
    if section.from_environment is None:
        return None, None
    from_env = section.from_environment(env)
    if from_env is None:
        return None, None
    try:
        return TypeAdapter(section.model).validate_python(from_env), "environment"
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"{first['msg']} (derived from environment variables)", key=section.key) from None


def _validate(config: Config, path: KeyPath, model: Any, raw: Any) -> Any:
    try:
        return TypeAdapter(model).validate_python(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        location = (*path, *(p for p in error["loc"] if isinstance(p, str | int)))
        message = str(error["msg"])
        if error["type"] == "extra_forbidden":
            key = location[-1]
            allowed = _allowed_keys(model, error["loc"][:-1])
            hint = suggest(str(key), allowed)
            expected = f"; expected one of {', '.join(sorted(allowed))}" if allowed else ""
            message = f"unknown key{hint}{expected}"
        elif error["type"] == "missing":
            message = "required key is missing"
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        raise config.error(location, message) from None


def _allowed_keys(model: Any, loc: tuple[Any, ...]) -> list[str]:
    """The keys a model accepts at ``loc`` (for suggestions)."""
    current = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, int):
            args = typing.get_args(current)
            current = args[0] if args else current
            continue
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            current = field.annotation if field else None
        else:
            args = typing.get_args(current)
            current = args[-1] if args else None
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or name for name, f in current.model_fields.items()]
    return []


def _unwrap(annotation: Any) -> Any:
    """Strip Optional/Union down to the model inside, if any."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                return arg
        non_none = [a for a in typing.get_args(annotation) if a is not type(None)]
        return non_none[0] if non_none else annotation
    return annotation
