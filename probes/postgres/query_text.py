"""Query text as the probes show it: password literals masked (pure).

pg_stat_activity.query and pg_stat_statements keep statements verbatim, and
``ALTER ROLE app PASSWORD 'secret'`` carries a secret that no DSN-based redaction recognises.
Every query text the probes read passes through :func:`mask_secrets` before it reaches a
finding's title, summary or evidence.
"""

from __future__ import annotations

import re

MASK = "'***'"

# PASSWORD (also ENCRYPTED PASSWORD, CREATE/ALTER ROLE/USER ... PASSWORD, a user mapping's
# password 'x') followed by a string constant: '...' with '' inside, E'...' with backslash
# escapes, or $tag$...$tag$. A literal cut short by the query length limit is masked to the end.
_PASSWORD_LITERAL = re.compile(
    r"""
    (?P<keyword>\bpassword\s*=?\s*)
    (?:
        [eE]'(?:[^'\\]|\\.|'')*(?:'|$)          # E'...' escape string
      | '(?:[^']|'')*(?:'|$)                    # '...' standard string
      | \$(?P<tag>[A-Za-z_]\w*|)\$.*?(?:\$(?P=tag)\$|$)    # $tag$...$tag$
    )
    """,
    re.IGNORECASE | re.VERBOSE | re.DOTALL,
)


def mask_secrets(text: str) -> str:
    """``text`` with the string literal after every PASSWORD keyword replaced by ``'***'``."""
    return _PASSWORD_LITERAL.sub(lambda match: match.group("keyword") + MASK, text)
