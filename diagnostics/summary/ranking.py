"""Ranking the problems of a report by their impact on users and data.

Warning and critical findings are grouped first: a finding that a probe marks as the symptom
of another (``details["symptom_of"]``) joins its cause's group, and findings about one machine
(under any of its names, see :mod:`diagnostics.summary.machines`) form one group. Groups then
rank by, in order:

1. generic saturation (a busy CPU, memory, disk or network with no one shown to suffer) last;
2. severity, critical first;
3. impact: failing now, blocking work now, data at risk, degraded;
4. reach: more sessions, requests, pods or users touched first;
5. onset, earliest first; then title.

The first group leads the headline; each group says why it ranks where it does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from diagnostics.model import SYMPTOM_OF, ChecklistItem, Finding, Severity
from diagnostics.summary.impact import Impact, impact_of, reach_of
from diagnostics.summary.machines import HOST_KINDS, MachineIndex
from diagnostics.summary.model import RankedProblem

FAR_FUTURE = datetime.max.replace(tzinfo=UTC)
MAX_SYMPTOM_CHAIN = 8


@dataclass(frozen=True, slots=True)
class Judged:
    """A problem finding with its impact and reach."""

    finding: Finding
    impact: Impact
    reach: tuple[int, str] | None

    def rank_key(self) -> tuple[bool, int, int, int, datetime, str]:
        return (
            self.impact is Impact.SATURATION,
            -int(self.finding.severity),
            -int(self.impact),
            -(self.reach[0] if self.reach else 0),
            self.finding.onset or FAR_FUTURE,
            self.finding.title,
        )


def judge_findings(findings: Sequence[Finding], items: Mapping[str, ChecklistItem]) -> list[Judged]:
    """The warning and critical findings with their impact and reach, best ranked first."""
    judged = [
        Judged(f, impact_of(f, items.get(f.probe)), reach_of(f))
        for f in findings
        if f.severity >= Severity.WARNING
    ]
    return sorted(judged, key=Judged.rank_key)


def cause_of(finding: Finding, present: Mapping[str, Finding]) -> Finding | None:
    """The finding ``finding`` is a symptom of, following chains, when it is in the report."""
    current, seen = finding, {finding.fingerprint}
    for _ in range(MAX_SYMPTOM_CHAIN):
        target = current.evidence.details.get(SYMPTOM_OF)
        if not isinstance(target, str) or target in seen or target not in present:
            break
        seen.add(target)
        current = present[target]
    return current if current is not finding else None


def entity_label(finding: Finding, machines: MachineIndex) -> str:
    """The finding's entity, a machine under its canonical name."""
    entity = finding.entity
    machine = machines.machine_of(finding)
    if machine is not None:
        return f"host {machine}"
    mountpoint = entity.attributes.get("mountpoint")
    host = entity.attributes.get("host")
    if entity.kind == "filesystem" and mountpoint and host:
        return f"filesystem {machines.canonical(host)}:{mountpoint}"
    return entity.display()


def _group_key(finding: Finding, machines: MachineIndex) -> str:
    if finding.entity.kind in HOST_KINDS or finding.entity.kind == "filesystem":
        return entity_label(finding, machines)
    return f"finding {finding.fingerprint}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Group:
    """A lead finding and every problem grouped with it (best ranked first), with what ranks it."""

    lead: Finding
    members: tuple[Judged, ...]
    impact: Impact
    reach: tuple[int, str] | None
    onset: datetime

    @classmethod
    def of(cls, lead: Finding, members: Sequence[Judged]) -> Group:
        return cls(
            lead=lead,
            members=tuple(members),
            impact=max(m.impact for m in members),
            reach=max((m.reach for m in members if m.reach), default=None, key=lambda r: r[0]),
            onset=min(m.finding.onset or FAR_FUTURE for m in members),
        )

    @property
    def severity(self) -> Severity:
        return self.members[0].finding.severity

    def rank_key(self) -> tuple[bool, int, int, int, datetime, str]:
        return (
            self.impact is Impact.SATURATION,
            -int(self.severity),
            -int(self.impact),
            -(self.reach[0] if self.reach else 0),
            self.onset,
            self.lead.title,
        )

    def problem(self, machines: MachineIndex) -> RankedProblem:
        return RankedProblem(
            lead=self.lead.fingerprint,
            entity=entity_label(self.lead, machines),
            impact=self.impact.label,
            severity=self.severity,
            reach=self.reach[0] if self.reach else None,
            members=tuple(m.finding.fingerprint for m in self.members if m.finding is not self.lead),
            reason=_reason(self.severity, self.impact, self.reach, len(self.members) - 1),
        )


def rank_problems(judged: Sequence[Judged], machines: MachineIndex) -> tuple[RankedProblem, ...]:
    """Every judged finding (see :func:`judge_findings`) in a group, the groups best ranked first."""
    present = {j.finding.fingerprint: j.finding for j in judged}
    members: dict[str, list[Judged]] = {}
    leads: dict[str, Finding] = {}
    for item in judged:  # best ranked first: a group's first member is its best
        cause = cause_of(item.finding, present)
        key = _group_key(cause or item.finding, machines)
        members.setdefault(key, []).append(item)
        leads.setdefault(key, cause or item.finding)
        if cause is not None:
            leads[key] = cause
    groups = [Group.of(leads[key], found) for key, found in members.items()]
    return tuple(group.problem(machines) for group in sorted(groups, key=Group.rank_key))


def _reason(severity: Severity, impact: Impact, reach: tuple[int, str] | None, grouped: int) -> str:
    text = f"{severity.label}, {impact.phrase}"
    if reach is not None:
        text += f" ({reach[1]}: {reach[0]})"
    if impact is Impact.SATURATION:
        text += "; no finding shows users or data affected by it, so it ranks after those that do"
    if grouped:
        text += f"; {grouped} related finding{'s' if grouped != 1 else ''} grouped under it"
    return text


def ranking_reason(ranking: Sequence[RankedProblem], titles: Mapping[str, str]) -> str | None:
    """One sentence: why the first problem leads, and what it was ranked over."""
    if not ranking:
        return None
    first = ranking[0]
    text = f"'{titles.get(first.lead, first.lead)}' [{first.entity}] leads: {first.reason}."
    below = [p for p in ranking[1:] if p.impact == Impact.SATURATION.label and p.severity >= first.severity]
    if below and first.impact != Impact.SATURATION.label:
        names = ", ".join(f"'{titles.get(p.lead, p.lead)}' [{p.entity}]" for p in below[:2])
        text += f" Ranked after it despite its severity: {names} (generic saturation)."
    return text
