"""Every exception diag raises, in one tree::

    DiagError                  anything diag reports as one line (the CLI exits 3)
    ├── ConfigError            bad configuration or usage: names the file, line and key
    ├── PluginError            a registered probe is broken (bad entry point, bad class)
    ├── ReportFormatError      a report file that is not a diag.report/v1 document
    ├── ProbeError             a probe could not check its backend; carries an ErrorKind
    │   ├── ProbeTimeout       ... because the backend did not answer in time
    │   └── DuplicateFingerprints  ... it returned two findings with one fingerprint
    └── ProbeSkipped           a probe found nothing to check (e.g. its exporter's metrics absent)
        └── NothingToJudge     ... its backend answered, with nothing to judge: "not checked"

Library code raises these; only ``diagnostics.cli`` turns them into exit statuses.
"""

from __future__ import annotations

from diagnostics.model import ErrorKind


class DiagError(Exception):
    """Base of every error diag reports to a user as a single line."""


class ConfigError(DiagError):
    """The configuration (or the command line) is not what diag expects."""

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        self.message = message
        self.source = source
        self.line = line
        self.key = key
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = ""
        if self.source:
            where = self.source + (f":{self.line}" if self.line else "")
        parts = [p for p in (where, self.key) if p]
        prefix = ": ".join(parts)
        return f"{prefix}: {self.message}" if prefix else self.message


class PluginError(DiagError):
    """A probe plugin could not be loaded or does not follow the contract."""

    def __init__(self, message: str, *, distribution: str | None = None) -> None:
        self.distribution = distribution
        suffix = f" (from distribution {distribution})" if distribution else ""
        super().__init__(message + suffix)


class ReportFormatError(DiagError):
    """A file given as a report is not a valid diag report."""


class ProbeError(DiagError):
    """A probe could not check what it was asked to; ``kind`` says why."""

    def __init__(self, message: str, *, kind: ErrorKind = ErrorKind.INTERNAL) -> None:
        self.kind = kind
        super().__init__(message)


class ProbeTimeout(ProbeError):
    """The backend did not answer before the probe's deadline."""

    def __init__(self, message: str) -> None:
        super().__init__(message, kind=ErrorKind.TIMEOUT)


class DuplicateFingerprints(ProbeError):
    """A probe returned several findings with the same (kind, entity, key)."""


class ProbeSkipped(DiagError):
    """Raised by a probe that found nothing it can check; its outcome is ``skipped``.

    ``hint`` says what would enable it (an exporter to install, a section to configure).
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.hint = hint
        super().__init__(message)


class NothingToJudge(ProbeSkipped):
    """Raised by a probe whose backend answered but held nothing to judge (no configured query
    matched, no signal discovered); its outcome is ``not_checked``, never a clean ``ok``.

    ``hint`` is the configuration line that gives it something to judge.
    """
