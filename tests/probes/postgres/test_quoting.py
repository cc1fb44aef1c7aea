"""SQL quoting for suggested statements, and password masking of query text (pure)."""

from __future__ import annotations

import pytest

from probes.postgres.query_text import mask_secrets
from probes.postgres.quoting import quote_identifier, quote_literal


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("billing", "'billing'"),
        ("", "''"),
        ("it's", "'it''s'"),
        ("x' OR true OR '", "'x'' OR true OR '''"),
        ("back\\slash'", "E'back\\\\slash'''"),
    ],
)
def test_quote_literal(value: str, literal: str) -> None:
    assert quote_literal(value) == literal


@pytest.mark.parametrize(
    ("value", "identifier"),
    [("app", '"app"'), ("user", '"user"'), ('we"ird', '"we""ird"'), ("Mixed Case", '"Mixed Case"')],
)
def test_quote_identifier(value: str, identifier: str) -> None:
    assert quote_identifier(value) == identifier


@pytest.mark.parametrize(
    ("query", "masked"),
    [
        ("ALTER ROLE app PASSWORD 'hunter2'", "ALTER ROLE app PASSWORD '***'"),
        (
            "alter user app with encrypted password 'it''s secret';",
            "alter user app with encrypted password '***';",
        ),
        (
            "CREATE USER bob WITH LOGIN PASSWORD 's3cret' VALID UNTIL 'infinity'",
            "CREATE USER bob WITH LOGIN PASSWORD '***' VALID UNTIL 'infinity'",
        ),
        ("CREATE ROLE r PASSWORD E'a\\'b' LOGIN", "CREATE ROLE r PASSWORD '***' LOGIN"),
        ("ALTER ROLE r PASSWORD $pw$dollar'quoted$pw$", "ALTER ROLE r PASSWORD '***'"),
        ("ALTER ROLE r PASSWORD $$plain$$ LOGIN", "ALTER ROLE r PASSWORD '***' LOGIN"),
        ("ALTER ROLE r PASSWORD 'cut short by the length li", "ALTER ROLE r PASSWORD '***'"),
        (
            "CREATE USER MAPPING FOR app SERVER s OPTIONS (user 'u', password 'pw')",
            "CREATE USER MAPPING FOR app SERVER s OPTIONS (user 'u', password '***')",
        ),
        ("ALTER ROLE r PASSWORD NULL", "ALTER ROLE r PASSWORD NULL"),
        ("SELECT * FROM orders WHERE status = 'paid'", "SELECT * FROM orders WHERE status = 'paid'"),
    ],
)
def test_mask_secrets(query: str, masked: str) -> None:
    assert mask_secrets(query) == masked
