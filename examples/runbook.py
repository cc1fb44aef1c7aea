"""A runbook step that embeds diag: run some probes, branch on what they find.

    python examples/runbook.py --config diag.yaml --probe db.locks --probe db.connections

Prints the first next step of each problem found; exits 0 when all is clean, 1 or 2 for the
worst finding (warning, critical), 3 when a probe could not check.
"""

from __future__ import annotations

import argparse
import sys

import diagnostics
from diagnostics import Severity, Status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", help="diag configuration file")
    parser.add_argument("--probe", action="append", default=None, help="probe ids (default: resources.host)")
    args = parser.parse_args()
    probes = args.probe or ["resources.host"]

    report = diagnostics.run(probes=probes, config=args.config, window="30m")

    unchecked = [o for o in report.probes if not o.status.checked]
    for outcome in unchecked:
        print(f"could not check {outcome.probe}: {outcome.status.value}: {outcome.error}", file=sys.stderr)
    serious = [f for f in report.findings if f.severity >= Severity.WARNING]
    if not serious:
        print("clean" if not unchecked else "clean where checked")
        return 0 if all(o.status is not Status.ERROR for o in report.probes) else 3
    for finding in serious:
        print(f"{finding.severity.label}: {finding.title} [{finding.entity.display()}]")
        for step in finding.next_steps[:1]:
            print(f"  first step: {step}")
    return 2 if report.worst is Severity.CRITICAL else 1


if __name__ == "__main__":
    sys.exit(main())
