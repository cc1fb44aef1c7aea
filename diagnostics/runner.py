"""Running the planned probes at once, each within its own timeout and the run's deadline.

Every probe runs in its own daemon thread; the main thread schedules at most ``concurrency``
at a time and waits on a queue of results. A probe that raises becomes an ``error`` outcome,
one that overstays its timeout a ``timeout`` outcome; its thread is abandoned (daemon threads
never keep the process alive) and its slot is given to the next probe. When every plan has its
outcome the runner closes the run's resources (:class:`RunResources`): connections and sessions
a hung probe is blocked on are shut, so its thread ends instead of outliving the run.

Ctrl-C while probes run stops the run between two steps of the main thread, never in the
middle of one (a progress line being written, a result being judged): the probes still running
and those not started are ``interrupted`` and the report of what finished is still made. A
second Ctrl-C interrupts at once.
"""

from __future__ import annotations

import importlib
import logging
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from diagnostics.contract import ProbeContext, RunResources
from diagnostics.errors import (
    DuplicateFingerprints,
    NothingToJudge,
    ProbeError,
    ProbeSkipped,
    ProbeTimeout,
)
from diagnostics.fingerprints import distinct_fingerprints, strict_by_default
from diagnostics.model import (
    ChecklistItem,
    ErrorKind,
    Evidence,
    Finding,
    ProbeOutcome,
    Status,
)
from diagnostics.plan import ProbePlan
from diagnostics.redaction import Redactor

logger = logging.getLogger("diag.runner")
INTERRUPT_POLL_SECONDS = 0.2
"""How often the main thread looks whether Ctrl-C asked the run to stop."""


class ProgressListener(Protocol):
    """Told when each probe starts and ends (the live progress display implements it)."""

    def started(self, probe_id: str) -> None: ...

    def finished(self, outcome: ProbeOutcome) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class RunResult:
    """What a run produced: one outcome per plan, the findings, and what was left running."""

    outcomes: tuple[ProbeOutcome, ...]
    findings: tuple[Finding, ...]
    abandoned_threads: int
    """Probe threads still running (hung) when the run ended."""
    interrupted: bool = False


@dataclass(frozen=True, slots=True)
class _Done:
    probe_id: str
    findings: list[Finding] | None
    error: BaseException | None
    finished_at: float


def run_plans(
    plans: Sequence[ProbePlan],
    *,
    at: datetime,
    window: timedelta,
    timeout: float,
    concurrency: int = 16,
    redactor: Redactor | None = None,
    listener: ProgressListener | None = None,
    clock: Callable[[], float] = time.monotonic,
    strict_fingerprints: bool | None = None,
) -> RunResult:
    """Run every runnable plan in parallel; every plan yields exactly one outcome.

    A probe returning two findings with one fingerprint fails when ``strict_fingerprints``
    (default: ``$DIAG_STRICT_FINGERPRINTS``), else its duplicates are numbered (see
    :mod:`diagnostics.fingerprints`).
    """
    redact = redactor or Redactor()
    strict = strict_by_default() if strict_fingerprints is None else strict_fingerprints
    run_deadline = clock() + timeout
    outcomes: dict[str, ProbeOutcome] = {}
    findings: dict[str, list[Finding]] = {}
    for plan in plans:
        if not plan.runnable:
            outcomes[plan.probe_id] = _not_run_outcome(plan, redact)
            if listener:
                listener.finished(outcomes[plan.probe_id])
    pending = [p for p in plans if p.runnable]
    import_client_modules(pending)
    running: dict[str, tuple[ProbePlan, float, float]] = {}  # id -> (plan, started, deadline)
    results: queue.Queue[_Done] = queue.Queue()
    interrupted = False

    def finish(plan: ProbePlan, outcome: ProbeOutcome) -> None:
        outcomes[plan.probe_id] = outcome
        if listener:
            listener.finished(outcome)

    threads: list[threading.Thread] = []
    resources = RunResources()
    stop = threading.Event()
    restore_ctrl_c = _ctrl_c_sets(stop)
    try:
        while pending or running:
            if stop.is_set():
                raise KeyboardInterrupt
            while pending and len(running) < max(1, concurrency):
                plan = pending.pop(0)
                started = clock()
                if started >= run_deadline:
                    # queued behind slower probes until the run's deadline: never started
                    finish(plan, _timeout_outcome(plan, started, started, run_deadline))
                    continue
                deadline = min(started + plan.timeout.total_seconds(), run_deadline)
                running[plan.probe_id] = (plan, started, deadline)
                if listener:
                    listener.started(plan.probe_id)
                threads.append(_start_thread(plan, at, window, deadline, resources, results, clock))
            if not running:
                continue
            next_deadline = min(d for _, _, d in running.values())
            try:
                done = results.get(timeout=max(0.0, min(next_deadline - clock(), INTERRUPT_POLL_SECONDS)))
            except queue.Empty:
                now = clock()
                for probe_id, (plan, started, deadline) in list(running.items()):
                    if now >= deadline:
                        del running[probe_id]
                        finish(plan, _timeout_outcome(plan, started, now, run_deadline))
                continue
            if done.probe_id not in running:
                continue  # it already timed out; its late answer is discarded
            plan, started, _ = running.pop(done.probe_id)
            outcome, probe_findings = _judge(plan, done, started, redact, strict=strict)
            findings[plan.probe_id] = probe_findings
            finish(plan, outcome)
    except KeyboardInterrupt:
        interrupted = True
        now = clock()
        for plan, started, _ in running.values():
            finish(plan, _interrupted_outcome(plan, now - started))
        for plan in pending:
            finish(plan, _interrupted_outcome(plan, 0.0))
        running.clear()
    finally:
        restore_ctrl_c()
        resources.close()

    ordered = tuple(outcomes[p.probe_id] for p in plans)
    all_findings = tuple(f for p in plans for f in findings.get(p.probe_id, []))
    alive = sum(1 for t in threads if t.is_alive())
    return RunResult(
        outcomes=ordered, findings=all_findings, abandoned_threads=alive, interrupted=interrupted
    )


