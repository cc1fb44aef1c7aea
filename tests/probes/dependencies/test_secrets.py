"""Header values, URL credentials and query secrets never reach findings, errors or logs."""

from __future__ import annotations

import json
import logging
import time

import pytest

from diagnostics import ProbeContext, Severity, report_to_dict
from diagnostics.testing import run_probe
from probes.dependencies.client_http import HttpCheck, HttpTarget, assemble, attempt_http, prepare_request
from probes.dependencies.config import Dependency
from probes.dependencies.environment import read_environment
from probes.dependencies.http import HttpOptions, HttpProbe, http_target
from probes.dependencies.judge_http import judge_http
from probes.dependencies.judge_tls import CertificateLimits
from probes.dependencies.phases import open_session
from tests.support.http_servers import HttpServers

pytestmark = pytest.mark.integration

WRONG_TOKEN = "wrong-token-5b7d0e"


def private(http_servers: HttpServers) -> dict[str, object]:
    return {
        "name": "payments-api",
        "url": http_servers.url("/private"),
        "headers": {"Authorization": "Bearer ${PAYMENTS_TOKEN}"},
    }


def check_http(target: HttpTarget, *, deadline: float) -> HttpCheck | None:
    """All of one target's attempts in a row, with the probe's own collect functions."""
    request = prepare_request(target)
    attempts = []
    with open_session() as session:
        for number in range(target.attempts):
            attempt = attempt_http(
                target, request, session, deadline=deadline, read_certificate_on_failure=number == 0
            )
            if attempt is not None:
                attempts.append(attempt)
    return assemble(target, attempts)


def test_the_interpolated_header_is_sent(http_servers: HttpServers) -> None:
    result = run_probe(
        HttpProbe,
        config={"dependencies": [private(http_servers)]},
        env={"PAYMENTS_TOKEN": http_servers.private_token},
    )
    assert result.findings == ()  # 200: the server saw the right token


def test_a_rejected_token_appears_nowhere(
    http_servers: HttpServers, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    result = run_probe(
        HttpProbe, config={"dependencies": [private(http_servers)]}, env={"PAYMENTS_TOKEN": WRONG_TOKEN}
    )
    (finding,) = result.findings
    assert finding.title.startswith("payments-api: HTTP 401 on 3/3 attempts")
    assert WRONG_TOKEN not in json.dumps(report_to_dict(result.report))
    assert WRONG_TOKEN not in caplog.text


def test_the_probe_itself_emits_no_header_value_before_redaction(http_servers: HttpServers) -> None:
    entry = Dependency(
        name="payments-api",
        url=http_servers.url("/private"),
        headers={"Authorization": f"Bearer {WRONG_TOKEN}", "X-Custom": WRONG_TOKEN},
    )
    options = HttpOptions()
    check = check_http(http_target(entry, options, read_environment()), deadline=time.monotonic() + 5)
    assert check is not None
    context = ProbeContext(
        probe_id="deps.http", at=check.observed_at, window=options.timeout, options=options
    )
    findings = judge_http(
        check, CertificateLimits(warning_days=14, critical_days=3), at=context.at, make=context.finding
    )
    assert [f.severity for f in findings] == [Severity.CRITICAL]
    assert WRONG_TOKEN not in repr(findings)


def test_url_credentials_and_query_secrets_are_dropped(http_servers: HttpServers) -> None:
    port = http_servers.closed_port_url.split(":")[2].split("/")[0]
    url = f"http://deploy:hunter2pw@127.0.0.1:{port}/healthz?api_key=q5ecret77"
    result = run_probe(HttpProbe, config={"dependencies": [{"name": "partner", "url": url}]})
    (finding,) = result.findings
    assert finding.kind == "connect_refused"
    assert finding.entity.attributes["url"] == f"http://127.0.0.1:{port}/healthz?…"
    text = json.dumps(report_to_dict(result.report))
    assert "hunter2pw" not in text and "q5ecret77" not in text


def test_header_values_are_secrets_until_the_request_is_prepared(http_servers: HttpServers) -> None:
    entry = Dependency(
        name="payments-api", url=http_servers.url("/private"), headers={"X-Custom": WRONG_TOKEN}
    )
    target = http_target(entry, HttpOptions(), read_environment())
    assert WRONG_TOKEN not in repr(entry) + repr(target) + str(entry.model_dump())
    assert prepare_request(target).headers["X-Custom"] == WRONG_TOKEN
