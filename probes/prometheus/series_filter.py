"""PromQL that keeps only given series of any query: to read finer points for a few series only.

``(query) and on(job, instance) (label_replace(vector(1), "job", "checkout", "", "") ...)``:
the right-hand side is built from the label sets themselves, so it works for any query (a
selector, an aggregation, a ratio) without parsing it. Every label name any of the query's
series has is matched; a label a wanted series lacks is matched as absent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence

LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
MAX_FILTER_CHARS = 4_000
"""Longest filter sent in one query (a few dozen series): URL-encoded, the query stays under the
8 KB request line a reverse proxy in front of Prometheus often allows (nginx's default)."""


def _quoted(text: str) -> str:
    """A PromQL string literal (JSON escapes are Go escapes)."""
    return json.dumps(text)


def _one(labels: Mapping[str, str], names: Sequence[str]) -> str:
    expression = "vector(1)"
    for name in names:
        value = labels.get(name, "").replace("$", "$$")  # label_replace expands $1 in replacements
        expression = (
            f"label_replace({expression}, {_quoted(name)}, {_quoted(value)}, {_quoted('')}, {_quoted('')})"
        )
    return expression


def only_series(promql: str, wanted: Iterable[Mapping[str, str]], names: Iterable[str]) -> str | None:
    """``promql`` restricted to the series whose labels ``names`` equal one of ``wanted``'s
    (``__name__`` is never matched: functions drop it); None when the filter would be too long
    to send (then read them all)."""
    matched = sorted({name for name in names if name != "__name__"})
    if not all(LABEL_NAME.fullmatch(name) for name in matched):
        return None
    distinct = {tuple(labels.get(name, "") for name in matched): labels for labels in wanted}
    if not distinct:
        return None
    right = " or ".join(_one(labels, matched) for labels in distinct.values())
    if len(right) > MAX_FILTER_CHARS:
        return None
    return f"({promql}) and on({', '.join(matched)}) ({right})"
