"""Configuration errors: one clear line naming the file, the line and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from diagnostics.config import load_config, parse_config
from diagnostics.errors import ConfigError
from diagnostics.plan import plan_probes, run_settings
from diagnostics.registry import Registry
from tests.fixtures.diag_testprobes import NeedsBackendProbe, SleepProbe, WarnProbe

REGISTRY = Registry(probes={p.id: p for p in (WarnProbe, SleepProbe, NeedsBackendProbe)}, broken={})


def plan(text: str, env: dict[str, str] | None = None, selected: tuple[str, ...] = ()) -> list:  # type: ignore[type-arg]
    config = parse_config(text, source="diag.yaml", env=env or {})
    return plan_probes(config, REGISTRY, selected=selected, env=env or {})


def error_of(text: str, env: dict[str, str] | None = None, selected: tuple[str, ...] = ()) -> str:
    with pytest.raises(ConfigError) as info:
        plan(text, env, selected)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_malformed_yaml_names_the_file_and_line() -> None:
    message = error_of("run:\n  window: 1h\n  timeout: [30s\n")
    assert message.startswith("diag.yaml:4: malformed YAML") or message.startswith(
        "diag.yaml:3: malformed YAML"
    )


def test_unknown_top_level_key_suggests_the_right_one() -> None:
    message = error_of("run:\n  window: 1h\nwidget:\n  - main\n")
    assert message.startswith("diag.yaml:3: widget: unknown section (did you mean 'widgets'?)")


def test_unknown_probe_option_suggests_the_right_one() -> None:
    message = error_of("probes:\n  test.sleep:\n    sleeep: 2s\n")
    assert message.startswith("diag.yaml:3: probes.test.sleep.sleeep: unknown key (did you mean 'sleep'?)")


def test_bad_duration_is_named() -> None:
    message = error_of("probes:\n  test.sleep:\n    timeout: soon\n")
    assert message == (
        "diag.yaml:3: probes.test.sleep.timeout: expected a duration like 90s, 30m, 2h or 1d, got 'soon'"
    )


def test_bad_run_window_is_named() -> None:
    config = parse_config("run:\n  window: 5 parsecs\n", source="diag.yaml", env={})
    with pytest.raises(ConfigError, match=r"^diag.yaml:2: run.window: expected a duration"):
        run_settings(config)


def test_unknown_probe_id_in_config_and_on_the_command_line() -> None:
    assert error_of("probes:\n  test.slep: {}\n").startswith(
        "diag.yaml:2: probes.test.slep: unknown probe id (did you mean 'test.sleep'?)"
    )
    assert (
        error_of("", selected=("test.wran",))
        == "--probe: unknown probe id 'test.wran' (did you mean 'test.warn'?)"
    )


def test_duplicate_keys_are_rejected() -> None:
    assert error_of("run:\n  window: 1h\n  window: 2h\n") == "diag.yaml:3: run.window: duplicate key"


def test_environment_variables_are_interpolated() -> None:
    plans = plan("widgets: ['${W}', '${MISSING:-fallback}', '$${literal}']\n", env={"W": "main"})
    needs = next(p for p in plans if p.probe_id == "test.needs_backend")
    assert needs.backend == ["main", "fallback", "${literal}"]
    assert needs.backend_origin == "config"


def test_an_unset_variable_fails_only_the_probes_reading_its_section() -> None:
    plans = {p.probe_id: p for p in plan("widgets:\n  - ${NOPE}\nprobes:\n  test.warn: {enabled: true}\n")}
    needs = plans["test.needs_backend"]
    assert not needs.runnable
    assert needs.config_error == "diag.yaml:2: widgets[0]: environment variable NOPE is not set"
    assert plans["test.warn"].runnable and plans["test.sleep"].runnable


def test_an_unset_variable_in_probe_settings_fails_only_that_probe() -> None:
    plans = {p.probe_id: p for p in plan("probes:\n  test.sleep:\n    timeout: ${SLEEP_TIMEOUT}\n")}
    assert plans["test.sleep"].config_error == (
        "diag.yaml:3: probes.test.sleep.timeout: environment variable SLEEP_TIMEOUT is not set"
    )
    assert plans["test.warn"].runnable


def test_an_unset_variable_in_the_run_section_fails_the_run() -> None:
    config = parse_config("run:\n  window: ${WINDOW}\n", source="diag.yaml", env={})
    with pytest.raises(
        ConfigError, match=r"^diag.yaml:2: run.window: environment variable WINDOW is not set$"
    ):
        run_settings(config)


def test_secret_values_from_the_environment_are_registered_for_redaction() -> None:
    config = parse_config(
        "widgets:\n  - postgresql://u:${DB_PASSWORD}@h/db\n",
        source="diag.yaml",
        env={"DB_PASSWORD": "hunter22"},
    )
    assert config.redactor("failed: hunter22") == "failed: ***"


def test_backend_from_environment_and_skip_hint() -> None:
    skipped = next(p for p in plan("") if p.probe_id == "test.needs_backend")
    assert not skipped.runnable
    assert skipped.setup_hint == "widgets: [main]"
    found = next(p for p in plan("", env={"WIDGETS": "w1"}) if p.probe_id == "test.needs_backend")
    assert found.runnable and found.backend == ["w1"] and found.backend_origin == "environment"


def test_disabled_probe_is_skipped_unless_selected() -> None:
    text = "probes:\n  test.warn: {enabled: false}\n"
    assert not next(p for p in plan(text) if p.probe_id == "test.warn").runnable
    assert plan(text, selected=("test.warn",))[0].runnable


def test_config_file_discovery(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_config(env={"HOME": str(tmp_path)}).source is None
    (tmp_path / "diag.yaml").write_text("run: {window: 2h}\n")
    assert load_config(env={}).source == str(tmp_path / "diag.yaml")
    other = tmp_path / "other.yaml"
    other.write_text("run: {window: 3h}\n")
    assert load_config(env={"DIAG_CONFIG": str(other)}).source == str(other)
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_config(tmp_path / "absent.yaml", env={})


def test_the_user_config_directory_is_the_last_place_searched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    home = tmp_path / "home"
    (home / ".config" / "diag").mkdir(parents=True)
    (home / ".config" / "diag" / "diag.yaml").write_text("run: {window: 4h}\n")
    assert load_config(env={"HOME": str(home)}).source == str(home / ".config" / "diag" / "diag.yaml")
    xdg = tmp_path / "xdg"
    (xdg / "diag").mkdir(parents=True)
    (xdg / "diag" / "diag.yaml").write_text("run: {window: 5h}\n")
    assert load_config(env={"HOME": str(home), "XDG_CONFIG_HOME": str(xdg)}).source == str(
        xdg / "diag" / "diag.yaml"
    )
    (tmp_path / "diag.yaml").write_text("run: {window: 6h}\n")
    assert load_config(env={"HOME": str(home)}).source == str(tmp_path / "diag.yaml")
