"""diag serve's bookkeeping: which probe is due, one run per probe at a time, the newest results."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import timedelta

from diagnostics.model import Report, Severity, Status
from diagnostics.serve.exposition import probe_families, run_families
from diagnostics.serve.schedule import ProbeRuns, Schedule
from diagnostics.serve.state import LatestResults
from tests.diagnostics.serve.helpers import AT, finding, report


def test_every_probe_is_due_at_start_then_on_its_own_interval() -> None:
    schedule = Schedule(
        ["db.locks", "deps.http"], timedelta(minutes=1), {"db.locks": timedelta(seconds=15)}, start=100.0
    )
    assert schedule.due(100.0) == ["db.locks", "deps.http"]
    schedule.started(["db.locks", "deps.http"], 100.0)
    assert schedule.due(110.0) == []
    assert schedule.due(115.0) == ["db.locks"]
    schedule.started(["db.locks"], 115.0)
    assert schedule.next_due() == 130.0
    assert schedule.due(160.0) == ["db.locks", "deps.http"]


def test_a_probe_already_running_is_joined_not_started_again() -> None:
    started: list[tuple[str, ...]] = []
    release = threading.Event()

    def run_probes(ids: Sequence[str]) -> Report:
        started.append(tuple(ids))
        release.wait(5)
        return report(dict.fromkeys(ids, Status.OK))

    runs = ProbeRuns(run_probes, LatestResults())
    first = threading.Thread(target=runs.run, args=(["db.locks"],))
    first.start()
    while runs.running() != ["db.locks"]:
        time.sleep(0.01)
    joined: dict[str, object] = {}
    second = threading.Thread(target=lambda: joined.update(runs.run(["db.locks", "deps.http"], wait=5)))
    second.start()
    time.sleep(0.2)
    release.set()
    first.join(5)
    second.join(5)
    # deps.http was started by the second call; db.locks ran once, the second call joined it
    assert sorted(started) == [("db.locks",), ("deps.http",)]
    assert set(joined) == {"db.locks", "deps.http"}
    assert all(result is not None for result in joined.values())
    assert runs.running() == []


def test_latest_results_keep_the_newest_of_each_probe_and_drop_skipped() -> None:
    latest = LatestResults()
    latest.record(
        report(
            {"db.locks": Status.CRITICAL, "deps.http": Status.OK, "db.queries": Status.SKIPPED},
            (finding("db.locks", Severity.CRITICAL),),
        ),
        finished_at=AT,
    )
    latest.record(report({"db.locks": Status.OK}, at=AT + timedelta(minutes=1)), finished_at=AT)
    joined = latest.report()
    assert joined is not None
    assert [o.probe for o in joined.probes] == ["db.locks", "deps.http"]
    assert joined.findings == ()  # db.locks' newest run found nothing


def test_series_say_which_probe_could_check_and_count_findings_by_severity() -> None:
    latest = LatestResults()
    latest.record(
        report(
            {"db.locks": Status.CRITICAL, "deps.http": Status.ERROR},
            (finding("db.locks", Severity.CRITICAL), finding("db.locks", Severity.WARNING, name="users")),
        ),
        finished_at=AT,
    )
    families = {family.name: family for family in probe_families(latest.results())}
    up = {s.labels["probe"]: s.value for s in families["diag_probe_up"].samples}
    assert up == {"db.locks": 1.0, "deps.http": 0.0}
    counts = {(s.labels["probe"], s.labels["severity"]): s.value for s in families["diag_findings"].samples}
    assert counts[("db.locks", "critical")] == 1.0
    assert counts[("db.locks", "warning")] == 1.0
    assert counts[("deps.http", "critical")] == 0.0  # zero kept, so alert rules see the series
    each = [s.labels for s in families["diag_finding"].samples]
    assert {labels["entity"] for labels in each} == {"database orders", "database users"}
    assert all(len(labels["fingerprint"]) == 16 for labels in each)
    assert run_families(None) == []
    [timestamp, duration] = run_families(latest.last_run)
    assert timestamp.samples[0].value == AT.timestamp()
    assert duration.samples[0].value == 0.25
