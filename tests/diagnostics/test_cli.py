"""The CLI: exit statuses, one-line errors, output files, and a real subprocess run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from diagnostics.cli import cli

pytestmark = pytest.mark.usefixtures("scripted_probes", "no_config")


def invoke(*args: str) -> tuple[int, str, str]:
    """Run ``diag ARGS`` in-process, as the console script does."""
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("probe", "expected"),
    [("test.sleep", 0), ("test.warn", 1), ("test.crit", 2), ("test.fail", 3), ("test.needs_backend", 3)],
)
def test_exit_status_per_worst_outcome(probe: str, expected: int) -> None:
    code, _, _ = invoke("run", "--probe", probe, "--format", "json")
    assert code == expected


def test_warning_and_critical_together_exit_2() -> None:
    code, out, _ = invoke("run", "--probe", "test.warn", "--probe", "test.crit", "--format", "json")
    assert code == 2
    assert json.loads(out)["counts"] == {"critical": 1, "warning": 1, "info": 0}


@pytest.mark.parametrize(
    ("config", "args", "message"),
    [
        ("run:\n  window: [1h\n", (), "diag.yaml:3: malformed YAML"),
        (
            "probes:\n  test.slep: {}\n",
            (),
            "diag.yaml:2: probes.test.slep: unknown probe id (did you mean 'test.sleep'?)",
        ),
        (
            "probes:\n  test.sleep: {timeout: soon}\n",
            (),
            "diag.yaml:2: probes.test.sleep.timeout: expected a duration",
        ),
        ("", ("--probe", "test.nope"), "--probe: unknown probe id 'test.nope'"),
        ("", ("--window", "forever"), "expected a duration like 90s"),
        ("", ("--at", "someday"), "expected ISO 8601"),
        ("", ("--format", "yaml"), "Invalid value for '-f' / '--format'"),
    ],
)
def test_bad_input_is_one_line_exit_3_no_traceback(config: str, args: tuple[str, ...], message: str) -> None:
    if config:
        Path("diag.yaml").write_text(config)
    code, out, err = invoke("run", "--probe", "test.sleep", *args)
    assert code == 3
    assert out == ""
    # one line of error; a usage error keeps click's pointer to the command's help below it
    _, _, rest = err.partition("\n")
    assert rest in ("", "Try 'cli run -h' for help.\n"), err
    assert err.startswith("diag: error: ")
    assert message in err
    assert "Traceback" not in err


def test_output_file_and_formats(tmp_path: Path) -> None:
    target = tmp_path / "report.md"
    code, out, _ = invoke("run", "--probe", "test.crit", "--format", "markdown", "--output", str(target))
    assert code == 2 and out == ""
    assert target.read_text().startswith("## diag: 1 critical: error ratio 12x normal [service checkout]")
    code, out, _ = invoke("run", "--probe", "test.crit", "--format", "text")
    assert out.splitlines()[0].startswith("1 critical: error ratio 12x normal [service checkout] since")


def test_probes_lists_every_probe_with_its_state() -> None:
    code, out, _ = invoke("probes", "--format", "json")
    assert code == 0
    rows = {row["id"]: row for row in json.loads(out)}
    assert rows["resources.host"]["enabled"] is True
    assert rows["test.needs_backend"]["enabled"] is False
    assert rows["test.needs_backend"]["setup_hint"] == "widgets: [main]"
    assert rows["test.crit"]["checklist_item"] == "metrics"


def test_an_unset_variable_fails_only_the_probes_reading_its_section_and_commands_still_work() -> None:
    Path("diag.yaml").write_text("widgets: ['${WIDGET_PASSWORD}']\n")
    code, out, err = invoke("probes")
    assert code == 0, err
    lines = out.splitlines()
    [index] = [i for i, row in enumerate(lines) if row.split()[:1] == ["test.needs_backend"]]
    assert lines[index].split()[1:3] == ["cannot", "run"]
    reason = lines[index + 1]  # the reason stands under the probe's row
    assert reason.endswith("diag.yaml:1: widgets[0]: environment variable WIDGET_PASSWORD is not set")
    code, out, _ = invoke("run", "--probe", "test.needs_backend", "--probe", "test.warn", "--format", "json")
    assert code == 1
    outcomes = {o["id"]: o for o in json.loads(out)["probes"]}
    assert outcomes["test.needs_backend"]["status"] == "error"
    assert outcomes["test.needs_backend"]["error_kind"] == "config"
    assert "environment variable WIDGET_PASSWORD is not set" in outcomes["test.needs_backend"]["error"]
    assert outcomes["test.warn"]["status"] == "warning"


def test_other_checklist_items_read_not_selected_with_probe() -> None:
    code, out, _ = invoke("run", "--probe", "test.warn", "--format", "json")
    assert code == 1
    rows = {row["item"]: row for row in json.loads(out)["checklist"]}
    assert rows["metrics"]["state"] == "not_selected"  # test.crit serves metrics
    assert rows["metrics"]["detail"].startswith("not selected by --probe: test.crit, ")
    assert rows["logs"]["state"] == "not_selected"  # logs.* exist but were left out
    assert "no_probe" not in {rows[item]["state"] for item in ("deployments", "dependencies", "resources")}
    _, out, _ = invoke("run", "--probe", "test.warn")
    assert "Check dashboards and metrics: not selected — not selected by --probe: test.crit" in out


def test_config_check_says_what_each_probe_will_check() -> None:
    Path("diag.yaml").write_text("widgets: [main, backup]\nprobes:\n  test.warn: {enabled: false}\n")
    code, out, _ = invoke("config", "check")
    assert code == 0
    assert "diag.yaml: valid" in out
    assert "test.needs_backend" in out and "will check 2 targets: main, backup" in out
    assert "test.warn" in out and "skipped: disabled in the configuration" in out


def test_config_schema_is_the_committed_one_for_the_builtin_probes() -> None:
    result = CliRunner().invoke(cli, ["config", "schema"])
    schema = json.loads(result.stdout)
    assert schema["properties"]["widgets"]["type"] == "array"
    assert "resources.host" in schema["properties"]["probes"]["properties"]


def test_real_subprocess_run_of_the_zero_config_default(scripted_probes: Path) -> None:
    env = {**os.environ, "NO_COLOR": "1"}
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "diagnostics", "run", "--probe", "resources.host", "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode in (0, 1, 2), done.stderr
    document = json.loads(done.stdout)
    assert document["probes"][0]["id"] == "resources.host"
    assert document["probes"][0]["status"] in ("ok", "warning", "critical")
    assert time.monotonic() - began < 10


def test_the_reported_run_time_includes_the_process_start_up(scripted_probes: Path) -> None:
    # a second of start-up before the CLI is even imported, as a slow machine or a big import has
    code = "import time; time.sleep(1.0); from diagnostics.cli import main; main(['run', '--probe', 'test.sleep', '--format', 'json'])"
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    wall = time.monotonic() - began
    assert done.returncode == 0, done.stderr
    reported = json.loads(done.stdout)["duration_s"]
    assert 1.0 <= reported <= wall


def test_a_hung_backend_does_not_keep_the_process_alive() -> None:
    began = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "diagnostics",
            "run",
            "--probe",
            "test.hang",
            "--probe",
            "test.warn",
            "--timeout",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    elapsed = time.monotonic() - began
    assert done.returncode == 1, done.stderr
    assert "test.hang" in done.stdout and "timeout" in done.stdout
    assert elapsed < 5, f"the process lived {elapsed:.1f} s past a 1 s deadline"


def test_ctrl_c_prints_the_report_of_what_finished() -> None:
    import signal

    process = subprocess.Popen(
        [sys.executable, "-m", "diagnostics", "run", "--probe", "test.hang", "--probe", "test.warn",
         "--timeout", "60", "--progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a shell starts background jobs with SIGINT ignored, and Python then never turns it
        # into KeyboardInterrupt: the child gets the default whatever runs the tests
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    assert process.stderr is not None
    progress = ""
    while "test.warn" not in progress:  # the warn probe has finished: interrupt the rest
        line = process.stderr.readline()
        assert line, f"diag ended before test.warn finished: {progress}"
        progress += line
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=20)
    assert process.returncode == 1, err
    assert "pool 85 % used" in out, err
    assert "interrupted before it finished" in out, err
    assert "interrupted; the report shows what finished" in err


def test_diff_and_baseline_show_new_resolved_and_unchanged(tmp_path: Path) -> None:
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    invoke("run", "--probe", "test.crit", "--probe", "test.warn", "--format", "json", "--output", str(first))
    invoke("run", "--probe", "test.warn", "--format", "json", "--output", str(second))
    code, out, _ = invoke("diff", str(first), str(second), "--format", "json")
    assert code == 1
    comparison = json.loads(out)["comparison"]
    assert comparison["new"] == []
    assert len(comparison["unchanged"]) == 1
    assert [f["title"] for f in comparison["resolved"]] == ["error ratio 12x normal"]
    code, out, _ = invoke("run", "--probe", "test.warn", "--baseline", str(first))
    assert "Since the baseline run" in out and "0 new, 1 resolved, 1 unchanged" in out
    assert "resolved  error ratio 12x normal  [service checkout]" in out


def test_report_from_a_run_writes_the_incident_draft(tmp_path: Path) -> None:
    run_file, draft = tmp_path / "run.json", tmp_path / "incident.md"
    code, _, _ = invoke(
        "run",
        "--probe",
        "test.crit",
        "--format",
        "json",
        "--output",
        str(run_file),
        "--incident-report",
        str(draft),
    )
    assert code == 2
    code, out, _ = invoke("report", "--from", str(run_file), "--format", "markdown")
    assert code == 0
    assert out == draft.read_text()
    assert out.startswith("# Incident report (draft): 1 critical: error ratio 12x normal [service checkout]")
    for heading in (
        "## Timeline",
        "## Suspected root cause",
        "## Impact",
        "## Diagnosis",
        "## Post-incident checklist",
    ):
        assert heading in out
    assert "- [ ] Preventive measures" in out and "- [ ] Runbook" in out


def test_a_file_that_is_not_a_report_is_a_one_line_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.json"
    bogus.write_text('{"hello": 1}')
    code, _, err = invoke("report", "--from", str(bogus))
    assert code == 3
    assert err == f"diag: error: {bogus}: not a diag.report/v1 document (missing or different 'schema')\n"


def test_the_example_configuration_passes_config_check_with_no_variables_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = Path(__file__).resolve().parents[2]
    for name in ("ORDERS_DB_PASSWORD", "PAYMENTS_TOKEN", "PROM_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    code, out, err = invoke("config", "check", "--config", str(root / "config" / "diag.yaml"))
    assert code == 0, err
    lines = {line.split()[0]: line for line in out.splitlines()[2:]}
    assert lines["db.locks"].endswith("postgres[0].dsn: environment variable ORDERS_DB_PASSWORD is not set")
    assert "cannot run until set" in lines["db.locks"]
    assert "will check" in lines["metrics.anomalies"] and "will check" in lines["resources.host"]


def test_the_example_configuration_is_valid_and_the_schema_file_is_current(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = Path(__file__).resolve().parents[2]
    monkeypatch.setenv("ORDERS_DB_PASSWORD", "example-password")
    monkeypatch.setenv("PAYMENTS_TOKEN", "example-token")
    monkeypatch.setenv("UNLEASH_ADMIN_TOKEN", "example-unleash-token")
    monkeypatch.setenv("LD_API_TOKEN", "example-ld-token")
    monkeypatch.setenv("ES_PASSWORD", "example-es-password")
    monkeypatch.setenv("VLOGS_TOKEN", "example-vlogs-token")
    code, out, err = invoke("config", "check", "--config", str(root / "config" / "diag.yaml"))
    assert code == 0, err
    assert "will check 1 target: orders" in out
    assert "6 sources: checkout (file), nginx (journald), cart (kubernetes)" in out
    assert "example-es-password" not in out and "example-vlogs-token" not in out
    assert "example-password" not in out
    from diagnostics.config_schema import configuration_schema
    from diagnostics.registry import Registry, load_registry

    everything = load_registry()
    builtin = Registry(
        probes={i: c for i, c in everything.probes.items() if not c.__module__.startswith("diag_testprobes")},
        broken={},
    )
    generated = configuration_schema(builtin)
    committed = json.loads((root / "config" / "diag.schema.json").read_text())
    assert generated == committed, (
        "config/diag.schema.json is stale: run `diag config schema > config/diag.schema.json`"
    )


def test_real_json_output_validates_against_the_schema(tmp_path: Path) -> None:
    from importlib.resources import files

    import jsonschema

    schema = json.loads(files("diagnostics").joinpath("schemas/report-v1.schema.json").read_text())
    checker = jsonschema.FormatChecker()
    first = tmp_path / "first.json"
    code, _, _ = invoke(
        "run", "--probe", "test.crit", "--probe", "test.warn", "--format", "json", "--output", str(first)
    )
    assert code == 2
    jsonschema.validate(json.loads(first.read_text()), schema, format_checker=checker)
    code, out, _ = invoke("run", "--probe", "test.warn", "--probe", "test.needs_backend", "--format", "json",
                          "--baseline", str(first))  # fmt: skip
    document = json.loads(out)
    jsonschema.validate(document, schema, format_checker=checker)
    assert document["comparison"]["resolved"][0]["title"] == "error ratio 12x normal"
    assert document["summary"]["severity"]["level"] == "SEV3"
    broken = dict(document, at="yesterday")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema, format_checker=checker)
