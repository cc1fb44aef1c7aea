"""Hostile configuration and arguments: one line, exit 3, bounded time and memory, no secret.

Each case comes from the audit of issue 12 (an alias bomb, a 60 MB file, /dev/zero, a FIFO,
out-of-range durations and times, a password echoed in an error, values that can never work).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from diagnostics.cli import cli
from diagnostics.config import MAX_CONFIG_BYTES, parse_config

pytestmark = pytest.mark.usefixtures("scripted_probes", "no_config")

ROOT = Path(__file__).resolve().parents[2]

ALIAS_BOMB = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{chr(c)}: &{chr(c)} [{','.join([f'*{chr(c - 1)}'] * 9)}]\n" for c in range(ord("b"), ord("j") + 1)
)
"""Nine nested anchors of nine aliases each: about 9^9 (387 million) nodes once expanded."""


def one_line_error(*args: str) -> str:
    """Run ``diag ARGS`` in-process; assert exit 3 with one line on stderr, return that line."""
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 3, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("diag: error: ")
    assert "Traceback" not in result.stderr
    return result.stderr.strip()


def test_an_alias_bomb_is_refused_before_anything_is_expanded() -> None:
    Path("diag.yaml").write_text(ALIAS_BOMB)
    assert len(ALIAS_BOMB) < 500
    # a real process with a memory ceiling: the unbounded expansion needs gigabytes
    began = time.monotonic()
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    done = subprocess.run(
        [sys.executable, "-c", _LIMITED_CONFIG_CHECK, "diag.yaml"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": path},  # this checkout's diag, whatever is installed
    )
    assert done.returncode == 3, done.stderr[-500:]
    assert done.stderr.startswith("diag: error: diag.yaml: YAML aliases would expand to ")
    assert "at most 10000 are allowed" in done.stderr
    assert time.monotonic() - began < 20


_LIMITED_CONFIG_CHECK = f"""
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({1024**3}, {1024**3}))
from diagnostics.cli import main
main(["config", "check", "--config", sys.argv[1]])
"""


def test_a_few_aliases_are_fine() -> None:
    Path("diag.yaml").write_text(
        "run: &defaults {window: 1h}\nprobes:\n  test.sleep: &sleep {timeout: 5s}\n  test.warn: *sleep\n"
    )
    result = CliRunner().invoke(cli, ["config", "check"])
    assert result.exit_code == 0, result.stderr


def test_a_self_referencing_alias_is_refused() -> None:
    Path("diag.yaml").write_text("run: &loop\n  window: *loop\n")
    assert one_line_error("config", "check", "--config", "diag.yaml") == (
        "diag: error: diag.yaml:1: a YAML alias refers to the node that contains it"
    )


def test_a_configuration_file_over_one_mib_is_refused_unread() -> None:
    path = Path("big.yaml")
    with path.open("wb") as stream:
        stream.truncate(60 * 1024 * 1024)  # 60 MB, sparse: refused from its size alone
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    message = one_line_error("config", "check", "--config", str(path))
    assert message == (
        f"diag: error: big.yaml: {60 * 1024 * 1024} bytes or more: "
        f"a configuration file may have at most {MAX_CONFIG_BYTES} bytes (1 MiB)"
    )
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 20 * 1024  # KiB


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (lambda tmp: Path("/dev/zero"), "device"),
        (lambda tmp: _fifo(tmp / "pipe.yaml"), "FIFO"),
    ],
)
def test_a_device_fifo_or_directory_is_not_read(make, kind: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = make(tmp_path)
    message = one_line_error("config", "check", "--config", str(path))
    assert message == f"diag: error: {path}: not a regular file (a {kind}): expected a YAML file"


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--window", "99999999999w"), "--window: 99999999999w is longer than the 400 days diag accepts"),
        (
            ("--window", "9" * 5000),
            "--window: expected a duration like 90s, 30m, 2h or 1d, got 5000 characters",
        ),
        (("--window", "401d"), "--window: 401d is longer than the 400 days diag accepts"),
        (("--timeout", "1e400"), "--timeout: expected a duration like 90s"),
        (("--at", "1e20"), "--at: 1e20 is not a time diag can diagnose (unix seconds since 1970)"),
        (("--at", "0001-01-01T00:00:00Z"), "--at: 0001-01-01T00:00:00Z is before 1970"),
        (("--at", "-1e300"), "--at: expected a duration like 90s, 30m, 2h or 1d, got '1e300'"),
        (("--at", "2999-01-01T00:00:00Z"), "--at: 2999-01-01T00:00:00Z is in the future"),
        (("--at", "-99999999999w"), "--at: 99999999999w is longer than the 400 days diag accepts"),
    ],
)
def test_durations_and_times_out_of_bounds(args: tuple[str, ...], message: str) -> None:
    assert message in one_line_error("run", "--probe", "test.sleep", *args)


def test_a_minute_of_clock_skew_is_accepted() -> None:
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 30))
    result = CliRunner().invoke(cli, ["run", "--probe", "test.sleep", "--at", soon, "--format", "json"])
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "run:\n  window: [1, 2]\n",
            "diag.yaml:2: run.window: expected a duration like 90s, 30m, 2h or 1d, got list [1, 2]",
        ),
        (
            "run:\n  timeout: 500d\n",
            "diag.yaml:2: run.timeout: 500d is longer than the 400 days diag accepts",
        ),
        ("run:\n  window: {a: 1}\n", "diag.yaml:2: run.window: expected a duration"),
        (f"run:\n  window: {'1' * 5000}s\n", "diag.yaml:2: run.window: expected a duration"),
    ],
)
def test_bad_durations_in_the_file_name_the_key(text: str, message: str) -> None:
    Path("diag.yaml").write_text(text)
    assert one_line_error("run", "--config", "diag.yaml", "--probe", "test.sleep").startswith(
        f"diag: error: {message}"
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            "db.locks: {wait_warning: 2m, wait_critical: 1m}",
            "probes.db.locks.wait_warning: 2m is above wait_critical (1m)",
        ),
        (  # lower is worse: the defaults (10 % then 5 %) give the direction
            "resources.host: {memory_available_warning: 0.05, memory_available_critical: 0.2}",
            "probes.resources.host.memory_available_warning: 0.05 is below memory_available_critical (0.2)",
        ),
    ],
)
def test_a_warning_threshold_beyond_its_critical_one_is_refused(options: str, message: str) -> None:
    Path("diag.yaml").write_text(f"probes:\n  {options}\n")
    assert one_line_error("config", "check", "--config", "diag.yaml") == (
        f"diag: error: diag.yaml:2: {message}: the warning would never come first"
    )


def test_thresholds_in_the_right_order_are_accepted() -> None:
    Path("diag.yaml").write_text(
        "probes:\n  db.locks: {wait_warning: 1m, wait_critical: 1m}\n"
        "  resources.host: {memory_available_warning: 0.3, memory_available_critical: 0.2}\n"
    )
    result = CliRunner().invoke(cli, ["config", "check"])
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            "prometheus: {url: 'ftp://user:PASSWORD-1234@host'}",
            "diag.yaml:1: prometheus.url: expected an http:// or https:// URL, got 'ftp://host'",
        ),
        (
            "prometheus: {url: 'http://prom:99999'}",
            "diag.yaml:1: prometheus.url: the port of 'http://prom:99999' is not a number from 1 to 65535",
        ),
        (
            "prometheus: {url: 'http://prom:9090', headers: {X-Org: \"a\\r\\nX-Admin: 1\"}}",
            "diag.yaml:1: prometheus.headers: the value of header 'X-Org' contains a line break or NUL",
        ),
        (
            "prometheus: {url: 'http://prom:9090', verify_tls: /nonexistent/ca.pem}",
            "diag.yaml:1: prometheus.verify_tls: no such CA bundle file: /nonexistent/ca.pem",
        ),
        (
            "postgres: [{name: a, dsn: 'postgresql://u:PASSWORD-1234@db:99999/x'}]",
            "diag.yaml:1: postgres[0].dsn: the port of the connection string is not a number from 1 to 65535",
        ),
        (
            "postgres: [{name: a, dsn: 'host=db port=0 dbname=x'}]",
            "diag.yaml:1: postgres[0].dsn: the port of the connection string is not a number from 1 to 65535",
        ),
        (
            "postgres: [{name: a, dsn: 'host=db sslrootcert=/nonexistent/root.crt'}]",
            "diag.yaml:1: postgres[0].dsn: no such sslrootcert file: /nonexistent/root.crt",
        ),
        (
            "postgres:\n  - {name: orders, dsn: 'host=a'}\n  - {name: orders, dsn: 'host=b'}",
            "diag.yaml:1: postgres: two databases are named 'orders' (entries 0 and 1)",
        ),
        (
            "kubernetes: {kubeconfig: /nonexistent/kubeconfig}",
            "diag.yaml:1: kubernetes.kubeconfig: no such kubeconfig file: /nonexistent/kubeconfig",
        ),
        (
            "dependencies: [{name: api, url: 'https://api:8443/', headers: {X-A: \"1\\n2\"}}]",
            "diag.yaml:1: dependencies[0].headers: the value of header 'X-A' contains a line break or NUL",
        ),
    ],
)
def test_values_that_can_never_work_are_refused_at_load(section: str, message: str) -> None:
    Path("diag.yaml").write_text(section + "\n")
    line = one_line_error("config", "check", "--config", "diag.yaml")
    assert line == f"diag: error: {message}"
    assert "PASSWORD-1234" not in line


def test_every_message_quoting_a_value_goes_through_the_redactor() -> None:
    config = parse_config(
        "widgets: ['${W}']\n", source="diag.yaml", env={"W": "ftp://user:PASSWORD-1234@host/x"}
    )
    error = config.error(("widgets", 0), "cannot use 'ftp://user:PASSWORD-1234@host/x'")
    assert str(error) == "diag.yaml:1: widgets[0]: cannot use 'ftp://user:***@host/x'"