def _ctrl_c_sets(stop: threading.Event) -> Callable[[], None]:
    """Make the first Ctrl-C set ``stop`` instead of raising wherever the main thread is; the
    next one raises again. Returns what puts the previous handler back. Only in the main thread
    (where Python runs signal handlers) and only over Python's own handler: an embedding
    program's handler is left alone."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.getsignal(signal.SIGINT)
    if previous is not signal.default_int_handler:
        return lambda: None

    def asked_to_stop(signum: int, frame: object) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def restore() -> None:
        signal.signal(signal.SIGINT, previous)

    signal.signal(signal.SIGINT, asked_to_stop)
    return restore


def import_client_modules(plans: Sequence[ProbePlan]) -> None:
    """Import the client libraries the plans' backend sections declare, in this thread, once.

    Lazy imports keep ``diag --help`` fast; done here, before any probe thread starts, no
    thread can see a library another one is still importing. A library that fails to import
    is left to the probe, whose outcome then says so.
    """
    for plan in plans:
        section = plan.probe_class.backend_section if plan.probe_class is not None else None
        for module in section.client_modules if section is not None else ():
            if module not in sys.modules:
                try:
                    importlib.import_module(module)
                except Exception:
                    logger.debug("importing %s failed", module, exc_info=True)


def _start_thread(
    plan: ProbePlan,
    at: datetime,
    window: timedelta,
    deadline: float,
    resources: RunResources,
    results: queue.Queue[_Done],
    clock: Callable[[], float],
) -> threading.Thread:
    assert plan.probe_class is not None and plan.options is not None
    context = ProbeContext(
        probe_id=plan.probe_id,
        at=at,
        window=window,
        options=plan.options,
        backend=plan.backend,
        deadline=deadline,
        logger=logging.getLogger(f"diag.probe.{plan.probe_id}"),
        resources=resources,
    )
    probe_class = plan.probe_class

    def work() -> None:
        try:
            produced = list(probe_class().run(context))
            results.put(_Done(plan.probe_id, produced, None, clock()))
        except BaseException as exc:  # reported as the probe's outcome, never re-raised
            results.put(_Done(plan.probe_id, None, exc, clock()))

    thread = threading.Thread(target=work, name=f"diag-probe:{plan.probe_id}", daemon=True)
    thread.start()
    return thread


def _judge(
    plan: ProbePlan, done: _Done, started: float, redact: Redactor, *, strict: bool
) -> tuple[ProbeOutcome, list[Finding]]:
    duration = done.finished_at - started
    item = _item(plan)
    if done.error is None:
        try:
            done = replace(done, findings=_checked_findings(plan, done.findings or [], strict=strict))
        except DuplicateFingerprints as exc:
            done = replace(done, findings=None, error=exc)
    if isinstance(done.error, ProbeSkipped):
        skipped = ProbeOutcome(
            probe=plan.probe_id,
            checklist_item=item,
            status=Status.NOT_CHECKED if isinstance(done.error, NothingToJudge) else Status.SKIPPED,
            duration_s=duration,
            error=redact(str(done.error)),
            hint=redact(done.error.hint) if done.error.hint else None,
        )
        return skipped, []
    if done.error is not None:
        status, kind, message = _describe_error(done.error)
        if kind is ErrorKind.INTERNAL:
            logger.debug("probe %s crashed", plan.probe_id, exc_info=done.error)
        return (
            ProbeOutcome(
                probe=plan.probe_id,
                checklist_item=item,
                status=status,
                duration_s=duration,
                error=redact(message),
                error_kind=kind,
            ),
            [],
        )
    produced = done.findings or []
    wrong = [f for f in produced if not isinstance(f, Finding) or f.probe != plan.probe_id]
    if wrong:
        return (
            ProbeOutcome(
                probe=plan.probe_id,
                checklist_item=item,
                status=Status.ERROR,
                duration_s=duration,
                error=f"returned {wrong[0]!r:.80}, expected a Finding of probe {plan.probe_id}",
                error_kind=ErrorKind.INTERNAL,
            ),
            [],
        )
    clean = [redact_finding(f, redact) for f in produced]
    worst = max((f.severity for f in clean), default=None)
    return (
        ProbeOutcome(
            probe=plan.probe_id,
            checklist_item=item,
            status=Status.from_worst(worst),
            duration_s=duration,
            finding_count=len(clean),
        ),
        clean,
    )


def _checked_findings(plan: ProbePlan, produced: list[Finding], *, strict: bool) -> list[Finding]:
    if any(not isinstance(f, Finding) or f.probe != plan.probe_id for f in produced):
        return produced  # reported as a contract error below
    return distinct_fingerprints(plan.probe_id, produced, strict=strict)


def _describe_error(error: BaseException) -> tuple[Status, ErrorKind, str]:
    if isinstance(error, ProbeTimeout):
        return Status.TIMEOUT, ErrorKind.TIMEOUT, str(error)
    if isinstance(error, ProbeError):
        return Status.ERROR, error.kind, str(error)
    if isinstance(error, TimeoutError):
        return Status.TIMEOUT, ErrorKind.TIMEOUT, str(error) or "timed out"
    return Status.ERROR, ErrorKind.INTERNAL, f"{type(error).__name__}: {error}"


def _item(plan: ProbePlan) -> ChecklistItem:
    return plan.checklist_item or ChecklistItem.SEVERITY


def _not_run_outcome(plan: ProbePlan, redact: Redactor) -> ProbeOutcome:
    if plan.config_error is not None:
        return ProbeOutcome(
            probe=plan.probe_id,
            checklist_item=_item(plan),
            status=Status.ERROR,
            duration_s=0.0,
            error=redact(plan.config_error),
            error_kind=ErrorKind.CONFIG,
        )
    if plan.broken is not None:
        return ProbeOutcome(
            probe=plan.probe_id,
            checklist_item=_item(plan),
            status=Status.ERROR,
            duration_s=0.0,
            error=redact(plan.broken.message),
            error_kind=ErrorKind.PLUGIN,
        )
    return ProbeOutcome(
        probe=plan.probe_id,
        checklist_item=_item(plan),
        status=Status.SKIPPED,
        duration_s=0.0,
        error=plan.skip_reason,
        hint=plan.setup_hint,
    )


def _timeout_outcome(plan: ProbePlan, started: float, now: float, run_deadline: float) -> ProbeOutcome:
    limit = plan.timeout.total_seconds()
    if now == started:
        reason = "not started: the run's overall deadline (--timeout) passed while it waited its turn"
    elif now - started >= limit - 0.001:
        reason = f"no answer within its {limit:g}s timeout"
    else:
        reason = "no answer before the run's overall deadline (--timeout)"
    return ProbeOutcome(
        probe=plan.probe_id,
        checklist_item=_item(plan),
        status=Status.TIMEOUT,
        duration_s=now - started,
        error=reason,
        error_kind=ErrorKind.TIMEOUT,
    )


def _interrupted_outcome(plan: ProbePlan, duration: float) -> ProbeOutcome:
    return ProbeOutcome(
        probe=plan.probe_id,
        checklist_item=_item(plan),
        status=Status.ERROR,
        duration_s=duration,
        error="interrupted before it finished",
        error_kind=ErrorKind.INTERRUPTED,
    )


def redact_finding(finding: Finding, redact: Redactor) -> Finding:
    """The finding with every text field passed through ``redact``."""
    evidence = finding.evidence
    return replace(
        finding,
        entity=replace(
            finding.entity,
            name=redact(finding.entity.name),
            attributes={redact(k): redact(v) for k, v in finding.entity.attributes.items()},
        ),
        title=redact(finding.title),
        summary=redact(finding.summary),
        next_steps=tuple(redact(s) for s in finding.next_steps),
        evidence=Evidence(
            values=tuple(replace(m, value=_redact_json(m.value, redact)) for m in evidence.values),
            queries=tuple(redact(q) for q in evidence.queries),
            details=_redact_json(dict(evidence.details), redact),
        ),
    )


def _redact_json(value: Any, redact: Redactor) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(str(k)): _redact_json(v, redact) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_json(v, redact) for v in value]
    return value
