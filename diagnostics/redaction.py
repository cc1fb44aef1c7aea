"""Keeping secrets out of every output: reports, logs and error messages."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

MASK = "***"
MIN_SECRET_LENGTH = 4
"""Shorter values are not masked by value: masking every "y" would garble the whole output."""

_PATTERNS = (
    # scheme://user:password@host
    re.compile(r"(?P<keep>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/?#@\s]*:)(?P<secret>[^@/\s]+)(?=@)"),
    # password='quoted value' in key/value DSNs (libpq quoting) and SQL
    re.compile(r"(?P<keep>(?:password|passwd|pwd)\s*=\s*')(?P<secret>(?:[^'\\]|\\.)*)(?=')", re.IGNORECASE),
    # password=... in DSN query strings or key/value DSNs
    re.compile(r"(?P<keep>(?:password|passwd|pwd)\s*=\s*)(?P<secret>[^&\s'\"]+)", re.IGNORECASE),
    # Authorization headers and tokens
    re.compile(r"(?P<keep>\b(?:Bearer|Basic|Token)\s+)(?P<secret>[A-Za-z0-9._~+/=-]{4,})"),
    re.compile(
        r"(?P<keep>(?:token|secret|api[_-]?key|access[_-]?key)[\"']?\s*[:=]\s*[\"']?)"
        r"(?P<secret>[^\s\"'&,}]{4,})",
        re.IGNORECASE,
    ),
)

SECRET_KEY = re.compile(
    r"pass(word)?|secret|token|api[_-]?key|credential|authorization|private", re.IGNORECASE
)
"""Configuration keys (and environment variable names) whose values are secrets."""


@dataclass(frozen=True, slots=True)
class Redactor:
    """Masks known secret values and anything shaped like a credential."""

    secrets: frozenset[str] = field(default_factory=frozenset)

    def with_secrets(self, values: Iterable[str]) -> Redactor:
        """A redactor that also masks ``values`` (those too short to mask safely are skipped)."""
        usable = {v for v in values if isinstance(v, str) and len(v) >= MIN_SECRET_LENGTH}
        return Redactor(self.secrets | usable)

    def __call__(self, text: str) -> str:
        if not text:
            return text
        # longest first, so a secret containing another is masked whole
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: m.group("keep") + MASK, text)
        return text


def environment_secrets(env: Mapping[str, str]) -> list[str]:
    """Values of environment variables whose names say they are secrets (PGPASSWORD, *_TOKEN)."""
    return [value for name, value in env.items() if SECRET_KEY.search(name) and value]


def redact(text: str) -> str:
    """Mask credential-shaped substrings (DSN passwords, bearer tokens) in ``text``."""
    return Redactor()(text)
