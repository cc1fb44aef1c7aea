"""The shared ``dependencies`` section: each entry is exactly one kind, errors name the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from diagnostics import ConfigError
from diagnostics.testing import run_probe
from probes.dependencies.config import Dependency, display_url, parse_address
from probes.dependencies.http import HttpProbe


def config_error(*entries: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        run_probe(HttpProbe, config={"dependencies": list(entries)})
    return caught.value


def test_an_entry_with_two_kinds_is_rejected_by_index() -> None:
    error = config_error({"name": "a", "url": "http://a.test/", "tcp": "a.test:80"})
    assert error.key == "dependencies[0]"
    assert error.message == "dependency 'a' needs exactly one of url, tcp or statuspage (got url and tcp)"


def test_an_entry_with_no_kind_is_rejected() -> None:
    error = config_error({"name": "ok", "url": "http://a.test/"}, {"name": "b"})
    assert error.key == "dependencies[1]"
    assert "needs exactly one of url, tcp or statuspage (got none)" in error.message


def test_http_only_fields_are_rejected_on_tcp_entries() -> None:
    error = config_error({"name": "db", "tcp": "db.test:5432", "expect_status": [200], "headers": {"X": "y"}})
    assert error.message == "dependency 'db': expect_status, headers do not apply to a tcp entry"


def test_latency_fields_are_rejected_on_statuspage_entries() -> None:
    error = config_error({"name": "acme", "statuspage": "https://status.acme.test", "latency_warning": "1s"})
    assert "latency_warning does not apply to a statuspage entry" in error.message


def test_unknown_key_is_named_with_a_suggestion() -> None:
    error = config_error({"name": "a", "url": "http://a.test/", "expect_stauts": [200]})
    assert error.key == "dependencies[0].expect_stauts"
    assert "did you mean 'expect_status'" in error.message


@pytest.mark.parametrize(
    ("entry", "key", "text"),
    [
        ({"name": "a", "url": "ftp://a.test/"}, "dependencies[0].url", "expected an http:// or https:// URL"),
        ({"name": "a", "tcp": "a.test"}, "dependencies[0].tcp", "expected host:port"),
        ({"name": "a", "tcp": "a.test:70000"}, "dependencies[0].tcp", "port must be between 1 and 65535"),
        (
            {"name": "a", "url": "http://a.test/", "expect_status": [99]},
            "dependencies[0].expect_status[0]",
            "100",
        ),
        (
            {"name": "a", "url": "http://a.test/", "ca_bundle": "/nonexistent/ca.pem"},
            "dependencies[0].ca_bundle",
            "no such CA bundle",
        ),
        (
            {"name": "a", "url": "http://a.test/", "timeout": "0s"},
            "dependencies[0].timeout",
            "longer than zero",
        ),
        (
            {"name": "a", "url": "http://a.test/", "attempts": 0},
            "dependencies[0].attempts",
            "greater than or equal to 1",
        ),
    ],
)
def test_bad_values_name_their_key(entry: dict[str, Any], key: str, text: str) -> None:
    error = config_error(entry)
    assert error.key == key
    assert text in error.message


def test_latency_warning_must_be_below_critical() -> None:
    error = config_error(
        {"name": "a", "url": "http://a.test/", "latency_warning": "2s", "latency_critical": "1s"}
    )
    assert "latency_warning must be below latency_critical" in error.message


def test_names_must_be_unique_per_kind() -> None:
    # refused when the configuration loads (exit 3), not when a probe runs
    with pytest.raises(ConfigError) as raised:
        run_probe(
            HttpProbe,
            config={
                "dependencies": [
                    {"name": "a", "url": "http://a.test/"},
                    {"name": "a", "url": "http://b.test/"},
                ]
            },
        )
    assert str(raised.value) == "<mapping>:1: dependencies: two url entries are named 'a' (entries 0 and 1)"


def test_a_provider_may_share_its_name_across_kinds() -> None:
    entries = [
        {"name": "acme", "url": "http://a.test/"},
        {"name": "acme", "statuspage": "https://status.a.test"},
    ]
    assert [Dependency(**e).entity().name for e in entries] == ["acme", "acme"]


def test_a_url_with_credentials_is_never_echoed_in_errors() -> None:
    error = config_error({"name": "a", "url": "ftp://user:hunter2@a.test/?token=abc123"})
    assert "hunter2" not in str(error) and "abc123" not in str(error)


def test_the_yaml_from_the_issue_validates(tmp_path: Path) -> None:
    from diagnostics.config import parse_config
    from diagnostics.plan import plan_probes
    from diagnostics.registry import Registry

    text = """
dependencies:
  - name: payments-api
    url: https://payments.internal/healthz
    expect_status: [200]
    expect_body: '"status":"ok"'
    latency_warning: 500ms
    latency_critical: 2s
    headers: {Authorization: "Bearer ${PAYMENTS_TOKEN}"}
  - name: orders-db-tcp
    tcp: orders-db.internal:5432
  - name: stripe
    statuspage: https://status.stripe.com
"""
    config = parse_config(text, env={"PAYMENTS_TOKEN": "tok-123456"})
    registry = Registry(probes={"deps.http": HttpProbe}, broken={})
    (plan,) = plan_probes(config, registry, env={})
    entries = plan.backend
    assert [e.kind for e in entries] == ["url", "tcp", "statuspage"]
    assert entries[0].latency_warning.total_seconds() == 0.5
    assert entries[0].expect_status == (200,)
    assert entries[1].entity().attributes == {"address": "orders-db.internal:5432"}
    assert "tok-123456" in config.redactor.secrets  # the token is masked wherever it could appear


def test_display_url_drops_credentials_query_and_fragment() -> None:
    assert display_url("https://u:p@api.test:8443/health?key=s3cret#x") == "https://api.test:8443/health?…"
    assert display_url("http://[::1]:8080/") == "http://[::1]:8080/"


def test_addresses_parse_ipv6_literals() -> None:
    assert parse_address("[::1]:5432").host == "::1"
    assert Dependency(name="db", tcp="[::1]:5432").tcp == "[::1]:5432"
