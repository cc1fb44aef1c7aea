"""diag serve over real HTTP: a real dependency probe, real sockets, TLS, auth, bounds, secrets."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from diagnostics.errors import ConfigError
from diagnostics.serve.service import Service, build_service
from tests.diagnostics.serve.helpers import SwitchableService, switchable_service

TOKEN = "serve-token-3b9e1d7c5a2f"
DEPENDENCY_SECRET = "payments-secret-77c1a9e0"


@pytest.fixture
def payments() -> Iterator[SwitchableService]:
    with switchable_service() as service:
        yield service


def config_for(payments: SwitchableService, **serve: Any) -> dict[str, Any]:
    return {
        "dependencies": [
            {
                "name": "payments",
                "url": payments.url,
                "headers": {"Authorization": f"Bearer {DEPENDENCY_SECRET}"},
            }
        ],
        "probes": {"resources.host": {"enabled": False}, "deps.http": {"attempts": 1}},
        "serve": {"listen": "127.0.0.1:0", "every": "1h", **serve},
    }


@pytest.fixture
def started() -> Iterator[list[Service]]:
    services: list[Service] = []
    yield services
    for service in services:
        service.stop()


def start(config: dict[str, Any], started: list[Service]) -> tuple[Service, str]:
    service = build_service(config, env={})
    started.append(service)
    service.start()
    threading.Thread(target=service.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    host, port = service.address
    return service, f"http://{host}:{port}"


def get(url: str, headers: dict[str, str] | None = None, context: Any = None) -> tuple[int, str, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as answer:
            return answer.status, answer.headers.get("Content-Type", ""), answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read().decode()


def wait_for_first_run(base: str, headers: dict[str, str] | None = None) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if "diag_last_run_timestamp_seconds" in get(base + "/metrics", headers)[2]:
            return
        time.sleep(0.1)
    raise TimeoutError("no run finished")


def test_metrics_show_a_failing_dependency_and_probe_runs_it_again_now(
    payments: SwitchableService, started: list[Service]
) -> None:
    payments.failing.set()
    _, base = start(config_for(payments), started)
    wait_for_first_run(base)
    status, content_type, text = get(base + "/metrics")
    assert status == 200 and content_type.startswith("text/plain; version=0.0.4")
    assert 'diag_probe_up{probe="deps.http"} 1.0' in text
    assert 'diag_findings{probe="deps.http",severity="critical"} 1.0' in text
    assert 'diag_finding{entity="dependency payments"' in text
    assert "process_resident_memory_bytes" in text and "python_info" in text
    payments.failing.clear()
    status, _, text = get(base + "/probe?probe=deps.http")
    assert status == 200
    assert 'diag_findings{probe="deps.http",severity="critical"} 0.0' in text
    assert "process_" not in text  # /probe answers with that probe's series only
    # the cache now holds the newer result
    assert 'diag_findings{probe="deps.http",severity="critical"} 0.0' in get(base + "/metrics")[2]


def test_openmetrics_when_asked(payments: SwitchableService, started: list[Service]) -> None:
    _, base = start(config_for(payments), started)
    wait_for_first_run(base)
    _, content_type, text = get(base + "/metrics", {"Accept": "application/openmetrics-text; version=1.0.0"})
    assert content_type.startswith("application/openmetrics-text")
    assert text.rstrip().endswith("# EOF")


def test_report_endpoint_in_every_format(payments: SwitchableService, started: list[Service]) -> None:
    payments.failing.set()
    _, base = start(config_for(payments), started)
    wait_for_first_run(base)
    status, content_type, body = get(base + "/report")
    assert status == 200 and content_type.startswith("application/json")
    document = json.loads(body)
    assert document["schema"] == "diag.report/v1"
    assert document["findings"][0]["probe"] == "deps.http"
    assert "payments: HTTP 503" in get(base + "/report?format=text")[2]
    assert get(base + "/report?format=markdown")[2].startswith("#")
    assert get(base + "/report?format=yaml")[0] == 400


def test_no_secret_in_any_endpoint(payments: SwitchableService, started: list[Service]) -> None:
    payments.failing.set()
    _, base = start(config_for(payments), started)
    wait_for_first_run(base)
    for path in ("/metrics", "/probe?probe=deps.http", "/report", "/report?format=text", "/healthz"):
        assert DEPENDENCY_SECRET not in get(base + path)[2], path


def test_bearer_token_guards_everything_but_healthz(
    payments: SwitchableService, started: list[Service]
) -> None:
    _, base = start(config_for(payments, auth={"bearer_token": TOKEN}), started)
    assert get(base + "/healthz")[0] == 200
    for path in ("/metrics", "/probe?probe=deps.http", "/report"):
        assert get(base + path)[0] == 401
        assert get(base + path, {"Authorization": "Bearer wrong-token-0000000"})[0] == 401
    assert get(base + "/metrics", {"Authorization": f"Bearer {TOKEN}"})[0] == 200


def test_basic_auth(payments: SwitchableService, started: list[Service]) -> None:
    import base64

    _, base = start(config_for(payments, auth={"username": "prom", "password": "scrape-pass-1"}), started)
    good = base64.b64encode(b"prom:scrape-pass-1").decode()
    bad = base64.b64encode(b"prom:nope").decode()
    assert get(base + "/metrics", {"Authorization": f"Basic {good}"})[0] == 200
    assert get(base + "/metrics", {"Authorization": f"Basic {bad}"})[0] == 401


def test_tls(payments: SwitchableService, started: list[Service], tmp_path: Path) -> None:
    import ssl

    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1")
    cert_file, key_file = tmp_path / "tls.crt", tmp_path / "tls.key"
    certificate.private_key_and_cert_chain_pem.write_to_path(str(cert_file))
    certificate.private_key_pem.write_to_path(str(key_file))
    _, base = start(
        config_for(payments, tls={"cert_file": str(cert_file), "key_file": str(key_file)}), started
    )
    context = ssl.create_default_context()
    authority.configure_trust(context)
    https = base.replace("http://", "https://")
    assert get(https + "/healthz", context=context)[0] == 200


def test_probe_requests_are_bounded(payments: SwitchableService, started: list[Service]) -> None:
    service, base = start(config_for(payments, max_probe_requests=1), started)
    wait_for_first_run(base)
    slot = service.server.app._probe_slots  # type: ignore[attr-defined]
    assert slot.acquire(blocking=False)  # the only slot is taken by a run in progress
    try:
        status, _, text = get(base + "/probe?probe=deps.http")
        assert status == 429 and "too many" in text
    finally:
        slot.release()
    assert get(base + "/probe?probe=deps.http")[0] == 200
    assert get(base + "/probe?probe=db.locks")[0] == 400  # not a probe this server runs
    assert get(base + "/probe")[0] == 400


def test_report_before_the_first_run_is_503(payments: SwitchableService) -> None:
    service = build_service(config_for(payments), env={})
    try:
        assert service.server.app.handle("GET", "/report", {}).status == 503  # type: ignore[attr-defined]
    finally:
        service.server.server_close()


@pytest.mark.parametrize(
    ("serve", "message"),
    [
        ({"listen": "127.0.0.1:99999"}, "serve.listen: expected HOST:PORT with a port from 1 to 65535"),
        ({"every": "10ms"}, "serve.every: must be 1s or longer"),
        ({"intervals": {"db.lock": "10s"}}, "serve.intervals.db.lock: unknown probe id"),
        ({"auth": {"username": "prom"}}, "basic authentication needs both username and password"),
        ({"tls": {"cert_file": "/nonexistent.crt", "key_file": "/nonexistent.key"}}, "no such file"),
    ],
)
def test_bad_serve_settings_are_config_errors(
    payments: SwitchableService, serve: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        build_service(config_for(payments, **serve), env={})
    assert message in str(raised.value)
