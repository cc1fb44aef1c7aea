"""The prometheus section and the probes' options: bad input is a one-line error naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from diagnostics import ConfigError
from diagnostics.testing import run_probe
from probes.prometheus.anomalies import AnomaliesOptions, AnomaliesProbe
from probes.prometheus.config import SECTION, PrometheusConfig, display_url
from probes.prometheus.scrape import ScrapeProbe


def test_minimal_and_full_sections(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    assert PrometheusConfig(url="http://127.0.0.1:9090/").url == "http://127.0.0.1:9090"
    full = PrometheusConfig.model_validate(
        {
            "url": "https://prom.example:9090",
            "headers": {"X-Scope-OrgID": "a"},
            "basic_auth": {"username": "u", "password": "p"},
            "verify_tls": str(bundle),
            "timeout": "3s",
            "alertmanager_url": "http://am:9093",
        }
    )
    assert full.timeout.total_seconds() == 3 and full.verify_tls == str(bundle)


def test_credentials_are_secrets_from_the_moment_they_are_read() -> None:
    token = PrometheusConfig.model_validate(
        {"url": "http://p", "headers": {"X-Scope-OrgID": "tenant-s3cr3t"}, "bearer_token": "tok-s3cr3t"}
    )
    basic = PrometheusConfig.model_validate(
        {"url": "http://p", "basic_auth": {"username": "u", "password": "pw-s3cr3t"}}
    )
    shown = repr(token) + str(token.model_dump()) + repr(basic) + str(basic.model_dump())
    assert "s3cr3t" not in shown
    assert token.bearer_token is not None and token.bearer_token.get_secret_value() == "tok-s3cr3t"
    assert token.headers["X-Scope-OrgID"].get_secret_value() == "tenant-s3cr3t"
    assert basic.basic_auth is not None and basic.basic_auth.password.get_secret_value() == "pw-s3cr3t"


def test_a_header_value_with_a_line_break_is_refused_without_showing_it() -> None:
    with pytest.raises(ConfigError) as raised:
        run_probe(
            ScrapeProbe, config={"prometheus": {"url": "http://p", "headers": {"X-Org": "s3cr3t\r\nX-A: 1"}}}
        )
    assert "line break" in str(raised.value) and "s3cr3t" not in str(raised.value)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"url": "prom:9090"}, "expected an http:// or https:// URL"),
        (
            {"url": "http://p", "bearer_token": "t", "basic_auth": {"username": "u", "password": "p"}},
            "not both",
        ),
        ({"url": "http://p", "timeout": "0s"}, "longer than zero"),
    ],
)
def test_bad_sections(section: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PrometheusConfig.model_validate(section)


def test_unknown_key_is_named_with_a_suggestion() -> None:
    with pytest.raises(ConfigError) as raised:
        run_probe(ScrapeProbe, config={"prometheus": {"url": "http://p", "bearer_tokn": "x"}})
    text = str(raised.value)
    assert "prometheus.bearer_tokn" in text and "bearer_token" in text


def test_bad_query_option_is_named() -> None:
    with pytest.raises(ConfigError) as raised:
        run_probe(
            AnomaliesProbe,
            config={"prometheus": {"url": "http://p"}},
            options={"queries": [{"name": "errors", "query": "x", "promql": "x"}]},
        )
    assert "probes.metrics.anomalies.queries[0].promql: unknown key" in str(raised.value)
    with pytest.raises(ConfigError) as missing:
        run_probe(
            AnomaliesProbe, config={"prometheus": {"url": "http://p"}}, options={"queries": [{"name": "e"}]}
        )
    assert "queries[0].query: required key is missing" in str(missing.value)


def test_options_defaults() -> None:
    options = AnomaliesOptions()
    assert options.baseline.days == 7 and options.queries == ()
    assert options.threshold == 4.0 and options.level_shift_after.total_seconds() == 900


def test_section_from_the_environment() -> None:
    assert SECTION.from_environment is not None
    assert SECTION.from_environment({"PROMETHEUS_URL": "http://p:9090"}) == {"url": "http://p:9090"}
    assert SECTION.from_environment({}) is None


def test_display_url_hides_credentials() -> None:
    assert display_url("http://u:pw@prom:9090/x") == "http://prom:9090/x"
    assert display_url("http://prom:9090") == "http://prom:9090"
