"""Shared helpers of the Kubernetes probe tests: a fixed "now" and a finding factory."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from diagnostics import Finding, ProbeContext, ProbeOptions


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def finding_factory(probe_id: str, at: datetime) -> Callable[..., Finding]:
    """``ctx.finding`` of a context diagnosing ``at`` with the default one-hour window."""
    context = ProbeContext(probe_id=probe_id, at=at, window=timedelta(hours=1), options=ProbeOptions())
    return context.finding


def texts(findings: list[Finding]) -> str:
    """Everything a finding could show a reader, as one string (for leak checks)."""
    parts: list[Any] = []
    for f in findings:
        parts += [f.title, f.summary, *f.next_steps, *f.evidence.queries, repr(dict(f.evidence.details))]
        parts += [repr(m.value) for m in f.evidence.values]
    return "\n".join(str(p) for p in parts)
