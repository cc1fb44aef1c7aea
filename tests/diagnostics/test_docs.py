"""The documentation site and the self-teaching command line.

The reference pages are generated from the code (options models, docstrings, click); these
tests fail while the committed pages are stale, while the site does not build strictly, and
while a help text lacks its examples.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from diagnostics.cli import cli
from diagnostics.reference import cli_reference, option_docs, probe_text, probes_reference
from diagnostics.registry import load_registry

ROOT = Path(__file__).resolve().parents[2]
REGENERATE = "run `.venv/bin/python -m diagnostics.reference` to regenerate docs/reference/"


def test_probe_reference_page_is_current() -> None:
    committed = (ROOT / "docs" / "reference" / "probes.md").read_text(encoding="utf-8")
    assert committed == probes_reference(load_registry()), REGENERATE


def test_cli_reference_page_is_current() -> None:
    committed = (ROOT / "docs" / "reference" / "cli.md").read_text(encoding="utf-8")
    assert committed == cli_reference(cli), REGENERATE


def test_probe_reference_lists_every_probe_with_its_defaults() -> None:
    registry = load_registry()
    page = probes_reference(registry)
    for probe_id in registry.probes:
        assert f"### `{probe_id}`" in page
    # defaults come from the options models, attribute docstrings become the meanings
    assert "| `wait_warning` | duration | `10s` |" in page
    assert "Sessions waiting behind one root that make the tree critical" in page


def test_every_option_of_every_probe_is_described() -> None:
    # the description is what the reference page, the JSON schema and `diag probes show` print
    undescribed = [
        f"{probe_id}.{option.name}"
        for probe_id, probe_class in sorted(load_registry().probes.items())
        for option in option_docs(probe_class.options_model)
        if not option.description
    ]
    assert undescribed == []


@pytest.mark.slow
def test_site_builds_strictly(tmp_path: Path) -> None:
    mkdocs = Path(sys.executable).with_name("mkdocs")
    command = [str(mkdocs)] if mkdocs.exists() else [shutil.which("mkdocs") or "mkdocs"]
    result = subprocess.run(
        [*command, "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "site" / "reference" / "probes" / "index.html").exists()


def test_readme_is_short_and_links_into_the_docs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200
    for page in ("docs/getting-started.md", "docs/reference/probes.md", "docs/performance.md"):
        assert f"({page})" in readme
        assert (ROOT / page).exists()


@pytest.mark.parametrize(
    "args",
    [["--help"], ["run", "--help"], ["probes", "--help"], ["config", "check", "--help"], ["diff", "--help"]],
)
def test_help_texts_have_examples(args: list[str]) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0
    assert "Example" in result.output
    if args[0] in ("--help", "run"):
        assert "Exit status: 0 nothing wrong" in result.output


def test_run_help_says_what_each_option_takes() -> None:
    output = CliRunner().invoke(cli, ["run", "-h"]).output
    assert "-t, --timeout DURATION" in output
    assert "-c, --config FILE" in output
    assert "-p, --probe ID" in output
    assert "-f, --format" in output
    assert "-o, --output FILE" in output
    assert "SECONDS" not in output


def test_usage_error_keeps_the_pointer_to_help() -> None:
    result = CliRunner().invoke(cli, ["run", "--no-such-flag"], prog_name="diag")
    assert result.exit_code == 3
    assert "diag: error: No such option '--no-such-flag'" in result.output
    assert "Try 'diag run -h' for help." in result.output
    assert "Traceback" not in result.output


def test_probes_lists_by_checklist_item_under_a_header(tmp_path: Path) -> None:
    config = tmp_path / "diag.yaml"
    config.write_text("run: {window: 1h}\n")
    result = CliRunner().invoke(cli, ["probes", "-c", str(config)], env={"DIAG_CONFIG": ""})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["PROBE", "STATE", "DESCRIPTION"]
    database = lines.index("Check database")
    resources = lines.index("Check resource utilization")
    block = "\n".join(lines[database:resources])
    assert "db.locks" in block and "resources.host" not in block
    assert "resources.host" in "\n".join(lines[resources:])


def test_probes_show_explains_a_probe() -> None:
    result = CliRunner().invoke(cli, ["probes", "show", "db.locks"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("db.locks: ")
    assert "checklist item: Check database" in result.output
    assert re.search(r"^  wait_warning +duration = 10s$", result.output, re.MULTILINE)
    assert "postgres:" in result.output  # the line that enables it
    assert "pg_blocking_pids" in result.output  # what it reads and reports


def test_probes_show_suggests_a_close_id() -> None:
    result = CliRunner().invoke(cli, ["probes", "show", "db.lock"], standalone_mode=False)
    assert result.exit_code == 3
    assert "did you mean 'db.locks'" in result.output


def test_probe_text_matches_the_options_model() -> None:
    probe_class = load_registry().probes["resources.host"]
    text = probe_text(probe_class)
    for option in option_docs(probe_class.options_model):
        assert f"  {option.name}" in text


def test_config_check_gives_one_hint_per_section_and_the_right_entry_kind(tmp_path: Path) -> None:
    config = tmp_path / "diag.yaml"
    config.write_text("dependencies:\n  - {name: api, url: 'http://127.0.0.1:1/health'}\n")
    result = CliRunner().invoke(cli, ["config", "check", "-c", str(config)], env={"PGHOST": ""})
    assert result.exit_code == 0, result.output
    postgres_hint = "add: postgres: ["
    assert result.output.count(postgres_hint) == 1  # four db.* probes, one hint
    tcp_line = next(line for line in result.output.splitlines() if "deps.tcp" in line)
    assert "tcp: " in tcp_line and "url:" not in tcp_line
