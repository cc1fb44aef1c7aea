"""Settings shared by the resource probes, and how they reach the pure judges.

:class:`ResourceOptions` holds what both probes' ``probes.<id>`` sections have (the ``rate()``
range) and checks each warning threshold against its critical one; :data:`Matchers` is a
setting validated as PromQL label matchers; :func:`thresholds` turns options into a judge's
thresholds dataclass.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Annotated, Any, ClassVar, Protocol, Self, TypeVar

from pydantic import AfterValidator, model_validator

from diagnostics import Duration, ProbeOptions


def _check_matchers(text: str) -> str:
    # promql.py (its dataclasses) loads when a matcher setting is validated, not with the probe
    from probes.resources.promql import check_matchers

    return check_matchers(text)


Matchers = Annotated[str, AfterValidator(_check_matchers)]
"""Comma-separated PromQL label matchers (``job="node",env!~"dev.*"``), refused otherwise."""


@dataclasses.dataclass(frozen=True, slots=True)
class Ordered:
    """A warning threshold and its critical one; the warning comes first as things get worse."""

    warning: str
    critical: str
    lower_is_worse: bool = False


class ResourceOptions(ProbeOptions):
    """Base of the resource probes' options: the ``rate()`` range, ordered threshold pairs."""

    ordered: ClassVar[tuple[Ordered, ...]] = ()
    """The option pairs a subclass checks: a warning past its critical is refused."""

    rate_interval: Duration = timedelta(minutes=5)
    """Range of the ``rate()`` and ``increase()`` windows over counters (e.g. throttled periods, swap pages)."""

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        for pair in self.ordered:
            warning, critical = getattr(self, pair.warning), getattr(self, pair.critical)
            if (warning < critical) if pair.lower_is_worse else (warning > critical):
                relation = "at least" if pair.lower_is_worse else "at most"
                raise ValueError(f"{pair.warning} must be {relation} {pair.critical}")
        return self


class _Dataclass(Protocol):
    __dataclass_fields__: ClassVar[dict[str, Any]]


T = TypeVar("T", bound=_Dataclass)


def thresholds(options: ProbeOptions, kind: type[T]) -> T:
    """``kind`` (a judge's thresholds dataclass) from the options of the same names; a field
    ending in ``_s`` takes the duration option without that suffix, in seconds."""
    values: dict[str, Any] = {}
    for item in dataclasses.fields(kind):
        if item.name.endswith("_s"):
            values[item.name] = getattr(options, item.name.removesuffix("_s")).total_seconds()
        else:
            values[item.name] = getattr(options, item.name)
    return kind(**values)
