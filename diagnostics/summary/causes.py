"""Ranking candidate causes with explicit rules over time order and shared entities.

Each rule names a *cause* finding and the *effect* findings it explains. A cause must start
no later than its effect (``onset``), and no more than ``max_lag`` before it; findings without
an onset can be linked by entity only, with a lower score. The rules, best first:

=============================  ===================================================  =====
rule                           cause -> effects                                     score
=============================  ===================================================  =====
``rollout_before_symptom``     a rollout of a workload -> metric anomalies, alerts,  0.90
                               crashing pods of the same service
``database_before_symptom``    lock contention / exhausted connections / slow       0.85
                               queries on a database -> symptoms of a service that
                               uses it (``services.<s>.databases``)
``dependency_before_callers``  a failing dependency -> symptoms of the services     0.80
                               that call it (``services.<s>.dependencies``)
``pods_behind_trace_origin``   crashing or failing pods of a service -> errors or   0.78
                               latency that traces place in that service
``node_under_workloads``       a node or host under pressure -> crashing pods,       0.75
                               containers and services running on it
``sessions_before_database_    idle-in-transaction or long-running sessions ->      0.70
pressure``                     lock contention or exhausted connections on the
                               same database
=============================  ===================================================  =====

Trace findings (``traces.*``) are symptoms named at the service where errors originate or
time is spent, so a rollout, database, dependency or pods of *that* service explain them.

A cause explaining several effects ranks higher (+0.02 each, up to +0.08); a cause with an
exact time order ranks higher than one linked by entity alone (x0.8). When no rule links two
findings, no suspect is named.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from diagnostics.model import ChecklistItem, Finding, Severity
from diagnostics.summary.entities import EntityIndex
from diagnostics.summary.model import Suspect
from diagnostics.units import format_duration

SYMPTOM_ITEMS = frozenset({ChecklistItem.METRICS, ChecklistItem.TRACES})
WORKLOAD_SYMPTOM_KINDS = frozenset(
    {"crash_loop", "oom_killed", "restarts", "image_pull", "evicted", "container_oom", "container_error",
     "container_restarts", "cpu_throttling", "memory_limit", "pending"}
)  # fmt: skip
DATABASE_CAUSE_WORDS = (
    "lock",
    "block",
    "connection",
    "pool",
    "idle_in_transaction",
    "query",
    "queries",
    "statement",
)
SESSION_CAUSE_KINDS = frozenset({"idle_in_transaction", "long_running_queries"})
DATABASE_PRESSURE_WORDS = (
    "lock",
    "block",
    "connections_exhausted",
    "connection_saturation",
    "clients_waiting",
)
NODE_KINDS = frozenset({"node", "host"})


@dataclass(frozen=True, slots=True)
class Classified:
    """A finding with the checklist item of the probe that produced it."""

    finding: Finding
    item: ChecklistItem | None

    @property
    def is_symptom(self) -> bool:
        return self.item in SYMPTOM_ITEMS or self.finding.kind in WORKLOAD_SYMPTOM_KINDS


Keys = Callable[[EntityIndex, Finding], frozenset[str]]


@dataclass(frozen=True, slots=True)
class Rule:
    """A cause explains an effect when they share a key (a service, a database, a host...)."""

    name: str
    score: float
    is_cause: Callable[[Classified], bool]
    is_effect: Callable[[Classified], bool]
    cause_keys: Keys
    effect_keys: Keys
    sentence: Callable[[EntityIndex, Finding, Finding, str, timedelta | None], str]
    """One sentence from (index, cause, effect, shared key, lead time)."""


def _services(index: EntityIndex, finding: Finding) -> frozenset[str]:
    return index.services_of(finding)


def _own_name(kind: str) -> Keys:
    return lambda _index, f: frozenset({f.entity.name}) if f.entity.kind == kind else frozenset()


def _databases_used(index: EntityIndex, finding: Finding) -> frozenset[str]:
    return index.databases_used_by(finding)


def _dependencies_called(index: EntityIndex, finding: Finding) -> frozenset[str]:
    return index.dependencies_of(finding)


def _hosts(index: EntityIndex, finding: Finding) -> frozenset[str]:
    return index.hosts_of(finding)


def _lead(lag: timedelta | None) -> str:
    return f"{format_duration(lag)} before" if lag is not None else "alongside"


def _users_of(index: EntityIndex, effect: Finding, database: str) -> str:
    users = sorted(s for s in index.services_of(effect) if database in index.links(s).databases)
    return users[0] if users else "a service"


RULES: tuple[Rule, ...] = (
    Rule(
        name="rollout_before_symptom",
        score=0.90,
        is_cause=lambda c: c.item is ChecklistItem.DEPLOYMENTS,
        is_effect=lambda c: c.is_symptom,
        cause_keys=_services,
        effect_keys=_services,
        sentence=lambda index, cause, effect, via, lag: (
            f"The rollout of {cause.entity.name} came {_lead(lag)} '{effect.title}' on the same service ({via})."
        ),
    ),
    Rule(
        name="database_before_symptom",
        score=0.85,
        is_cause=lambda c: (
            c.item is ChecklistItem.DATABASE and any(w in c.finding.kind for w in DATABASE_CAUSE_WORDS)
        ),
        is_effect=lambda c: c.is_symptom,
        cause_keys=_own_name("database"),
        effect_keys=_databases_used,
        sentence=lambda index, cause, effect, via, lag: (
            f"'{cause.title}' on database {via} began {_lead(lag)} '{effect.title}' of {_users_of(index, effect, via)}, which uses it."
        ),
    ),
    Rule(
        name="dependency_before_callers",
        score=0.80,
        is_cause=lambda c: c.item is ChecklistItem.DEPENDENCIES,
        is_effect=lambda c: c.is_symptom,
        cause_keys=_own_name("dependency"),
        effect_keys=_dependencies_called,
        sentence=lambda index, cause, effect, via, lag: (
            f"Dependency {via} is failing ({cause.title}) {_lead(lag)} '{effect.title}' of a service that calls it."
        ),
    ),
    Rule(
        name="sessions_before_database_pressure",
        score=0.70,
        is_cause=lambda c: c.finding.entity.kind == "database" and c.finding.kind in SESSION_CAUSE_KINDS,
        is_effect=lambda c: (
            c.finding.entity.kind == "database"
            and c.finding.kind not in SESSION_CAUSE_KINDS
            and any(w in c.finding.kind for w in DATABASE_PRESSURE_WORDS)
        ),
        cause_keys=_own_name("database"),
        effect_keys=_own_name("database"),
        sentence=lambda index, cause, effect, via, lag: (
            f"On database {via}, {cause.title} {_lead(lag)} '{effect.title}': such sessions hold locks and connections."
        ),
    ),
    Rule(
        name="pods_behind_trace_origin",
        score=0.78,
        is_cause=lambda c: c.item is not ChecklistItem.TRACES and c.finding.kind in WORKLOAD_SYMPTOM_KINDS,
        is_effect=lambda c: c.item is ChecklistItem.TRACES,
        cause_keys=_services,
        effect_keys=_services,
        sentence=lambda index, cause, effect, via, lag: (
            f"Pods of {via} show '{cause.title}' {_lead(lag)} '{effect.title}', which traces place in {via}."
        ),
    ),
    Rule(
        name="node_under_workloads",
        score=0.75,
        is_cause=lambda c: c.item is ChecklistItem.RESOURCES and c.finding.entity.kind in NODE_KINDS,
        is_effect=lambda c: c.is_symptom and c.finding.entity.kind not in NODE_KINDS,
        cause_keys=_hosts,
        effect_keys=_hosts,
        sentence=lambda index, cause, effect, via, lag: (
            f"Node {via} is under pressure ({cause.title}) {_lead(lag)} '{effect.title}' running on it."
        ),
    ),
)

CO_OCCURRENCE_TOLERANCE = timedelta(minutes=2)
"""How far after its effect a cause may be first seen and still count as before it."""
LIVE_CAUSE_RULES = frozenset(
    {"dependency_before_callers", "database_before_symptom", "sessions_before_database_pressure"}
)
"""Rules whose causes are observed live (at run time), possibly after the symptom began."""


def _time_relation(
    cause: Finding, effect: Finding, max_lag: timedelta, rule: str
) -> tuple[bool, timedelta | None]:
    """(acceptable, lag): the cause must not start after the effect, nor long before it."""
    if cause.onset is None or effect.onset is None:
        return True, None
    lag = effect.onset - cause.onset
    if lag < -CO_OCCURRENCE_TOLERANCE:
        return rule in LIVE_CAUSE_RULES, None
    if lag > max_lag:
        return False, lag
    return True, lag if lag >= timedelta(0) else None


def _suspect_for(
    rule: Rule, index: EntityIndex, cause: Finding, effects: list[tuple[Finding, str, timedelta | None]]
) -> Suspect:
    timed = [e for e in effects if e[2] is not None]
    first_effect, via, lag = min(timed or effects, key=lambda e: e[2] or timedelta(0))
    score = rule.score * (1.0 if timed else 0.8) + min(0.08, 0.02 * (len(effects) - 1))
    return Suspect(
        rule=rule.name,
        cause=cause.fingerprint,
        title=cause.title,
        reasoning=rule.sentence(index, cause, first_effect, via, lag),
        score=round(score, 3),
        supports=tuple(dict.fromkeys(e[0].fingerprint for e in effects)),
    )


def rank_causes(
    findings: Sequence[Finding],
    items: Mapping[str, ChecklistItem],
    index: EntityIndex,
    *,
    max_lag: timedelta,
    limit: int = 3,
) -> tuple[Suspect, ...]:
    """The top suspects, best first; empty when no rule links any two findings."""
    classified = [Classified(f, items.get(f.probe)) for f in findings if f.severity >= Severity.WARNING]
    best: dict[str, Suspect] = {}
    for rule in RULES:
        effects_by_key: dict[str, list[Finding]] = defaultdict(list)
        for candidate in classified:
            if rule.is_effect(candidate):
                for key in rule.effect_keys(index, candidate.finding):
                    effects_by_key[key].append(candidate.finding)
        if not effects_by_key:
            continue
        for cause in (c.finding for c in classified if rule.is_cause(c)):
            effects: list[tuple[Finding, str, timedelta | None]] = []
            seen: set[int] = {id(cause)}
            for key in sorted(rule.cause_keys(index, cause)):
                for effect in effects_by_key.get(key, ()):
                    if id(effect) in seen:
                        continue
                    ok, lag = _time_relation(cause, effect, max_lag, rule.name)
                    if ok:
                        seen.add(id(effect))
                        effects.append((effect, key, lag))
            if effects:
                suspect = _suspect_for(rule, index, cause, effects)
                previous = best.get(suspect.cause)
                if previous is None or suspect.score > previous.score:
                    best[suspect.cause] = suspect
    ranked = sorted(best.values(), key=lambda s: (-s.score, s.title))
    return tuple(ranked[:limit])
