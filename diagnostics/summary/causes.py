"""Ranking candidate causes with explicit rules over time order and shared entities.

Each rule names a *cause* finding and the *effect* findings it explains. A cause must start
no later than its effect (``onset``), and no more than ``max_lag`` before it; findings without
an onset can be linked by entity only, with a lower score. The rules, best first:

=============================  ===================================================  =====
rule                           cause -> effects                                     score
=============================  ===================================================  =====
``symptom_of_cause``           a finding -> the findings its probe marked as its    0.95
                               symptoms (``details["symptom_of"]``: statements
                               waiting behind a lock tree)
``rollout_before_symptom``     a rollout of a workload -> metric anomalies, alerts,  0.90
                               log error rises and new log patterns, crashing pods
                               of the same service
``flag_change_before_symptom`` a feature flag changed in production -> symptoms of   0.90
                               the service it belongs to (its ``services`` mapping,
                               a tag, or the service's name as whole words of the
                               flag's name)
``log_names_cause``            a database or dependency finding -> log error rises   0.85
                               and new log patterns whose templates or examples
                               name that database or dependency
``database_before_symptom``    lock contention / exhausted connections / slow       0.85
                               queries on a database -> symptoms of a service that
                               uses it (``services.<s>.databases``)
``dependency_before_callers``  a failing dependency -> symptoms of the services     0.80
                               that call it (``services.<s>.dependencies``)
``node_under_workloads``       a node or host under pressure -> crashing pods,       0.75
                               containers and services running on it
``sessions_before_database_    idle-in-transaction or long-running sessions ->      0.70
pressure``                     lock contention or exhausted connections on the
                               same database
``webhook_blocks_creations``   an admission webhook without a ready Service ->      0.85
                               the creations it refuses (``failed calling webhook
                               "NAME"`` in a ReplicaSet's condition or an event)
``failing_pods_behind_         a workload's failing pods -> a Service whose         0.80
service``                      endpoints are those pods, with none ready
``autoscaler_at_max_under_     an HPA at maxReplicas with load above target ->      0.70
load``                         CPU throttling, memory near its limit, metric
                               anomalies of the service it scales
=============================  ===================================================  =====

A cause explaining several effects ranks higher (+0.02 each, up to +0.08); a cause with an
exact time order ranks higher than one linked by entity alone (x0.8). Among changes (rollouts
and flag changes), the one closest before its symptom ranks first (up to +0.01, shrinking with
the lead time over ``max_lag``). When no rule links two
findings, no suspect is named.

Suspects whose cause is generic saturation (see :mod:`diagnostics.summary.impact`) come after
every other suspect. When every suspect is such saturation but the best ranked problem is not
(a lock pile-up on a busy machine), that problem leads the suspects (rule ``highest_impact``,
score 0.60): it touches users or data and nothing found explains it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from diagnostics.model import SYMPTOM_OF, ChecklistItem, Finding, Severity
from diagnostics.summary.containment import containment_for
from diagnostics.summary.entities import EntityIndex, webhooks_named, workloads_behind
from diagnostics.summary.impact import Impact
from diagnostics.summary.model import RankedProblem, Suspect
from diagnostics.summary.ranking import Judged, judge_findings
from diagnostics.units import format_duration

SYMPTOM_ITEMS = frozenset({ChecklistItem.METRICS, ChecklistItem.LOGS})
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
WEBHOOK_CAUSE_KINDS = frozenset({"webhook_no_endpoints", "webhook_service_missing"})
POD_FAILURE_KINDS = frozenset(
    {"crash_loop", "oom_killed", "image_pull", "container_error", "pending", "pull_secret_missing", "failed",
     "replicas_unavailable", "replica_failure", "progress_deadline_exceeded"}
)  # fmt: skip
SERVICE_EFFECT_KINDS = frozenset({"service_no_ready_endpoints"})
AUTOSCALER_CAUSE_KINDS = frozenset({"hpa_at_max"})
LOAD_SYMPTOM_KINDS = frozenset({"cpu_throttling", "memory_limit"})
"""Symptoms of pods running above what they were sized for (with metric anomalies)."""


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


FLAG_NAME_SEPARATORS = re.compile(r"[-_.:/ ]+")


def _flag_services(index: EntityIndex, finding: Finding) -> frozenset[str]:
    """Services a flag belongs to: declared (mapping, service tags), plain tags, name prefixes."""
    if finding.entity.kind != "feature_flag":
        return frozenset()
    details = finding.evidence.details
    declared = [s for s in details.get("services") or () if isinstance(s, str)]
    # a tag's value (``simple:checkout`` in Unleash, ``checkout`` in LaunchDarkly) may name it
    tags = [t.rpartition(":")[2] for t in details.get("tags") or () if isinstance(t, str)]
    # whole words of its name: new-checkout-flow belongs to checkout (and to checkout-flow)
    words = [w for w in FLAG_NAME_SEPARATORS.split(finding.entity.name) if w]
    runs = ["-".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, len(words) + 1)]
    return frozenset(index.canonical(name) for name in (*declared, *tags, *runs))


def _flag_change(cause: Finding) -> str:
    changes = cause.evidence.details.get("changes")
    latest = changes[-1] if isinstance(changes, list) and changes else {}
    kind = str(latest.get("kind", "changed")).replace("_", " ") if isinstance(latest, dict) else "changed"
    return kind if kind.startswith("switched") else f"changed ({kind})"


def _fingerprint(_index: EntityIndex, finding: Finding) -> frozenset[str]:
    return frozenset({finding.fingerprint})


def _declared_cause(_index: EntityIndex, finding: Finding) -> frozenset[str]:
    target = finding.evidence.details.get(SYMPTOM_OF)
    return frozenset({target}) if isinstance(target, str) else frozenset()


def _webhooks(_index: EntityIndex, finding: Finding) -> frozenset[str]:
    return webhooks_named(finding)


def _workloads_behind(_index: EntityIndex, finding: Finding) -> frozenset[str]:
    return workloads_behind(finding)


_NAME_TOKEN = re.compile(r"[\w][\w.-]*[\w]|\w")


def _names_in_log_finding(_index: EntityIndex, finding: Finding) -> frozenset[str]:
    """The words of a log finding's template, example and top templates (names like ``orders-db``)."""
    details = finding.evidence.details
    texts = [str(details.get("template") or ""), str(details.get("example") or "")]
    top = details.get("top_templates")
    if isinstance(top, list):
        texts += [
            str(t.get("template", "")) + " " + str(t.get("example", "")) for t in top if isinstance(t, dict)
        ]
    return frozenset(word for text in texts for word in _NAME_TOKEN.findall(text))


