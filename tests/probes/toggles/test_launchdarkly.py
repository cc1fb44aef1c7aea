"""toggles.changes against a LaunchDarkly-shaped API (real client, real HTTP, documented answers)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from diagnostics import ErrorKind, Severity, Status
from diagnostics.report.serialize import report_to_dict
from diagnostics.testing import ProbeRun, run_probe
from probes.toggles.changes import ChangesProbe
from tests.support.launchdarkly_api import LD_TOKEN, LaunchDarklyApi, audit_entry, flag_rep

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)


def diagnose(api: LaunchDarklyApi, token: str = LD_TOKEN, **extra: Any) -> ProbeRun:
    source = {
        "token": "${LD_API_TOKEN}",
        "project": "shop",
        "environment": "production",
        "url": api.url,
        **extra,
    }
    return run_probe(
        ChangesProbe,
        config={"feature_flags": [{"name": "launchdarkly", "launchdarkly": source}]},
        at=NOW,
        window="30m",
        env={"LD_API_TOKEN": token},
    )


def change(
    entry_id: str,
    flag: str,
    environment: str,
    ago: timedelta,
    email: str,
    before: dict[str, Any],
    after: dict[str, Any],
    *,
    action: str = "updateOn",
    verb: str = "turned on the flag",
) -> dict[str, Any]:
    """An audit entry of project ``shop``: ``email`` changed ``flag`` in ``environment`` ``ago``."""
    return audit_entry(entry_id, at=NOW - ago, project="shop", environment=environment, flag=flag,
                       action=action, email=email, title_verb=verb, before=before, after=after)  # fmt: skip


def stage_incident(api: LaunchDarklyApi) -> None:
    """new-checkout turned on in production 5 min ago; search-v2 in staging; old-banner days ago;
    recs-model rollout 10% -> 50% in production 20 min ago."""
    off = flag_rep("new-checkout", project="shop", on={"production": False, "staging": True})
    on = flag_rep("new-checkout", project="shop", on={"production": True, "staging": True},
                  description="One-page checkout", tags=("checkout", "team-payments"))  # fmt: skip
    search_off = flag_rep("search-v2", project="shop", on={"production": False, "staging": False})
    search_on = flag_rep("search-v2", project="shop", on={"production": False, "staging": True})
    banner = flag_rep("old-banner", project="shop", on={"production": True})
    split = {
        "rollout": {"variations": [{"variation": 0, "weight": 10000}, {"variation": 1, "weight": 90000}]}
    }
    raised = {
        "rollout": {"variations": [{"variation": 0, "weight": 50000}, {"variation": 1, "weight": 50000}]}
    }
    recs_before = flag_rep("recs-model", project="shop", on={"production": True}, fallthrough=split)
    recs_after = flag_rep("recs-model", project="shop", on={"production": True}, fallthrough=raised)
    api.stage(
        entries=[
            change(
                "a1", "new-checkout", "production", timedelta(minutes=5), "carol.jones@example.com", off, on
            ),
            change(
                "a2", "search-v2", "staging", timedelta(minutes=8), "dan@example.com", search_off, search_on
            ),
            change("a3", "old-banner", "production", timedelta(days=3), "erin@example.com", banner, banner),
            change(
                "a4",
                "recs-model",
                "production",
                timedelta(minutes=20),
                "carol.jones@example.com",
                recs_before,
                recs_after,
                action="updateFallthrough",
                verb="changed the default rule",
            ),
        ],
        flags=[("shop", on), ("shop", search_on), ("shop", banner), ("shop", recs_after)],
    )


def test_a_flag_turned_on_in_production_is_found_like_in_unleash(launchdarkly_api: LaunchDarklyApi) -> None:
    stage_incident(launchdarkly_api)

    run = diagnose(launchdarkly_api)

    assert run.outcome.status is Status.WARNING
    by_flag = {f.entity.name: f for f in run.findings}
    assert set(by_flag) == {"new-checkout", "search-v2", "recs-model"}  # old-banner: days ago, silent
    checkout = by_flag["new-checkout"]
    assert checkout.severity is Severity.WARNING
    assert checkout.onset == NOW - timedelta(minutes=5)
    assert checkout.title == "Flag new-checkout switched on in production 5m ago by carol.jones@example.com"
    assert checkout.evidence.details["description"] == "One-page checkout"
    assert checkout.evidence.details["tags"] == ["checkout", "team-payments"]
    assert checkout.evidence.details["changes"][0]["before"] == "off"
    switch_off = checkout.next_steps[0]
    assert switch_off == (
        'curl -fsS -X PATCH -H "Authorization: $LD_API_TOKEN" '
        "-H 'Content-Type: application/json; domain-model=launchdarkly.semanticpatch' "
        """-d '{"environmentKey": "production", "instructions": [{"kind": "turnFlagOff"}]}' """
        f"{launchdarkly_api.url}/api/v2/flags/shop/new-checkout"
    )
    assert (
        checkout.next_steps[1]
        == f"open {launchdarkly_api.url}/projects/shop/flags/new-checkout/targeting?env=production"
    )
    base = launchdarkly_api.url
    assert [q.split("?")[0] for q in checkout.evidence.queries] == [
        f"GET {base}/api/v2/auditlog",
        f"GET {base}/api/v2/auditlog/a1",
        f"GET {base}/api/v2/flags/shop/new-checkout",
    ]
    staging = by_flag["search-v2"]
    assert staging.severity is Severity.INFO
    assert staging.evidence.details["production"] is False
    recs = by_flag["recs-model"]
    assert recs.severity is Severity.WARNING
    assert "rollout changed: rollout 10%/90% → rollout 50%/50% in production 20m ago" in recs.title
    # read-only, and the token never in the report
    assert {method for method, _ in launchdarkly_api.requests} == {"GET"}
    assert LD_TOKEN not in json.dumps(report_to_dict(run.report))


def test_the_audit_log_is_paged_and_bounded(launchdarkly_api: LaunchDarklyApi) -> None:
    flags = [flag_rep(f"exp-{i}", project="shop", on={"production": True}) for i in range(45)]
    launchdarkly_api.stage(
        entries=[
            change(
                f"e{i}",
                f"exp-{i}",
                "production",
                timedelta(minutes=1, seconds=i),
                "bot@example.com",
                flag_rep(f"exp-{i}", project="shop", on={"production": False}),
                flags[i],
            )
            for i in range(45)
        ],
        flags=[("shop", f) for f in flags],
    )

    run = diagnose(launchdarkly_api)
    assert len(run.findings) == 45
    listings = [path for _, path in launchdarkly_api.requests if path.startswith("/api/v2/auditlog?")]
    assert len(listings) == 3  # pages of 20 following _links.next

    bounded = run_probe(
        ChangesProbe,
        config={
            "feature_flags": [
                {
                    "name": "ld",
                    "launchdarkly": {"token": LD_TOKEN, "project": "shop", "url": launchdarkly_api.url},
                }
            ]
        },
        options={"max_changes": 10},
        at=NOW,
        window="30m",
    )
    changed = bounded.of_kind("flag_change")
    assert {f.entity.name for f in changed} == {f"exp-{i}" for i in range(10)}  # the newest
    (truncated,) = bounded.of_kind("flag_changes_truncated")
    assert truncated.title.startswith("Only the newest 10 flag changes of ld were read")


def test_a_refused_token_is_an_auth_error(launchdarkly_api: LaunchDarklyApi) -> None:
    stage_incident(launchdarkly_api)
    run = diagnose(launchdarkly_api, token="api-wrong-token-1234")
    assert run.outcome.status is Status.ERROR
    assert run.outcome.error_kind is ErrorKind.AUTH
    assert "api-wrong-token-1234" not in (run.outcome.error or "")
