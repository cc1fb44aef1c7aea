"""The summary: timeline, likely cause by explicit rules, severity, comparison of runs."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from diagnostics.model import (
    ChecklistItem,
    Entity,
    Evidence,
    Finding,
    Measurement,
    ProbeOutcome,
    Report,
    Severity,
    Status,
)
from diagnostics.summary.build import NO_CAUSE, summarize
from diagnostics.summary.compare import compare_reports
from diagnostics.summary.settings import ServiceLinks

AT = datetime(2026, 11, 27, 10, 30, tzinfo=UTC)
ITEMS = {
    "deploys.rollouts": ChecklistItem.DEPLOYMENTS,
    "workloads.pods": ChecklistItem.RESOURCES,
    "workloads.nodes": ChecklistItem.RESOURCES,
    "metrics.anomalies": ChecklistItem.METRICS,
    "db.locks": ChecklistItem.DATABASE,
    "db.connections": ChecklistItem.DATABASE,
    "deps.http": ChecklistItem.DEPENDENCIES,
    "db.queries": ChecklistItem.DATABASE,
    "resources.host": ChecklistItem.RESOURCES,
    "resources.nodes": ChecklistItem.RESOURCES,
}


def make(
    probe: str,
    kind: str,
    entity: Entity,
    minutes_ago: float | None,
    severity: Severity = Severity.CRITICAL,
    title: str | None = None,
    details: dict[str, object] | None = None,
    values: tuple[Measurement, ...] = (),
) -> Finding:
    return Finding(
        probe=probe,
        kind=kind,
        severity=severity,
        title=title or f"{kind} on {entity.name}",
        summary="",
        entity=entity,
        evidence=Evidence(details=details or {}, values=values),
        onset=AT - timedelta(minutes=minutes_ago) if minutes_ago is not None else None,
    )


def report_of(*findings: Finding) -> Report:
    probes = tuple(
        ProbeOutcome(probe=p, checklist_item=i, status=Status.OK, duration_s=0.1) for p, i in ITEMS.items()
    )
    return Report(
        at=AT, window=timedelta(hours=1), started_at=AT, duration_s=1.0, probes=probes, findings=findings
    )


CHECKOUT_WORKLOAD = Entity(kind="workload", name="shop/checkout", attributes={"namespace": "shop"})
CHECKOUT = Entity(kind="service", name="checkout", attributes={"job": "checkout"})
ORDERS_DB = Entity(kind="database", name="orders")
PAYMENTS = Entity(kind="dependency", name="payments-api")

rollout = make(
    "deploys.rollouts",
    "rollout",
    CHECKOUT_WORKLOAD,
    12,
    Severity.WARNING,
    "Rollout of shop/checkout v1.4.2 -> v1.5.0",
)
errors = make(
    "metrics.anomalies", "metric_anomaly", CHECKOUT, 9, title="checkout error ratio 12x normal",
    details={"signal": "error_ratio", "current": 0.3, "normal": 0.02},
)  # fmt: skip
blocker = make(
    "db.locks", "lock_contention", ORDERS_DB, 20, title="3 sessions blocked for 41 s behind pid 8123"
)
latency = make("metrics.anomalies", "metric_anomaly", CHECKOUT, 18, title="checkout p99 latency 5x normal")
payments_down = make("deps.http", "http_status", PAYMENTS, 0, title="payments-api: 503 on 3/3 attempts")
MAPPING = {"checkout": ServiceLinks(databases=("orders",), dependencies=("payments-api",), user_facing=True)}


def test_a_rollout_before_an_error_spike_of_the_same_service_is_the_top_suspect() -> None:
    summary = summarize(report_of(errors, rollout))
    top = summary.suspects[0]
    assert top.rule == "rollout_before_symptom"
    assert top.cause == rollout.fingerprint
    assert top.supports == (errors.fingerprint,)
    assert top.reasoning == (
        "The rollout of shop/checkout came 3m before 'checkout error ratio 12x normal' on the same service (checkout)."
    )


def test_a_root_blocker_before_a_latency_rise_of_a_service_using_the_database() -> None:
    summary = summarize(report_of(latency, blocker), services=MAPPING)
    top = summary.suspects[0]
    assert top.rule == "database_before_symptom" and top.cause == blocker.fingerprint
    assert "began 2m before 'checkout p99 latency 5x normal' of checkout, which uses it" in top.reasoning


def test_without_the_mapping_a_database_is_not_linked_to_a_service() -> None:
    summary = summarize(report_of(latency, blocker))
    assert summary.suspects == ()
    assert summary.no_cause_reason == NO_CAUSE


def test_a_failing_dependency_explains_errors_of_its_caller_even_when_observed_later() -> None:
    summary = summarize(report_of(errors, payments_down), services=MAPPING)
    top = summary.suspects[0]
    assert top.rule == "dependency_before_callers" and top.cause == payments_down.fingerprint


def test_a_node_under_pressure_explains_the_crashing_pods_it_hosts() -> None:
    node = make(
        "workloads.nodes",
        "node_pressure",
        Entity(kind="node", name="node-7"),
        30,
        title="node-7 MemoryPressure",
    )
    crash = make(
        "workloads.pods", "crash_loop",
        Entity(kind="workload", name="shop/cart", attributes={"node": "node-7"}), 25, title="cart crash-looping",
    )  # fmt: skip
    elsewhere = make(
        "workloads.pods",
        "crash_loop",
        Entity(kind="workload", name="shop/search", attributes={"node": "node-2"}),
        25,
    )
    grouped = Finding(
        probe="workloads.pods", kind="crash_loop", severity=Severity.CRITICAL, title="api crash-looping",
        summary="", entity=Entity(kind="workload", name="shop/api"), onset=AT - timedelta(minutes=20),
        evidence=Evidence(details={"pods": [{"pod": "api-1", "node": "node-7"}, {"pod": "api-2", "node": "node-3"}]}),
    )  # fmt: skip
    summary = summarize(report_of(node, crash, elsewhere, grouped))
    [suspect] = summary.suspects
    assert suspect.rule == "node_under_workloads"
    assert suspect.supports == (crash.fingerprint, grouped.fingerprint)


def test_two_unrelated_findings_yield_no_causal_claim() -> None:
    other_rollout = make(
        "deploys.rollouts", "rollout", Entity(kind="workload", name="shop/search"), 12, Severity.WARNING
    )
    summary = summarize(report_of(other_rollout, errors))
    assert summary.suspects == ()
    assert summary.no_cause_reason == NO_CAUSE


def test_a_cause_long_before_its_effect_or_after_it_is_not_linked() -> None:
    old_rollout = make("deploys.rollouts", "rollout", CHECKOUT_WORKLOAD, 55, Severity.WARNING)
    later_rollout = make("deploys.rollouts", "rollout", CHECKOUT_WORKLOAD, 2, Severity.WARNING)
    assert summarize(report_of(old_rollout, errors)).suspects == ()
    assert summarize(report_of(later_rollout, errors)).suspects == ()


def test_the_timeline_orders_every_finding_with_a_time() -> None:
    summary = summarize(report_of(errors, rollout, blocker, make("db.locks", "x", ORDERS_DB, None)))
    assert [e.title for e in summary.timeline] == [blocker.title, rollout.title, errors.title]


def test_severity_levels_with_reasons() -> None:
    sev1 = summarize(report_of(errors), services=MAPPING).severity
    assert sev1.label == "SEV1"
    assert sev1.reasons[0] == "user-facing checkout: error ratio 30.0% (SEV1 from 20%)"
    assert sev1.affected_services == ("checkout",)
    sev2 = summarize(report_of(blocker)).severity
    assert sev2.label == "SEV2" and sev2.reasons == (
        "critical: 3 sessions blocked for 41 s behind pid 8123 [database orders]",
    )
    assert summarize(report_of(rollout)).severity.label == "SEV3"
    assert summarize(report_of()).severity.label == "SEV4"
    disk = make("resources.host", "disk_space", Entity(kind="filesystem", name="db-1:/var/lib/postgresql"), 5)
    data = summarize(report_of(disk)).severity
    assert data.label == "SEV1" and data.reasons[0].startswith(
        "data at risk: disk_space on db-1:/var/lib/postgresql"
    )


def test_traffic_drop_of_a_user_facing_service_is_sev1() -> None:
    drop = make("metrics.anomalies", "metric_anomaly", CHECKOUT, 5, title="checkout request rate dropped",
                details={"signal": "traffic", "current": 10.0, "normal": 200.0})  # fmt: skip
    assessment = summarize(report_of(drop), services=MAPPING).severity
    assert assessment.label == "SEV1" and "traffic down 95% from normal" in assessment.reasons[0]


def test_comparison_by_fingerprint() -> None:
    before = report_of(errors, rollout)
    fixed_errors = make(
        "metrics.anomalies", "metric_anomaly", CHECKOUT, 9, title="different title, same problem"
    )
    after = report_of(fixed_errors, blocker)
    comparison = compare_reports(before, after)
    assert comparison.new == (blocker.fingerprint,)
    assert comparison.unchanged == (errors.fingerprint,)
    assert [f.title for f in comparison.resolved] == [rollout.title]


def test_measurements_named_current_and_normal_are_understood() -> None:
    finding = Finding(
        probe="metrics.anomalies", kind="metric_anomaly", severity=Severity.CRITICAL, title="checkout error ratio up",
        summary="", entity=CHECKOUT,
        evidence=Evidence(values=(Measurement(name="current", value=0.07, unit="ratio"),)), onset=AT,
    )  # fmt: skip
    assert (
        summarize(report_of(finding), services=MAPPING)
        .severity.reasons[0]
        .startswith("user-facing checkout: error ratio 7.0% (SEV2")
    )


def test_idle_in_transaction_sessions_explain_exhausted_connections_on_the_same_database() -> None:
    idle = make(
        "db.connections", "idle_in_transaction", ORDERS_DB, 15, title="27 sessions idle in transaction"
    )
    full = make("db.connections", "connections_exhausted", ORDERS_DB, 3, title="connections exhausted")
    other = make("db.connections", "connections_exhausted", Entity(kind="database", name="billing"), 3)
    summary = summarize(report_of(idle, full, other))
    [suspect] = summary.suspects
    assert suspect.rule == "sessions_before_database_pressure"
    assert suspect.supports == (full.fingerprint,)
    assert suspect.reasoning.startswith("On database orders, 27 sessions idle in transaction 12m before")


# the machine of the issue: resources.host names it `vm`, resources.nodes `127.0.0.1` (its
# node_exporter at 127.0.0.1:9100, whose uname nodename is vm)
LOCAL_HOST = Entity(kind="host", name="vm", attributes={"aliases": "vm,localhost,127.0.0.1,::1,10.0.2.15"})
LOCAL_NODE = Entity(
    kind="host", name="127.0.0.1", attributes={"instance": "127.0.0.1:9100", "job": "node", "node": "vm"}
)
host_cpu = make(
    "resources.host", "cpu_saturation", LOCAL_HOST, 40, title="CPU saturated: load 9.1 on 2 cores (4.6 per core), 100 % busy"
)  # fmt: skip
node_cpu = make("resources.nodes", "cpu_saturation", LOCAL_NODE, 45, title="CPU 98 % busy on 127.0.0.1")
node_metric = make(
    "metrics.anomalies", "metric_anomaly", Entity(kind="metric", name="node_load1", attributes={"instance": "127.0.0.1:9100"}),
    35, Severity.WARNING, title="node_load1 4x normal",
)  # fmt: skip
pile_up = make(
    "db.locks", "lock_blocking", ORDERS_DB, 1.2, title="4 sessions waiting up to 1m11s behind pid 8123",
    values=(Measurement(name="waiting sessions", value=4, unit="count"),),
)  # fmt: skip


def test_a_lock_pile_up_leads_over_cpu_saturation_from_unrelated_processes() -> None:
    report = report_of(host_cpu, node_cpu, node_metric, pile_up)
    summary = summarize(report)
    first = summary.ranking[0]
    assert first.lead == pile_up.fingerprint
    assert (first.impact, first.reach) == ("blocked", 4)
    assert first.reason == "critical, blocking work now (waiting sessions: 4)"
    assert summary.ranking[-1].impact == "saturation"
    # the CPU explains the node's load anomaly, but the pile-up is what to act on first
    assert [s.rule for s in summary.suspects][:2] == ["highest_impact", "node_under_workloads"]
    assert summary.suspects[0].cause == pile_up.fingerprint
    assert summary.severity.reasons == (
        "critical: 4 sessions waiting up to 1m11s behind pid 8123 [database orders]",
    )
    from diagnostics.report.overview import headline

    shown = headline(replace(report, summary=summary))
    assert shown.startswith(
        "3 critical, 1 warning: 4 sessions waiting up to 1m11s behind pid 8123 [database orders]"
    )


def test_connection_exhaustion_leads_over_an_earlier_critical_cpu_saturation() -> None:
    exhausted = make(
        "db.connections", "connections_exhausted", ORDERS_DB, 0.5, title="97 of 97 usable connections used",
        values=(Measurement(name="connections used", value=97, unit="count"),),
    )  # fmt: skip
    summary = summarize(report_of(host_cpu, exhausted))
    assert summary.ranking[0].lead == exhausted.fingerprint
    assert summary.ranking[0].reason == "critical, blocking work now (connections used: 97)"
    assert "generic saturation; no finding shows users or data affected by it" in summary.ranking[1].reason


def test_one_machine_is_one_entity_under_its_hostname() -> None:
    summary = summarize(report_of(host_cpu, node_cpu))
    [machine] = summary.ranking
    assert machine.entity == "host vm"
    assert {machine.lead, *machine.members} == {host_cpu.fingerprint, node_cpu.fingerprint}


def test_a_loopback_instance_of_another_machine_stays_another_machine() -> None:
    remote = Entity(kind="host", name="127.0.0.1", attributes={"instance": "127.0.0.1:9100", "node": "db-1"})
    elsewhere = make("resources.nodes", "cpu_saturation", remote, 10, title="CPU 99 % busy on db-1")
    summary = summarize(report_of(host_cpu, elsewhere))
    assert sorted(p.entity for p in summary.ranking) == ["host db-1", "host vm"]


def test_severity_reasons_cite_the_critical_finding_not_a_warning_at_the_same_level() -> None:
    filling = make(
        "resources.host", "disk_filling", Entity(kind="filesystem", name="vm:/", attributes={"host": "vm", "mountpoint": "/"}),
        30, Severity.WARNING, title="Disk / 25.3 % full, full in 9h22m",
    )  # fmt: skip
    assessment = summarize(report_of(filling, pile_up)).severity
    assert assessment.label == "SEV2"
    assert assessment.reasons == (
        "critical: 4 sessions waiting up to 1m11s behind pid 8123 [database orders]",
    )
    alone = summarize(report_of(filling)).severity
    assert alone.label == "SEV2" and alone.reasons[0].startswith("data at risk: Disk / 25.3 % full")


def test_critical_saturation_alone_is_no_sev2() -> None:
    assessment = summarize(report_of(host_cpu)).severity
    assert assessment.label == "SEV3"
    assert assessment.reasons[0].startswith(
        "critical saturation, no user or data impact shown: CPU saturated"
    )


def test_a_warning_that_sets_sev3_is_cited_over_critical_saturation() -> None:
    # a dropped index on a machine whose CPU is busy from other work: both would make SEV3;
    # the slow statement explains the level, the busy CPU does not
    slow = make(
        "db.queries", "statement_slowdown", ORDERS_DB, 3, Severity.WARNING,
        title="Statement 63x its mean of 1ms: sequential scans of pgbench_accounts, no index on (aid)",
    )  # fmt: skip
    assessment = summarize(report_of(host_cpu, slow)).severity
    assert assessment.label == "SEV3"
    assert assessment.reasons == (f"warning: {slow.title} [database orders]",)


def test_statements_waiting_on_a_lock_are_grouped_under_the_root_blocker() -> None:
    waiting = make(
        "db.queries", "statement_lock_wait", ORDERS_DB, 1.2, Severity.WARNING,
        title="4 statements waiting on a lock for up to 1m11s behind pid 8123",
        details={"symptom_of": pile_up.fingerprint, "lock_root_pid": 8123},
    )  # fmt: skip
    long_running = make(
        "db.queries", "long_running_queries", ORDERS_DB, 1.3, Severity.WARNING,
        title="4 queries running longer than 30s, the longest 1m11s (pid 8124)",
        details={"symptom_of": pile_up.fingerprint},
    )  # fmt: skip
    summary = summarize(report_of(waiting, long_running, pile_up, host_cpu))
    first = summary.ranking[0]
    assert first.lead == pile_up.fingerprint
    assert set(first.members) == {waiting.fingerprint, long_running.fingerprint}
    # the waiting queries are symptoms: never the cause of their own lock tree
    [top] = summary.suspects
    assert (top.rule, top.cause) == ("symptom_of_cause", pile_up.fingerprint)
    assert set(top.supports) == {waiting.fingerprint, long_running.fingerprint}
    assert "is a symptom of it" in top.reasoning
    # a link to a finding absent from the report (db.locks not selected) is ignored
    alone = summarize(report_of(waiting))
    assert alone.ranking[0].lead == waiting.fingerprint and alone.suspects == ()


LOG_ITEMS = {**ITEMS, "logs.patterns": ChecklistItem.LOGS, "logs.errors": ChecklistItem.LOGS}


def log_report(*findings: Finding) -> Report:
    probes = tuple(
        ProbeOutcome(probe=p, checklist_item=i, status=Status.OK, duration_s=0.1)
        for p, i in LOG_ITEMS.items()
    )
    return Report(
        at=AT, window=timedelta(hours=1), started_at=AT, duration_s=1.0, probes=probes, findings=findings
    )


new_log_error = make(
    "logs.patterns", "log_new_pattern", Entity(kind="service", name="checkout"), 8, Severity.WARNING,
    title="checkout: new error 'could not connect to database orders at <IP>', 48 times since 10:22 UTC",
    details={"template": "could not connect to database orders at <IP>", "example": "could not connect to database orders at 10.0.4.7"},
)  # fmt: skip


def test_a_new_log_error_right_after_a_rollout_supports_the_rollout() -> None:
    summary = summarize(log_report(new_log_error, rollout))
    top = summary.suspects[0]
    assert top.rule == "rollout_before_symptom" and top.cause == rollout.fingerprint
    assert top.supports == (new_log_error.fingerprint,)


def test_a_new_log_error_naming_a_database_supports_the_database_cause() -> None:
    summary = summarize(log_report(new_log_error, blocker))  # no services mapping needed: the log names it
    top = summary.suspects[0]
    assert top.rule == "log_names_cause" and top.cause == blocker.fingerprint
    assert top.supports == (new_log_error.fingerprint,)
    assert top.reasoning.startswith(
        "Database orders showed '3 sessions blocked for 41 s behind pid 8123' 12m before"
    )


def test_a_log_error_naming_nothing_known_links_nothing() -> None:
    unrelated = make(
        "logs.patterns", "log_new_pattern", Entity(kind="service", name="search"), 8, Severity.WARNING,
        details={"template": "index shard <NUM> unavailable"},
    )  # fmt: skip
    assert summarize(log_report(unrelated, blocker)).suspects == ()


PAYMENTS_TRACES = Entity(
    kind="service", name="payments", attributes={"operation": "POST /charge", "entry_service": "frontend"}
)
trace_errors = make(
    "traces.errors",
    "trace_errors",
    PAYMENTS_TRACES,
    5,
    title="errors of frontend originate in payments POST /charge (via frontend -> checkout -> payments)",
)


def traces_report(*findings: Finding) -> Report:
    report = report_of(*findings)
    outcome = ProbeOutcome(
        probe="traces.errors", checklist_item=ChecklistItem.TRACES, status=Status.OK, duration_s=0.1
    )
    return Report(
        at=AT,
        window=report.window,
        started_at=AT,
        duration_s=1.0,
        probes=(*report.probes, outcome),
        findings=findings,
    )


def test_a_rollout_of_the_service_where_trace_errors_originate_is_the_top_suspect() -> None:
    payments_rollout = make(
        "deploys.rollouts", "rollout", Entity(kind="workload", name="shop/payments"), 10, Severity.WARNING,
        "Rollout of shop/payments v2.0.1 -> v2.1.0",
    )  # fmt: skip
    checkout_rollout = make(
        "deploys.rollouts", "rollout", CHECKOUT_WORKLOAD, 10, Severity.WARNING, "Rollout of shop/checkout"
    )
    summary = summarize(traces_report(trace_errors, payments_rollout, checkout_rollout))
    assert [s.cause for s in summary.suspects] == [payments_rollout.fingerprint]
    assert summary.suspects[0].rule == "rollout_before_symptom"
    assert "came 5m before 'errors of frontend originate in payments" in summary.suspects[0].reasoning


def test_crashing_pods_of_the_originating_service_explain_trace_errors() -> None:
    pods = make("workloads.pods", "crash_loop", Entity(kind="workload", name="shop/payments"), 7)
    summary = summarize(traces_report(trace_errors, pods))
    top = summary.suspects[0]
    assert top.rule == "pods_behind_trace_origin" and top.cause == pods.fingerprint
    assert top.supports == (trace_errors.fingerprint,)


def test_a_database_of_the_originating_service_explains_trace_errors() -> None:
    blocked = make("db.locks", "lock_contention", Entity(kind="database", name="ledger"), 8)
    services = {"payments": ServiceLinks(databases=("ledger",))}
    summary = summarize(traces_report(trace_errors, blocked), services=services)
    assert summary.suspects[0].rule == "database_before_symptom"
    assert summary.suspects[0].cause == blocked.fingerprint
