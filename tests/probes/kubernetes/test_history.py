"""Parsing API objects and rebuilding revision histories: pure functions over staged objects."""

from __future__ import annotations

from datetime import datetime, timedelta

from probes.kubernetes.history import (
    histories,
    rolled_out_at,
    rollouts_between,
    split_image,
    template_changes,
    value_hash,
)
from probes.kubernetes.objects import PodTemplate
from probes.kubernetes.parse import (
    owning_workload,
    parse_controller_revision,
    parse_event,
    parse_meta,
    parse_pod,
    parse_replica_set,
    parse_template,
    parse_time,
    parse_workload,
)
from tests.support import kube_objects as k


def test_parse_time_reads_rfc3339_and_micro_time() -> None:
    assert parse_time("2026-03-01T10:00:00Z") == datetime.fromisoformat("2026-03-01T10:00:00+00:00")
    micro = parse_time("2026-03-01T10:00:00.123456Z")
    assert micro is not None and micro.microsecond == 123456
    assert parse_time(None) is None
    assert parse_time("yesterday") is None


def test_split_image_keeps_registry_ports_and_digests() -> None:
    assert split_image("registry:5000/shop/app:v1.2") == ("registry:5000/shop/app", "v1.2")
    assert split_image("registry:5000/shop/app") == ("registry:5000/shop/app", "latest")
    repo, digest = split_image("shop/app@sha256:0123456789abcdef0123")
    assert repo == "shop/app" and digest.startswith("sha256:")


def test_pods_of_a_replica_set_belong_to_its_deployment(now: datetime) -> None:
    staged = k.deployment_rollout(
        "checkout", "shop", old_image="c:v1", new_image="c:v2", rolled_out_at=now - timedelta(minutes=5)
    )
    pod = parse_pod(staged.new_pods[0])
    assert (pod.workload.kind, pod.workload.key, pod.workload.service) == (
        "Deployment",
        "shop/checkout",
        "checkout",
    )
    assert pod.node == "node-a" and pod.phase == "Running"


def test_a_bare_pod_is_its_own_workload(now: datetime) -> None:
    meta = parse_meta({"metadata": {"name": "debug", "namespace": "ops", "labels": {"app": "toolbox"}}})
    ref = owning_workload(meta)
    assert (ref.kind, ref.name, ref.service) == ("Pod", "debug", "toolbox")


def test_replica_sets_become_revisions_with_their_template(now: datetime) -> None:
    staged = k.deployment_rollout(
        "checkout", "shop", old_image="c:v1", new_image="c:v2", rolled_out_at=now - timedelta(minutes=5)
    )
    revision = parse_replica_set(staged.new_replica_set)
    assert revision is not None
    assert revision.number == 7
    assert revision.owner_uid == staged.deployment["metadata"]["uid"]
    assert parse_template(revision.template_source).containers[0].image == "c:v2"
    assert not revision.reused
    assert parse_replica_set({"metadata": {"name": "bare", "annotations": {}}}) is None


def test_controller_revision_template_drops_the_replace_directive(now: datetime) -> None:
    template = k.pod_template("db", [k.container("db", "postgres:16.2")])
    owner = k.stateful_set(
        "db", "data", template=template, created=now, current_revision="db-1", update_revision="db-1"
    )
    revision = parse_controller_revision(
        k.controller_revision(owner, template=template, revision=3, created=now)
    )
    assert revision is not None
    assert revision.number == 3
    assert parse_template(revision.template_source) == parse_template(template)
    assert "$patch" not in revision.template_source


def test_events_read_counts_and_the_series_time(now: datetime) -> None:
    staged = k.deployment_rollout(
        "checkout",
        "shop",
        old_image="c:v1",
        new_image="c:v2",
        rolled_out_at=now - timedelta(minutes=9),
        crash_new_pods=1,
    )
    event = parse_event(staged.events[0])
    assert (event.reason, event.object_kind, event.count) == ("BackOff", "Pod", 25)
    assert event.first is not None and event.last is not None and event.first < event.last
    series = dict(staged.events[0], series={"count": 40, "lastObservedTime": k.micro_ts(now)})
    assert parse_event(series).count == 40
    assert parse_event(series).last == now


def _deployment_history(now: datetime, *, rolled_out_minutes_ago: int):
    staged = k.deployment_rollout(
        "checkout",
        "shop",
        old_image="registry.example.com/shop/checkout:v1.4.2",
        new_image="registry.example.com/shop/checkout:v1.5.0",
        rolled_out_at=now - timedelta(minutes=rolled_out_minutes_ago),
    )
    workload = parse_workload(staged.deployment, "Deployment")
    revisions = [parse_replica_set(staged.old_replica_set), parse_replica_set(staged.new_replica_set)]
    return histories([workload], [r for r in revisions if r])[0]


def test_a_rollout_in_the_window_names_both_images_and_revisions(now: datetime) -> None:
    history = _deployment_history(now, rolled_out_minutes_ago=10)
    assert history.current is not None and history.current.number == 7
    [rollout] = rollouts_between(history, now - timedelta(hours=1), now)
    assert rollout.previous is not None and rollout.previous.number == 6
    assert rollout.at == now - timedelta(minutes=10)
    assert rollout.dated_by == "ReplicaSet created"
    [image] = rollout.changes.images
    assert image.short() == "checkout v1.4.2 → v1.5.0"
    assert rollout.current


def test_a_rollout_before_the_window_or_after_at_is_not_in_it(now: datetime) -> None:
    history = _deployment_history(now, rolled_out_minutes_ago=180)
    assert rollouts_between(history, now - timedelta(hours=1), now) == []
    recent = _deployment_history(now, rolled_out_minutes_ago=10)
    at = now - timedelta(minutes=30)
    assert rollouts_between(recent, at - timedelta(hours=1), at) == []


