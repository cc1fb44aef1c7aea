"""The traces section: validation, one-line errors with exit status 3, secrets never shown."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from diagnostics import ErrorKind, Status, report_to_dict
from diagnostics.testing import run_probe
from probes.traces.errors import ErrorsProbe
from probes.traces.latency import LatencyProbe
from tests.support.local_http import serving
from tests.support.ports import refusing_port

TOKEN = "tempo-token-93f1c7"
TENANT = "tenant-secret-4410aa"


def diag(
    tmp_path: Path, config: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "diag.yaml"
    path.write_text(config)
    return subprocess.run(
        [sys.executable, "-m", "diagnostics", *args, "--config", str(path)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
        timeout=60,
    )


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (
            "traces: {}\n",
            "diag.yaml:1: traces: traces needs exactly one of jaeger, tempo or zipkin (got none)",
        ),
        (
            "traces:\n  jaeger: {url: 'http://a:16686'}\n  zipkin: {url: 'http://b:9411'}\n",
            "traces: traces needs exactly one of jaeger, tempo or zipkin (got jaeger and zipkin)",
        ),
        (
            "traces:\n  tempo: {url: 'ftp://x'}\n",
            "diag.yaml:2: traces.tempo.url: expected an http:// or https:// URL",
        ),
        ("traces:\n  jaeger: {url: 'http://a:16686'}\n  sample: 3\n", "diag.yaml:3: traces.sample:"),
        ("traces:\n  jaeger: {url: 'http://a:16686', tokn: x}\n", "traces.jaeger.tokn: unknown key"),
        (
            "traces: {jaeger: {url: 'http://a:16686'}}\nprobes:\n  traces.latency: {min_ratio: 0.5}\n",
            "diag.yaml:3: probes.traces.latency.min_ratio:",
        ),
    ],
)
def test_bad_configuration_is_one_line_with_exit_status_3(tmp_path: Path, config: str, expected: str) -> None:
    result = diag(tmp_path, config, "config", "check")
    assert result.returncode == 3, result.stderr
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


class _Rejecting(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(401)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def rejecting_url() -> Iterator[str]:
    with serving(_Rejecting) as url:
        yield url


def test_a_rejected_token_is_an_auth_error_that_shows_no_secret(rejecting_url: str) -> None:
    section = {
        "tempo": {
            "url": rejecting_url,
            "bearer_token": "${TEMPO_TOKEN}",
            "headers": {"X-Scope-OrgID": "${TENANT}"},
        }
    }
    result = run_probe(ErrorsProbe, config={"traces": section}, env={"TEMPO_TOKEN": TOKEN, "TENANT": TENANT})
    assert result.outcome.status is Status.ERROR
    assert result.outcome.error_kind is ErrorKind.AUTH
    text = json.dumps(report_to_dict(result.report))
    assert "HTTP 401" in text
    assert TOKEN not in text and TENANT not in text


def test_an_unreachable_store_is_a_connect_error_naming_it() -> None:
    with refusing_port() as port:
        result = run_probe(LatencyProbe, config={"traces": {"zipkin": {"url": f"http://127.0.0.1:{port}"}}})
    assert result.outcome.status is Status.ERROR
    assert result.outcome.error_kind is ErrorKind.CONNECT
    assert f"127.0.0.1:{port}" in str(result.outcome.error)


def test_without_a_traces_section_both_probes_are_skipped_with_a_hint() -> None:
    for probe in (ErrorsProbe, LatencyProbe):
        outcome = run_probe(probe).outcome
        assert outcome.status is Status.SKIPPED
        assert outcome.hint is not None and outcome.hint.startswith("traces: {jaeger:")
