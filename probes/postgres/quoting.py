"""Standard SQL quoting for the statements the findings suggest (pure).

Application and role names come from clients: a suggested ``pg_terminate_backend`` that
pasted them raw would, for an application_name ``x' OR true OR '``, end every session.
"""

from __future__ import annotations


def quote_literal(value: str) -> str:
    """A SQL string constant, like PostgreSQL's quote_literal(): ``'it''s'``; with a backslash
    an ``E''`` string whose backslashes are doubled, so it reads the same whatever
    ``standard_conforming_strings`` says."""
    quoted = value.replace("'", "''")
    if "\\" in value:
        return "E'" + quoted.replace("\\", "\\\\") + "'"
    return "'" + quoted + "'"


def quote_identifier(value: str) -> str:
    """A SQL identifier, always double-quoted (``"app"``, ``"we""ird"``): never a keyword or
    case-folded."""
    return '"' + value.replace('"', '""') + '"'
