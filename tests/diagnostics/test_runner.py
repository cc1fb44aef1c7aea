"""The runner: probes run at once, and one probe's failure never stops or delays the others."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from diagnostics.api import diagnose
from diagnostics.contract import BackendSection, ProbeContext, ProbeOptions
from diagnostics.fingerprints import STRICT_VARIABLE
from diagnostics.model import Entity, ErrorKind, Finding, ProbeOutcome, Severity, Status
from diagnostics.plan import ProbePlan
from diagnostics.registry import Registry
from diagnostics.runner import run_plans
from tests.fixtures import diag_testprobes as tp

ALL = (
    tp.WarnProbe,
    tp.CritProbe,
    tp.SleepProbe,
    tp.HangProbe,
    tp.CrashProbe,
    tp.FailProbe,
    tp.NeedsBackendProbe,
)
REGISTRY = Registry(probes={p.id: p for p in ALL}, broken={})


def sleeping_registry(count: int) -> Registry:
    classes = {
        f"test.sleep{i}": type(f"Sleep{i}", (tp.SleepProbe,), {"id": f"test.sleep{i}"}) for i in range(count)
    }
    return Registry(probes=classes, broken={})


def run(
    config: dict[str, Any], probes: tuple[str, ...], registry: Registry = REGISTRY, timeout: float = 20
) -> Any:
    return diagnose(probes=probes, config=config, env={}, registry=registry, timeout=timeout)


def test_probes_that_sleep_do_not_add_up() -> None:
    registry = sleeping_registry(10)
    config = {"probes": {pid: {"sleep": "0.5s"} for pid in registry.probes}}
    began = time.monotonic()
    diagnosis = run(config, tuple(registry.probes), registry)
    elapsed = time.monotonic() - began
    assert [o.status for o in diagnosis.report.probes] == [Status.OK] * 10
    assert elapsed < 1.5, f"10 probes of 0.5 s took {elapsed:.2f} s: they did not run in parallel"


def test_concurrency_is_bounded() -> None:
    registry = sleeping_registry(4)
    config = {"run": {"concurrency": 2}, "probes": {pid: {"sleep": "0.3s"} for pid in registry.probes}}
    began = time.monotonic()
    run(config, tuple(registry.probes), registry)
    assert time.monotonic() - began >= 0.6


def test_a_hung_probe_times_out_without_delaying_the_others() -> None:
    config = {"probes": {"test.hang": {"timeout": "0.5s"}, "test.sleep": {"sleep": "0.2s"}}}
    began = time.monotonic()
    diagnosis = run(config, ("test.hang", "test.sleep", "test.crit"))
    elapsed = time.monotonic() - began
    outcomes = {o.probe: o for o in diagnosis.report.probes}
    assert outcomes["test.hang"].status is Status.TIMEOUT
    assert outcomes["test.hang"].error == "no answer within its 0.5s timeout"
    assert outcomes["test.sleep"].status is Status.OK
    assert outcomes["test.crit"].status is Status.CRITICAL
    assert 0.5 <= elapsed < 1.2
    assert diagnosis.abandoned_threads >= 1


def test_the_overall_deadline_bounds_the_run() -> None:
    config = {"probes": {"test.hang": {"timeout": "1m"}}}
    began = time.monotonic()
    diagnosis = run(config, ("test.hang", "test.warn"), timeout=0.4)
    assert time.monotonic() - began < 1.0
    hang = diagnosis.report.outcome_of("test.hang")
    assert hang is not None and hang.status is Status.TIMEOUT
    assert hang.error == "no answer before the run's overall deadline (--timeout)"
    assert diagnosis.report.outcome_of("test.warn").status is Status.WARNING  # type: ignore[union-attr]


def test_a_crashing_probe_is_an_error_outcome_and_others_still_report() -> None:
    diagnosis = run({}, ("test.crash", "test.fail", "test.warn"))
    outcomes: dict[str, ProbeOutcome] = {o.probe: o for o in diagnosis.report.probes}
    assert outcomes["test.crash"].status is Status.ERROR
    assert outcomes["test.crash"].error == "RuntimeError: boom in probe code"
    assert outcomes["test.crash"].error_kind is ErrorKind.INTERNAL
    assert outcomes["test.fail"].status is Status.ERROR
    assert outcomes["test.fail"].error_kind is ErrorKind.CONNECT
    assert outcomes["test.warn"].status is Status.WARNING
    assert [f.title for f in diagnosis.report.findings] == ["pool 85 % used"]


def test_every_selected_probe_has_exactly_one_outcome() -> None:
    diagnosis = run({"probes": {"test.hang": {"timeout": "0.2s"}}}, ())
    assert sorted(o.probe for o in diagnosis.report.probes) == sorted(REGISTRY.probes)
    needs = diagnosis.report.outcome_of("test.needs_backend")
    assert needs is not None and needs.status is Status.SKIPPED and needs.hint == "widgets: [main]"


def test_status_follows_the_worst_finding_and_context_carries_the_window() -> None:
    diagnosis = diagnose(
        probes=("test.crit",), config={}, env={}, registry=REGISTRY, at="2026-01-01T12:00:00Z", window="30m"
    )
    finding = diagnosis.report.findings[0]
    assert diagnosis.report.probes[0].status is Status.CRITICAL
    assert finding.onset is not None and finding.onset.isoformat() == "2026-01-01T11:57:00+00:00"
    assert diagnosis.report.window.total_seconds() == 1800


def test_a_context_typed_with_its_options_model_can_be_built_and_replaced() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    options = tp.ScriptOptions(sleep=timedelta(0))
    ctx = ProbeContext[tp.ScriptOptions](
        probe_id="test.crit", at=at, window=timedelta(minutes=5), options=options
    )
    assert ctx.options is options and ctx.start == at - timedelta(minutes=5)
    assert replace(ctx, probe_id="test.fail").options is options


def test_secrets_in_probe_errors_are_masked() -> None:
    config = {"probes": {"test.fail": {"secret_in_error": "s3cr3tpw"}}}
    outcome = run(config, ("test.fail",)).report.probes[0]
    assert "s3cr3tpw" not in (outcome.error or "")
    assert "postgresql://diag:***@db/x" in (outcome.error or "")


def test_a_probe_can_skip_itself_with_a_hint() -> None:
    registry = Registry(probes={tp.SelfSkippingProbe.id: tp.SelfSkippingProbe}, broken={})
    outcome = run({}, ("test.self_skip",), registry).report.probes[0]
    assert outcome.status is Status.SKIPPED
    assert outcome.error == "no node_exporter metrics in Prometheus"
    assert outcome.hint == "install node_exporter"


class TwinsProbe(tp._Scripted):
    """Two findings of one kind on one entity without a key: the same fingerprint twice."""

    id = "test.twins"

    def run(self, ctx: ProbeContext) -> Iterable[Finding]:
        entity = Entity(kind="database", name="orders")
        return [
            ctx.finding(kind="statement_slowdown", severity=Severity.WARNING, title=title, entity=entity)
            for title in ("statement 2 slower", "statement 1 slower")
        ]


TWINS = Registry(probes={TwinsProbe.id: TwinsProbe, tp.WarnProbe.id: tp.WarnProbe}, broken={})


def test_duplicate_fingerprints_fail_the_probe_under_test() -> None:
    # the test suite runs with DIAG_STRICT_FINGERPRINTS=1 (tests/conftest.py)
    diagnosis = run({}, ("test.twins", "test.warn"), registry=TWINS)
    twins, warn = diagnosis.report.probes
    assert twins.status is Status.ERROR and twins.error_kind is ErrorKind.INTERNAL
    assert twins.error is not None and twins.error.startswith(
        "test.twins returned 2 findings with fingerprint "
    )
    assert twins.error.endswith(
        "(kind statement_slowdown, database orders, key ''): give each a distinct key"
    )
    assert warn.status is Status.WARNING


def test_duplicate_fingerprints_are_numbered_the_same_way_every_run_in_production(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(STRICT_VARIABLE)
    first, second = (run({}, ("test.twins",), registry=TWINS).report for _ in range(2))
    assert first.probes[0].status is Status.WARNING
    keys = {f.title: f.key for f in first.findings}
    assert keys == {"statement 1 slower": "", "statement 2 slower": "#2"}
    assert len({f.fingerprint for f in first.findings}) == 2
    assert [f.fingerprint for f in first.findings] == [f.fingerprint for f in second.findings]


def test_client_libraries_are_imported_once_before_the_probe_threads_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a library whose import takes a while: imported from two probe threads at once, one of
    # them could see it half-initialised (issue 12: requests.utils, 'requests' has no Session)
    (tmp_path / "slow_client_lib.py").write_text(
        "import threading, time\nIMPORTED_IN = threading.current_thread().name\ntime.sleep(0.3)\nREADY = True\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "slow_client_lib", raising=False)
    section = BackendSection(
        key="slow", model=Any, setup_hint="slow: {}", client_modules=("slow_client_lib",)
    )
    seen: list[bool] = []

    class UsesSlowLib(tp.SleepProbe):
        backend_section = section

        def run(self, ctx: ProbeContext) -> list[Finding]:
            import slow_client_lib  # type: ignore[import-not-found]

            seen.append(slow_client_lib.READY)
            return []

    plans = [
        ProbePlan(
            probe_id=f"test.slow{i}",
            checklist_item=None,
            probe_class=UsesSlowLib,
            options=ProbeOptions(),
            backend={},
        )
        for i in range(4)
    ]
    run_plans(plans, at=datetime.now(UTC), window=timedelta(hours=1), timeout=10)

    assert seen == [True] * 4
    assert threading.current_thread().name == sys.modules["slow_client_lib"].IMPORTED_IN


def test_run_resources_open_once_share_errors_and_close_everything() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from diagnostics.contract import RunResources
    from diagnostics.errors import ProbeError, ProbeTimeout

    resources = RunResources()
    opened: list[str] = []
    closed: list[str] = []

    def open_slowly(name: str) -> str:
        opened.append(name)
        time.sleep(0.1)
        return name

    def refuse() -> str:
        opened.append("refused")
        raise ProbeError("connection refused", kind=ErrorKind.CONNECT)

    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda _: resources.get("a", lambda: open_slowly("a"), closed.append), range(8)))
    assert got == ["a"] * 8 and opened == ["a"]
    for _ in range(3):  # one attempt per run: the others get the same error, no retry
        with pytest.raises(ProbeError, match="connection refused"):
            resources.get("b", refuse, closed.append)
    assert opened == ["a", "refused"]

    resources.close()
    assert closed == ["a"]
    with pytest.raises(ProbeTimeout):
        resources.get("c", lambda: "c", closed.append)


class InterruptingProgress:
    """A progress display during which Ctrl-C lands: the user presses it just as the line of
    ``test.warn`` is being written."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def started(self, probe_id: str) -> None:
        pass

    def finished(self, outcome: ProbeOutcome) -> None:
        if outcome.probe == "test.warn":
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # the signal is handled here, in the middle of writing the line
        self.lines.append(f"{outcome.probe} {outcome.status.value}")


def test_ctrl_c_stops_the_run_between_steps_and_keeps_what_finished() -> None:
    progress = InterruptingProgress()
    config = {"probes": {"test.hang": {"timeout": "30s"}}}
    began = time.monotonic()
    diagnosis = diagnose(
        probes=("test.hang", "test.warn"),
        config=config,
        env={},
        registry=REGISTRY,
        timeout=60,
        listener=progress,
    )
    assert time.monotonic() - began < 5
    assert diagnosis.interrupted
    # the line being written when Ctrl-C came is whole, and the hung probe's line follows it
    assert progress.lines == ["test.warn warning", "test.hang error"]
    outcomes = {o.probe: (o.status, o.error_kind) for o in diagnosis.report.probes}
    assert outcomes == {
        "test.hang": (Status.ERROR, ErrorKind.INTERRUPTED),
        "test.warn": (Status.WARNING, None),
    }
    assert [f.probe for f in diagnosis.report.findings] == ["test.warn"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Ctrl-C is Python's again
