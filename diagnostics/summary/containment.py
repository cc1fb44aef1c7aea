"""Containment before diagnosis: the checklist's "Check feature toggles" and "Consider rollback".

For a suspect that is a change someone made, the step that undoes it, taken from the cause
finding's own evidence: a flag change's switch-off call (``details.containment``), a rollout's
rollback command (its first ``kubectl rollout undo`` / ``helm rollback`` next step) with what the
probe said about its safety (``details.rollback_safety``). diag never runs either.
"""

from __future__ import annotations

from collections.abc import Mapping

from diagnostics.model import Finding
from diagnostics.summary.model import Containment

FEATURE_TOGGLES_STEP = "Check feature toggles"
ROLLBACK_STEP = "Consider rollback"
ROLLBACK_PREFIXES = ("kubectl rollout undo", "helm rollback")


def containment_for(rule: str, cause: Finding) -> Containment | None:
    """The step that contains a suspect of ``rule``, or None when the cause names none."""
    details = cause.evidence.details
    if rule == "flag_change_before_symptom":
        action = details.get("containment")
        if not isinstance(action, Mapping) or not action.get("command"):
            return None
        where = cause.entity.attributes.get("environment", "production")
        return Containment(
            step=FEATURE_TOGGLES_STEP,
            command=str(action["command"]),
            note=f"switches flag {cause.entity.name} {action.get('switches', 'off')} in {where}",
        )
    if rule == "rollout_before_symptom":
        command = next((s for s in cause.next_steps if s.startswith(ROLLBACK_PREFIXES)), None)
        if command is None:
            return None
        safety = details.get("rollback_safety")
        note = str(safety.get("summary")) if isinstance(safety, Mapping) and safety.get("summary") else ""
        return Containment(step=ROLLBACK_STEP, command=command, note=note or "rollback safety not assessed")
    return None