def test_a_rollback_reusing_an_old_replica_set_is_dated_by_the_progressing_condition(now: datetime) -> None:
    good = k.pod_template("checkout", [k.container("checkout", "c:v1.4.2")])
    bad = k.pod_template("checkout", [k.container("checkout", "c:v1.5.0")])
    born = now - timedelta(days=20)
    rolled_back = now - timedelta(minutes=7)
    deploy = k.deployment(
        "checkout",
        "shop",
        template=good,
        revision=8,
        created=born,
        conditions=[
            k.condition(
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                "ReplicaSet has successfully progressed.",
                since=born,
                updated=rolled_back,
            )
        ],
    )
    # revision 6 (v1.4.2) was re-used as revision 8 by `kubectl rollout undo`: its creation is old
    reused = k.replica_set(deploy, template=good, revision=8, created=born, replicas=3, revision_history=[6])
    bad_rs = k.replica_set(deploy, template=bad, revision=7, created=now - timedelta(hours=3), replicas=0)
    history = histories(
        [parse_workload(deploy, "Deployment")],
        [r for r in (parse_replica_set(reused), parse_replica_set(bad_rs)) if r],
    )[0]
    assert history.current is not None and history.current.reused
    moment, source = rolled_out_at(history, history.current)
    assert moment == rolled_back and "Progressing" in source
    [rollout] = rollouts_between(history, now - timedelta(hours=1), now)
    assert rollout.to.earlier_numbers == (6,)
    assert rollout.previous is not None and rollout.previous.number == 7
    assert rollout.changes.images[0].short() == "checkout v1.5.0 → v1.4.2"


SLACK_WEBHOOK = "https://hooks.slack.com/services/T0AAA/B0BBB/XXXXXXXXXXXXXXXXXXXXXXXX"
STRIPE_KEY = "sk_live_51H8aBcDeFgHiJkLmNoPqRsTuVwXyZ"


def _api_template(env: dict[str, str], **references: dict[str, dict[str, str]]) -> PodTemplate:
    container = k.container("api", "api:1", env=env)
    container["env"] += [{"name": name, "valueFrom": source} for name, source in references.items()]
    return parse_template(k.pod_template("api", [container]))


def test_env_changes_never_show_a_literal_value_whatever_its_name() -> None:
    old = _api_template(
        {
            "LOG_LEVEL": "info",
            "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0AAA/B0BBB/old",
            "REGION": "eu",
        },
        FEATURE_FLAGS={"configMapKeyRef": {"name": "flags", "key": "v1"}},
    )
    new = _api_template(
        {"LOG_LEVEL": "debug", "SLACK_WEBHOOK_URL": SLACK_WEBHOOK, "STRIPE_SK": STRIPE_KEY, "ZONE": "eu"},
        FEATURE_FLAGS={"configMapKeyRef": {"name": "flags", "key": "v2"}},
        API_TOKEN={"secretKeyRef": {"name": "api-secrets", "key": "token"}},
    )
    changes = template_changes(old, new)
    by_name = {e.name: e for e in changes.env}
    assert {name: e.change for name, e in by_name.items()} == {
        "API_TOKEN": "added",
        "FEATURE_FLAGS": "changed",
        "LOG_LEVEL": "changed",
        "REGION": "removed",
        "SLACK_WEBHOOK_URL": "changed",
        "STRIPE_SK": "added",
        "ZONE": "added",
    }
    # literal values, secret-looking names or not, are shown as a short hash only
    assert (by_name["LOG_LEVEL"].old, by_name["LOG_LEVEL"].new) == (
        f"literal #{value_hash('info')}",
        f"literal #{value_hash('debug')}",
    )
    assert (
        by_name["STRIPE_SK"].old is None and by_name["STRIPE_SK"].new == f"literal #{value_hash(STRIPE_KEY)}"
    )
    # equal values have equal hashes: ZONE took REGION's value
    assert by_name["ZONE"].new == by_name["REGION"].old != by_name["LOG_LEVEL"].new
    # where a value comes from is shown
    assert by_name["API_TOKEN"].new == "secretKeyRef api-secrets/token"
    assert (by_name["FEATURE_FLAGS"].old, by_name["FEATURE_FLAGS"].new) == (
        "configMapKeyRef flags/v1",
        "configMapKeyRef flags/v2",
    )
    shown = repr(changes)
    for literal in ("info", "debug", "hooks.slack.com", "sk_live", STRIPE_KEY, SLACK_WEBHOOK, "eu"):
        assert literal not in shown, literal
    assert changes.images == ()


def test_a_literal_that_looks_like_a_reference_is_still_hidden() -> None:
    old = _api_template({"DSN": "secretKeyRef db/password"})
    new = _api_template({"DSN": "secretKeyRef postgres://app:hunter2@db/app"})
    [change] = template_changes(old, new).env
    assert change.new is not None and change.new.startswith("literal #") and "hunter2" not in repr(change)


def test_a_rollout_restart_is_told_apart_from_a_real_change() -> None:
    spec = [k.container("api", "api:1")]
    old = parse_template(k.pod_template("api", spec))
    new = parse_template(
        k.pod_template("api", spec, annotations={"kubectl.kubernetes.io/restartedAt": "2026-03-01T10:00:00Z"})
    )
    assert template_changes(old, new).restart_only
    resized = parse_template(k.pod_template("api", [k.container("api", "api:1", memory_limit="1Gi")]))
    changes = template_changes(old, resized)
    assert changes.other == ("container api",) and not changes.restart_only
