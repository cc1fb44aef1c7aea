"""Report renderers: text (rich), JSON (diag.report/v1) and Markdown."""

from __future__ import annotations

from typing import Literal

from diagnostics.model import Report

Format = Literal["text", "json", "markdown"]
FORMATS: tuple[Format, ...] = ("text", "json", "markdown")


def render(report: Report, fmt: Format, *, color: bool | None = None) -> str:
    """The report in one of the formats."""
    if fmt == "json":
        from diagnostics.report.serialize import report_to_json

        return report_to_json(report) + "\n"
    if fmt == "markdown":
        from diagnostics.report.markdown import render_markdown

        return render_markdown(report)
    from diagnostics.report.text import render_text

    return render_text(report, color=color)
