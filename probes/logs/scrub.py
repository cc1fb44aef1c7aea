"""Redacting example lines before they reach a report.

:func:`diagnostics.redaction.redact` masks credentials (DSN passwords, bearer tokens,
``token=``/``api_key=`` values); lines also carry e-mail addresses, card numbers, cloud keys,
JWTs and private keys, masked here.
"""

from __future__ import annotations

import re

from diagnostics.redaction import MASK, redact

_EXTRA = (
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.DOTALL),
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),  # JWT
    re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),  # AWS access key id
    re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|xox[abpr]-[A-Za-z0-9-]{10,}|sk_live_[A-Za-z0-9]{10,})"),
    re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"),  # e-mail
    re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])"),  # card numbers (checked by Luhn below)
    re.compile(r"(?P<keep>(?:secret|password|passwd|pwd)[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,}]+", re.IGNORECASE),
)


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _mask(match: re.Match[str]) -> str:
    text = match.group(0)
    if text[:1].isdigit():
        digits = re.sub(r"\D", "", text)
        if not (13 <= len(digits) <= 19 and _luhn(digits)):
            return text  # an id or a timestamp, not a card
    keep = match.groupdict().get("keep")
    return (keep or "") + MASK


def scrub(text: str) -> str:
    """``text`` with credentials, personal data and card numbers masked."""
    text = redact(text)
    for pattern in _EXTRA:
        text = pattern.sub(_mask, text)
    return text
