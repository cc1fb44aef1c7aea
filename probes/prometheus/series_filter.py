"""PromQL that keeps only given series of any query: to read finer points for a few series only.

``(query) and on(job, instance) (label_replace(vector(1), "job", "checkout", "", "") ...)``:
the right-hand side is built from the label sets themselves, so it works for any query (a
selector, an aggregation, a ratio) without parsing it. Every label name any of the query's
series has is matched (or only one label, when its values alone tell every series apart, as
``pod`` or ``instance`` often do); a label a wanted series lacks is matched as absent
(``vector(1)`` has none, so only present labels are set). Prometheus still evaluates the query
for every series; only what it sends is cut.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import quote

LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
NOT_LABEL_NAMES = frozenset({"nan", "inf", "by", "without", "on", "ignoring", "group_left", "group_right",
                             "bool", "and", "or", "unless", "offset"})  # fmt: skip
"""Words PromQL reads as numbers or keywords inside ``on(...)``."""
MAX_ENCODED_QUERY = 6_000
"""Longest query sent, URL-encoded: with the other parameters the request line stays under the
8 KB a reverse proxy in front of Prometheus often allows (nginx's default buffers)."""
MAX_QUERIES = 8
"""Filtered queries sent at most; more wanted series than they hold: read them all."""


def _quoted(text: str) -> str:
    """A PromQL string literal (JSON escapes are Go escapes; non-ASCII stays as it is, since
    PromQL refuses the surrogate pairs JSON would write for characters beyond the BMP)."""
    return json.dumps(text, ensure_ascii=False)


def _one(labels: Mapping[str, str], names: Sequence[str]) -> str:
    expression = "vector(1)"
    for name in names:
        value = labels.get(name, "")
        if value:  # label_replace expands $1 in replacements: a literal $ is $$
            expression = (
                f'label_replace({expression}, {_quoted(name)}, {_quoted(value.replace("$", "$$"))}, "", "")'
            )
    return expression


def _key_labels(every: Sequence[Mapping[str, str]]) -> list[str]:
    """The label names to match on: one whose values tell every series apart, else all of them
    (``__name__`` never: functions drop it)."""
    names = sorted({name for labels in every for name in labels if name != "__name__"})
    for name in names:
        values = [labels.get(name) for labels in every]
        if None not in values and len(set(values)) == len(values):
            return [name]
    return names


def only_series(
    promql: str, wanted: Iterable[Mapping[str, str]], every: Sequence[Mapping[str, str]]
) -> tuple[str, ...] | None:
    """``promql`` restricted to the ``wanted`` series among ``every`` series it returns, in up to
    :data:`MAX_QUERIES` queries each short enough to send; None when that cannot be done (then
    read them all)."""
    matched = _key_labels(every)
    if not all(LABEL_NAME.fullmatch(name) and name.lower() not in NOT_LABEL_NAMES for name in matched):
        return None
    distinct = {tuple(labels.get(name, "") for name in matched): labels for labels in wanted}
    if not distinct:
        return None
    head = f"({promql}) and on({', '.join(matched)}) ("
    fixed, joiner = _encoded(head) + _encoded(")"), _encoded(" or ")
    queries: list[str] = []
    parts: list[str] = []
    size = fixed
    for labels in distinct.values():
        part = _one(labels, matched)
        grown = size + _encoded(part) + (joiner if parts else 0)
        if parts and grown > MAX_ENCODED_QUERY:
            queries.append(head + " or ".join(parts) + ")")
            if len(queries) >= MAX_QUERIES:
                return None
            parts, grown = [], fixed + _encoded(part)
        parts.append(part)
        size = grown
    if size > MAX_ENCODED_QUERY:
        return None
    queries.append(head + " or ".join(parts) + ")")
    return tuple(queries)


def _encoded(query: str) -> int:
    return len(quote(query, safe=""))
