"""diag: automated incident diagnostics.

The public API: the probe contract (:class:`Probe`, :class:`ProbeContext`, :class:`ProbeOptions`,
:class:`BackendSection`), the findings model, and :func:`run` for runbooks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from diagnostics.api import run
    from diagnostics.contract import BackendSection, Duration, Probe, ProbeContext, ProbeOptions
    from diagnostics.errors import (
        ConfigError,
        DiagError,
        DuplicateFingerprints,
        NothingToJudge,
        PluginError,
        ProbeError,
        ProbeSkipped,
        ProbeTimeout,
        ReportFormatError,
    )
    from diagnostics.model import (
        SYMPTOM_OF,
        ChecklistItem,
        Entity,
        ErrorKind,
        Evidence,
        Finding,
        Measurement,
        ProbeOutcome,
        Report,
        Severity,
        Status,
    )
    from diagnostics.report.serialize import report_from_dict, report_to_dict

__all__ = [
    "SYMPTOM_OF",
    "BackendSection",
    "ChecklistItem",
    "ConfigError",
    "DiagError",
    "DuplicateFingerprints",
    "Duration",
    "Entity",
    "ErrorKind",
    "Evidence",
    "Finding",
    "Measurement",
    "NothingToJudge",
    "PluginError",
    "Probe",
    "ProbeContext",
    "ProbeError",
    "ProbeOptions",
    "ProbeOutcome",
    "ProbeSkipped",
    "ProbeTimeout",
    "Report",
    "ReportFormatError",
    "Severity",
    "Status",
    "report_from_dict",
    "report_to_dict",
    "run",
]

_LAZY = {
    **{
        name: ("diagnostics.contract", name)
        for name in ("BackendSection", "Duration", "Probe", "ProbeContext", "ProbeOptions")
    },
    **{
        name: ("diagnostics.errors", name)
        for name in (
            "ConfigError",
            "DiagError",
            "DuplicateFingerprints",
            "NothingToJudge",
            "PluginError",
            "ProbeError",
            "ProbeSkipped",
            "ProbeTimeout",
            "ReportFormatError",
        )
    },
    **{
        name: ("diagnostics.model", name)
        for name in (
            "ChecklistItem",
            "Entity",
            "ErrorKind",
            "Evidence",
            "Finding",
            "Measurement",
            "ProbeOutcome",
            "Report",
            "SYMPTOM_OF",
            "Severity",
            "Status",
        )
    },
    "run": ("diagnostics.api", "run"),
    "report_to_dict": ("diagnostics.report.serialize", "report_to_dict"),
    "report_from_dict": ("diagnostics.report.serialize", "report_from_dict"),
}


def __getattr__(name: str) -> Any:
    # everything loads on first use, so `diag --help` does not pay for pydantic or rich
    if name in _LAZY:
        import importlib

        module, attribute = _LAZY[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'diagnostics' has no attribute {name!r}")
