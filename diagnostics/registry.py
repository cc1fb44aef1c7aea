"""Discovering probes: every probe, built-in or not, is an entry point in ``diag.probes``.

A plugin is validated when it loads: the entry-point name must equal the probe's id and the
class must follow the contract. A broken plugin does not stop diag: it becomes a
:class:`BrokenProbe` that the runner reports as an ``error`` outcome naming its distribution.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

from diagnostics.contract import Probe, ProbeOptions
from diagnostics.errors import PluginError
from diagnostics.model import ChecklistItem

ENTRY_POINT_GROUP = "diag.probes"
PROBE_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


@dataclass(frozen=True, slots=True, kw_only=True)
class BrokenProbe:
    """A registered probe that could not be loaded, kept so the report can say so."""

    id: str
    distribution: str | None
    reason: str

    @property
    def message(self) -> str:
        origin = f" (distribution {self.distribution})" if self.distribution else ""
        return f"probe plugin {self.id}{origin} is broken: {self.reason}"


@dataclass(frozen=True, slots=True)
class Registry:
    """The probes that can run, by id, and the ones that failed to load."""

    probes: Mapping[str, type[Probe]]
    broken: Mapping[str, BrokenProbe]

    @property
    def ids(self) -> list[str]:
        return sorted({*self.probes, *self.broken})

    def backend_keys(self) -> set[str]:
        return {p.backend_section.key for p in self.probes.values() if p.backend_section}


def validate_probe_class(name: str, candidate: object) -> type[Probe]:
    """Check that ``candidate`` implements the contract under the id ``name``."""
    if not (isinstance(candidate, type) and issubclass(candidate, Probe)):
        raise PluginError(f"{name}: {candidate!r} is not a subclass of diagnostics.Probe")
    probe_id = getattr(candidate, "id", None)
    if probe_id != name:
        raise PluginError(f"entry point {name!r} names a probe whose id is {probe_id!r}")
    if not PROBE_ID.match(name):
        raise PluginError(f"{name!r} is not a dotted lower-case probe id such as 'db.locks'")
    if not isinstance(getattr(candidate, "checklist_item", None), ChecklistItem):
        raise PluginError(f"{name}: checklist_item must be a diagnostics.ChecklistItem")
    if not isinstance(getattr(candidate, "description", None), str):
        raise PluginError(f"{name}: description must be a one-line string")
    options = getattr(candidate, "options_model", None)
    if not (isinstance(options, type) and issubclass(options, ProbeOptions)):
        raise PluginError(f"{name}: options_model must subclass diagnostics.ProbeOptions")
    if getattr(candidate, "__abstractmethods__", None):
        missing = ", ".join(sorted(candidate.__abstractmethods__))
        raise PluginError(f"{name}: does not implement {missing}")
    return candidate


def _distribution_name(entry_point: EntryPoint, names: dict[int, str]) -> str | None:
    dist = getattr(entry_point, "dist", None)
    if dist is None:
        return None
    # Distribution.name re-reads and parses METADATA on every access: once per distribution
    if id(dist) not in names:
        names[id(dist)] = dist.name
    return names[id(dist)]


def load_registry(extra: Iterable[type[Probe]] = ()) -> Registry:
    """Load every probe registered in ``diag.probes`` (plus ``extra`` classes, for tests)."""
    probes: dict[str, type[Probe]] = {}
    broken: dict[str, BrokenProbe] = {}
    seen: dict[str, str | None] = {}
    names: dict[int, str] = {}
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        name = entry_point.name
        distribution = _distribution_name(entry_point, names)
        if name in seen and seen[name] != distribution:
            probes.pop(name, None)
            broken[name] = BrokenProbe(
                id=name,
                distribution=distribution,
                reason=f"the probe id is registered by two distributions ({seen[name]} and {distribution})",
            )
            continue
        seen[name] = distribution
        try:
            probes[name] = validate_probe_class(name, entry_point.load())
        except Exception as exc:  # a plugin may fail in any way; it must not stop diag
            broken[name] = BrokenProbe(
                id=name, distribution=distribution, reason=f"{type(exc).__name__}: {exc}"
            )
    for probe_class in extra:
        probes[probe_class.id] = validate_probe_class(probe_class.id, probe_class)
        broken.pop(probe_class.id, None)
    return Registry(probes=probes, broken=broken)