def _lead(lag: timedelta | None) -> str:
    return f"{format_duration(lag)} before" if lag is not None else "alongside"


def _users_of(index: EntityIndex, effect: Finding, database: str) -> str:
    users = sorted(s for s in index.services_of(effect) if database in index.links(s).databases)
    return users[0] if users else "a service"


RULES: tuple[Rule, ...] = (
    Rule(
        name="symptom_of_cause",
        score=0.95,
        is_cause=lambda c: True,
        is_effect=lambda c: isinstance(c.finding.evidence.details.get(SYMPTOM_OF), str),
        cause_keys=_fingerprint,
        effect_keys=_declared_cause,
        sentence=lambda index, cause, effect, via, lag: (
            f"'{effect.title}' is a symptom of it, as {effect.probe} found, not a problem of its own."
        ),
    ),
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
        name="flag_change_before_symptom",
        score=0.90,
        is_cause=lambda c: c.item is ChecklistItem.FEATURE_TOGGLES and c.finding.kind == "flag_change",
        is_effect=lambda c: c.is_symptom,
        cause_keys=_flag_services,
        effect_keys=_services,
        sentence=lambda index, cause, effect, via, lag: (
            f"Feature flag {cause.entity.name} was {_flag_change(cause)} in "
            f"{cause.entity.attributes.get('environment', 'production')} {_lead(lag)} '{effect.title}' "
            f"on the service it belongs to ({via})."
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
        name="log_names_cause",
        score=0.85,
        is_cause=lambda c: (
            c.item in (ChecklistItem.DATABASE, ChecklistItem.DEPENDENCIES)
            and c.finding.entity.kind in ("database", "dependency")
        ),
        is_effect=lambda c: c.item is ChecklistItem.LOGS,
        cause_keys=lambda _index, f: frozenset({f.entity.name}),
        effect_keys=_names_in_log_finding,
        sentence=lambda index, cause, effect, via, lag: (
            f"{cause.entity.kind.capitalize()} {via} showed '{cause.title}' {_lead(lag)} the logs named it in '{effect.title}'."
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
    Rule(
        name="webhook_blocks_creations",
        score=0.85,
        is_cause=lambda c: c.finding.kind in WEBHOOK_CAUSE_KINDS,
        is_effect=lambda c: c.finding.entity.kind != "webhook",
        cause_keys=_webhooks,
        effect_keys=_webhooks,
        sentence=lambda index, cause, effect, via, lag: (
            f"Webhook {via} has no ready endpoint behind it and refuses requests: '{effect.title}'."
        ),
    ),
    Rule(
        name="failing_pods_behind_service",
        score=0.80,
        is_cause=lambda c: c.finding.entity.kind == "workload" and c.finding.kind in POD_FAILURE_KINDS,
        is_effect=lambda c: c.finding.kind in SERVICE_EFFECT_KINDS,
        cause_keys=_own_name("workload"),
        effect_keys=_workloads_behind,
        sentence=lambda index, cause, effect, via, lag: (
            f"'{effect.title}' because the pods of {via} behind it fail: '{cause.title}'."
        ),
    ),
    Rule(
        name="autoscaler_at_max_under_load",
        score=0.70,
        is_cause=lambda c: c.finding.kind in AUTOSCALER_CAUSE_KINDS,
        is_effect=lambda c: c.item in SYMPTOM_ITEMS or c.finding.kind in LOAD_SYMPTOM_KINDS,
        cause_keys=_services,
        effect_keys=_services,
        sentence=lambda index, cause, effect, via, lag: (
            f"{cause.title} {_lead(lag)} '{effect.title}' of {via}: it cannot add replicas."
        ),
    ),
)

CHANGE_RULES = frozenset({"rollout_before_symptom", "flag_change_before_symptom"})
"""Rules whose cause is a change someone made: the closest one before the symptom ranks first."""
CO_OCCURRENCE_TOLERANCE = timedelta(minutes=2)
"""How far after its effect a cause may be first seen and still count as before it."""
LIVE_CAUSE_RULES = frozenset(
    {
        "symptom_of_cause",
        "dependency_before_callers",
        "database_before_symptom",
        "sessions_before_database_pressure",
        "webhook_blocks_creations",
        "autoscaler_at_max_under_load",
        "log_names_cause",
    }
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
    rule: Rule,
    index: EntityIndex,
    cause: Finding,
    effects: list[tuple[Finding, str, timedelta | None]],
    max_lag: timedelta,
) -> Suspect:
    timed = [e for e in effects if e[2] is not None]
    first_effect, via, lag = min(timed or effects, key=lambda e: e[2] or timedelta(0))
    score = rule.score * (1.0 if timed else 0.8) + min(0.08, 0.02 * (len(effects) - 1))
    if rule.name in CHANGE_RULES and lag is not None and max_lag > timedelta(0):
        score += 0.01 * max(0.0, 1.0 - lag / max_lag)
    return Suspect(
        rule=rule.name,
        cause=cause.fingerprint,
        title=cause.title,
        reasoning=rule.sentence(index, cause, first_effect, via, lag),
        score=round(score, 3),
        supports=tuple(dict.fromkeys(e[0].fingerprint for e in effects)),
        containment=containment_for(rule.name, cause),
    )


def rank_causes(
    findings: Sequence[Finding],
    items: Mapping[str, ChecklistItem],
    index: EntityIndex,
    *,
    max_lag: timedelta,
    limit: int = 3,
    ranking: Sequence[RankedProblem] = (),
    judged: Sequence[Judged] | None = None,
) -> tuple[Suspect, ...]:
    """The top suspects, best first; empty when no rule links any two findings.

    ``ranking`` (the report's ranked problems) puts saturation causes last and names the best
    ranked problem when only saturation would be suspected otherwise.
    """
    classified = [Classified(f, items.get(f.probe)) for f in findings if f.severity >= Severity.WARNING]
    present = {c.finding.fingerprint for c in classified}
    # a finding its probe marked as the symptom of another present one is no cause itself
    symptoms = {c.finding.fingerprint for c in classified if _declared_cause(index, c.finding) & present}
    best: dict[str, Suspect] = {}
    for rule in RULES:
        effects_by_key: dict[str, list[Finding]] = defaultdict(list)
        for candidate in classified:
            if rule.is_effect(candidate):
                for key in rule.effect_keys(index, candidate.finding):
                    effects_by_key[key].append(candidate.finding)
        if not effects_by_key:
            continue
        for cause in (
            c.finding for c in classified if rule.is_cause(c) and c.finding.fingerprint not in symptoms
        ):
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
                suspect = _suspect_for(rule, index, cause, effects, max_lag)
                previous = best.get(suspect.cause)
                if previous is None or suspect.score > previous.score:
                    best[suspect.cause] = suspect
    judged = judge_findings(findings, items) if judged is None else judged
    impacts = {j.finding.fingerprint: j.impact for j in judged}
    ranked = sorted(
        best.values(), key=lambda s: (impacts.get(s.cause) is Impact.SATURATION, -s.score, s.title)
    )
    leading = _highest_impact(ranked, ranking, {f.fingerprint: f for f in findings}, impacts)
    return tuple(([leading] if leading else []) + ranked)[:limit]


def _highest_impact(
    suspects: Sequence[Suspect],
    ranking: Sequence[RankedProblem],
    by_fingerprint: Mapping[str, Finding],
    impacts: Mapping[str, Impact],
) -> Suspect | None:
    """The best ranked problem as a suspect, when every suspect is mere saturation and it is not."""
    if not suspects or not ranking or ranking[0].impact == Impact.SATURATION.label:
        return None
    first = ranking[0]
    explained = {fp for s in suspects for fp in s.supports}
    if first.lead in explained or first.lead not in by_fingerprint:
        return None
    if any(s.cause == first.lead for s in suspects):
        return None
    if any(impacts.get(s.cause) is not Impact.SATURATION for s in suspects):
        return None
    lead = by_fingerprint[first.lead]
    reach = f", {first.reach} touched" if first.reach is not None else ""
    return Suspect(
        rule="highest_impact",
        cause=lead.fingerprint,
        title=lead.title,
        reasoning=(
            f"It is {first.impact.replace('_', ' ')} ({first.severity.label}{reach}) and no finding explains it; "
            "the saturation suspected below explains only other symptoms."
        ),
        score=0.6,
        supports=first.members,
    )
