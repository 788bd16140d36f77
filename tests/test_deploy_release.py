"""Releases and what watches them, past the first install (issue 24): a rollback after a
pinned digest runs the old build; alerts that mean what they say (a finished Job's pod is not
a pod that fails to become ready; a target never scraped and a backup that never succeeded
alert too); Prometheus allowed to read the namespace it scrapes."""

from __future__ import annotations

import re
import shutil

import pytest
import yaml

from tests.deploy import OVERLAYS, documents, of_kind, pod_labels, pod_references, pod_spec
from tests.test_deploy import containers, release_of, set_release
from youwei.stack import PROJECT_ROOT

pytestmark = pytest.mark.plain

OPERATIONS = PROJECT_ROOT / "docs" / "operations.md"
NEW_BUILD = "ab" * 32


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_a_rollback_after_a_pinned_release_runs_the_old_build(overlay, tmp_path) -> None:
    """0.2.0 pinned by digest as the docs say, then a rollback naming 0.1.0 again: every
    container runs 0.1.0 and none the 0.2.0 build's digest."""
    pinned, rolled_back = tmp_path / "pinned", tmp_path / "rolled-back"  # renders are cached
    shutil.copytree(PROJECT_ROOT / "k8s", pinned / "k8s")
    before = release_of(overlay, pinned)
    set_release(overlay, pinned, "0.2.0", NEW_BUILD)
    images = {c["image"] for part in ("", "jobs")
              for d in documents(overlay, part, pinned) for c in containers(d)}  # fmt: skip
    assert any(image.endswith(f":0.2.0@sha256:{NEW_BUILD}") for image in images), images
    shutil.copytree(pinned / "k8s", rolled_back / "k8s")
    set_release(overlay, rolled_back, before)
    images = {c["image"] for part in ("", "jobs")
              for d in documents(overlay, part, rolled_back) for c in containers(d)}  # fmt: skip
    ours = {image for image in images if "youwei" in image.rpartition("/")[2]}
    assert ours and all(image.endswith(f":{before}") for image in ours), ours
    assert not any(NEW_BUILD in image for image in images)


def test_a_digest_apart_from_its_tag_is_refused(tmp_path) -> None:
    shutil.copytree(PROJECT_ROOT / "k8s", tmp_path / "k8s")
    path = tmp_path / "k8s/overlays/prod/release/kustomization.yaml"
    component = yaml.safe_load(path.read_text())
    component["images"][0]["digest"] = f"sha256:{NEW_BUILD}"
    path.write_text(yaml.safe_dump(component))
    with pytest.raises(AssertionError, match="the digest goes on the tag's line"):
        release_of("prod", tmp_path)


def test_the_docs_pin_a_digest_on_the_tags_line() -> None:
    upgrade = OPERATIONS.read_text().split("## Upgrade", 1)[1].split("\n## ", 1)[0]
    assert "`newTag: 0.2.0@sha256:<digest>`" in upgrade
    assert "its `digest:` too" not in upgrade


# --- alerts --------------------------------------------------------------------------------


def rules() -> dict[str, dict]:
    [rule] = of_kind(documents("prod"), "PrometheusRule").values()
    return {r["alert"]: r for group in rule["spec"]["groups"] for r in group["rules"]}


def dashboard_expressions() -> list[str]:
    import json

    dashboard = json.loads(
        of_kind(documents("prod"), "ConfigMap")["youwei-grafana-dashboard"]["data"]["youwei.json"]
    )
    return [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]


def test_a_finished_jobs_pod_is_not_a_pod_not_ready() -> None:
    """kube-state-metrics reports a Succeeded pod as not ready for as long as it is kept (the
    CronJobs keep three): the alert and the panel count only pods that should become ready."""
    readiness = [rules()["YouweiPodNotReady"]["expr"]] + [
        e for e in dashboard_expressions() if "kube_pod_status_ready" in e
    ]
    assert len(readiness) == 2
    for expression in readiness:
        assert re.search(
            r"and on \(pod\) .*kube_pod_status_phase"
            r'\{namespace="youwei", phase=~"Pending\|Running"\}',
            expression,
        ), expression


def test_checkpoint_staleness_is_unsigned_events_growing_old() -> None:
    """A quiet log is not stale: the alert reads the age of the oldest unsigned event, which
    is 0 for an empty or fully signed log (tests/events/test_checkpoint_staleness.py)."""
    expression = rules()["YouweiCheckpointStale"]["expr"]
    assert "youwei_unsigned_event_age_seconds" in expression
    assert "checkpoint_age" not in expression


def test_prometheus_may_read_the_namespace_it_scrapes() -> None:
    """kube-prometheus' Prometheus has Roles in default, kube-system and monitoring only
    (manifests/prometheus-roleSpecificNamespaces.yaml): the namespace youwei grants it
    discovery of services, endpoints and pods, the kinds its ServiceMonitors need."""
    docs = documents("prod")
    role = of_kind(docs, "Role")["youwei-prometheus"]
    granted = {(resource, verb) for rule in role["rules"] if "" in rule["apiGroups"]
               for resource in rule["resources"] for verb in rule["verbs"]}  # fmt: skip
    assert {
        (r, v) for r in ("services", "endpoints", "pods") for v in ("get", "list", "watch")
    } <= granted
    binding = of_kind(docs, "RoleBinding")["youwei-prometheus"]
    assert binding["roleRef"]["name"] == "youwei-prometheus"
    assert {
        "kind": "ServiceAccount",
        "name": "prometheus-k8s",
        "namespace": "monitoring",
    } in binding["subjects"]


def test_a_missing_series_alerts() -> None:
    """A target never scraped, and a backup or ledger sync that never succeeded, alert: an
    alert on a series that does not exist never fires."""
    alerts = rules()
    blind = alerts["YouweiNotScraped"]["expr"]
    for series in ('up{namespace="youwei", service="youwei-metrics"}',
                   'up{namespace="youwei", service="youwei-rabbitmq"}',
                   'kube_deployment_created{namespace="youwei"'):  # fmt: skip
        assert f"absent({series}" in blind, series
    for alert, cronjob in (("YouweiBackupMissing", "youwei-backup"),
                           ("YouweiErasureLedgerStale", "youwei-erasure-ledger")):  # fmt: skip
        expression = alerts[alert]["expr"]
        assert (
            "absent(kube_cronjob_status_last_successful_time"
            f'{{namespace="youwei", cronjob="{cronjob}"}})' in expression
        )
        assert "kube_cronjob_created" in expression


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_re_applying_a_set_never_suspends_a_running_rebuild(overlay) -> None:
    """A suspended Job in a set is suspended again, its pod killed, each time the set is
    applied, as a rebuild was by re-applying prod/jobs: no applied Job is suspended, and the
    docs start a rebuild as a Job of no set, made from the CronJob's template."""
    for part in ("", "jobs", "cluster"):
        for job in of_kind(documents(overlay, part), "Job").values():
            assert not job["spec"].get("suspend"), job["metadata"]["name"]
    template = of_kind(documents(overlay), "CronJob")["youwei-projections-rebuild"]
    assert template["spec"]["suspend"] is True
    upgrade = OPERATIONS.read_text().split("## Upgrade", 1)[1].split("\n## ", 1)[0]
    assert (
        "kubectl -n youwei create job youwei-projections-rebuild-0.2.0\n"
        "   --from=cronjob/youwei-projections-rebuild" in upgrade
    )
    assert '"suspend":false' not in upgrade


@pytest.mark.parametrize("overlay", ["prod", "prod-external-mongodb"])
def test_the_public_pod_holds_no_signing_key_and_its_log_is_still_signed(overlay) -> None:
    """A compromise of the records pod (the public page) must give no key that signs a log:
    the key is neither mounted nor named there, and the records log is signed by a CronJob."""
    docs = documents(overlay)
    records = of_kind(docs, "Deployment")["youwei-records"]
    assert ("Secret", "youwei-audit-signing-key") not in pod_references(records)
    env = {e["name"]: e.get("value") for e in pod_spec(records)["containers"][0]["env"]}
    assert env["AUDIT_SIGNING_KEY_FILE"] == ""  # over the ConfigMap's path: nothing is signed
    for name, deployment in of_kind(docs, "Deployment").items():
        if name != "youwei-records":
            assert ("Secret", "youwei-audit-signing-key") in pod_references(deployment), name
    signer = of_kind(docs, "CronJob")["youwei-audit-checkpoint"]
    args = pod_spec(signer)["containers"][0]["args"]
    assert args[:5] == ["youwei", "audit", "checkpoint", "--log", "records_events"]
    assert ("Secret", "youwei-audit-signing-key") in pod_references(signer)
    assert pod_labels(signer)["app.kubernetes.io/component"] != "records"


@pytest.mark.parametrize("overlay", ["prod", "prod-external-mongodb"])
def test_agencies_reach_amqps_and_nothing_else_from_their_ranges_only(overlay) -> None:
    """docs/rpc.md has agencies call over RabbitMQ: a Service outside the cluster for AMQPS
    only, from configured source ranges, and a NetworkPolicy admitting those ranges to 5671
    only; no other Service leaves the cluster."""
    docs = documents(overlay)
    exposed = {name: s for name, s in of_kind(docs, "Service").items()
               if s["spec"].get("type", "ClusterIP") != "ClusterIP"}  # fmt: skip
    assert set(exposed) == {"youwei-rabbitmq-agencies"}
    service = exposed["youwei-rabbitmq-agencies"]["spec"]
    assert service["type"] == "LoadBalancer"
    assert [(p["port"], p["targetPort"]) for p in service["ports"]] == [(5671, 5671)]
    ranges = service["loadBalancerSourceRanges"]
    assert ranges and "0.0.0.0/0" not in ranges
    assert service["selector"] == {"app.kubernetes.io/name": "youwei-rabbitmq"}
    admitted = []
    for policy in of_kind(docs, "NetworkPolicy").values():
        for rule in policy["spec"].get("ingress", []):
            for peer in rule.get("from", []):
                if "ipBlock" in peer:
                    selected = policy["spec"]["podSelector"]["matchLabels"]
                    ports = [p["port"] for p in rule["ports"]]
                    admitted.append((selected, peer["ipBlock"]["cidr"], ports))
    assert admitted == [
        ({"app.kubernetes.io/name": "youwei-rabbitmq"}, cidr, [5671]) for cidr in ranges
    ]
    section = OPERATIONS.read_text().split("### The agencies' way in", 1)[1].split("\n##", 1)[0]
    assert "server_hostname" in section and "youwei-rabbitmq-agencies" in section


def documented_allowlists() -> list[set[str]]:
    """The install's ALLOWLIST, as the parts it is built of: every overlay's, the operators'
    users', the monitoring component's."""
    install = OPERATIONS.read_text().split("## Install", 1)[1].split("\n## ", 1)[0]
    parts = re.findall(r'^\s*ALLOWLIST="([^"]*)"', install, re.M)
    return [set(re.findall(r"--prune-allowlist=(\S+)", part)) for part in parts]


def applied_kinds(overlay: str, root=PROJECT_ROOT) -> set[str]:
    kinds = set()
    for doc in documents(overlay, "", root):
        group, _, version = doc["apiVersion"].rpartition("/")
        kinds.add(f"{group or 'core'}/{version}/{doc['kind']}")
    return kinds


@pytest.mark.parametrize(
    ("overlay", "monitoring"),
    [("dev", False), ("prod", True), ("prod", False), ("prod-external-mongodb", True),
     ("prod-external-mongodb", False)],
)  # fmt: skip
def test_each_overlays_prune_allowlist_is_the_kinds_it_applies(overlay, monitoring, tmp_path):
    """kubectl's --prune skips kinds outside its default list (NetworkPolicy, budgets,
    autoscalers, RBAC, the operators' kinds) unless an allowlist names them, so a list that
    names some must name all; and it resolves every kind it names first, so a kind whose CRD
    the cluster lacks (dev's kind: no rabbitmq.com, no monitoring.coreos.com) fails the
    apply: each overlay's list, built as the install says, is exactly what it applies."""
    every, users, monitors = documented_allowlists()
    assert not (every & users or every & monitors or users & monitors)
    root = PROJECT_ROOT
    if not monitoring and overlay != "dev":  # dev has no monitoring component
        root = tmp_path
        shutil.copytree(PROJECT_ROOT / "k8s", root / "k8s")
        prod = root / "k8s" / "overlays" / "prod" / "kustomization.yaml"
        text = prod.read_text()
        assert "  - ../../monitoring\n" in text
        prod.write_text(text.replace("  - ../../monitoring\n", ""))
    expected = every if overlay == "dev" else every | users | (monitors if monitoring else set())
    assert applied_kinds(overlay, root) == expected
    assert "$ALLOWLIST" in OPERATIONS.read_text().split("## Upgrade", 1)[1].split("\n## ", 1)[0]
    assert "metrics-server" in OPERATIONS.read_text().split("## Install", 1)[1]


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_the_brokers_and_databases_images_are_pinned_to_a_patch_release(overlay) -> None:
    state = documents(overlay, "cluster")
    images = [c["image"] for d in state if d["kind"] == "StatefulSet"
              for c in pod_spec(d)["containers"]]  # fmt: skip
    images += [d["spec"]["image"] for d in of_kind(state, "RabbitmqCluster").values()]
    images += [f"mongo:{d['spec']['version']}" for d in of_kind(state, "MongoDBCommunity").values()]
    assert images
    for image in images:
        assert re.search(r":\d+\.\d+\.\d+(-[a-z]+)?$", image), image


def test_every_metric_youwei_exports_is_documented() -> None:
    import events.runtime.inbox  # noqa: F401  (registers youwei_messages_rejected)
    from events.runtime.metrics import REGISTRY

    table = OPERATIONS.read_text().split("## Read the metrics", 1)[1].split("### Alerts", 1)[0]
    documented = set(re.findall(r"^\| `(youwei_[a-z_]+)` \|", table, re.M))
    exported = set()
    for metric in REGISTRY.collect():
        if metric.name.startswith("youwei_"):
            exported.add(f"{metric.name}_total" if metric.type == "counter" else metric.name)
    assert "youwei_messages_rejected_total" in exported
    assert exported - documented == set(), exported - documented


def test_the_brokers_alarms_alert() -> None:
    expression = rules()["YouweiBrokerAlarm"]["expr"]
    assert "rabbitmq_alarms_memory_used_watermark" in expression
    assert "rabbitmq_alarms_free_disk_space_watermark" in expression
    monitor = of_kind(documents("prod"), "ServiceMonitor")["youwei-rabbitmq"]
    assert "/metrics" in [e["path"] for e in monitor["spec"]["endpoints"]]  # the aggregated one


def test_the_database_is_installed_through_the_maintained_controllers() -> None:
    """The MongoDB Community Operator's support ended in November 2025; its successor,
    mongodb/mongodb-kubernetes, manages the same MongoDBCommunity resource: the install names
    it, watching youwei, and says how to move an existing install over without the CRD
    (and with it the database) being deleted."""
    [mongodb] = of_kind(documents("prod", "cluster"), "MongoDBCommunity").values()
    assert mongodb["apiVersion"] == "mongodbcommunity.mongodb.com/v1"
    install = OPERATIONS.read_text().split("## Install", 1)[1].split("\n## ", 1)[0]
    assert "helm install mongodb-kubernetes\n     mongodb/mongodb-kubernetes" in install
    assert "operator.watchNamespace=youwei" in install
    assert "**From the Community Operator**" in install and "never\n     delete the CRD" in install
    assert "   - the MongoDB Community Operator," not in install


def test_after_a_restore_every_deployment_comes_back_the_records_too() -> None:
    """The restore scales every Deployment to 0; an apply gives back their ``replicas:``, but
    the records Deployment has none (its autoscaler owns the count) and an autoscaler does
    not scale from 0: the restore must scale it up itself, to the autoscaler's minimum at
    least, and apply with the prune allowlist as the install does (issue 24, item 6)."""
    docs = documents("prod")
    deployments = of_kind(docs, "Deployment")
    assert "replicas" not in deployments["youwei-records"]["spec"]
    [autoscaler] = of_kind(docs, "HorizontalPodAutoscaler").values()
    assert autoscaler["spec"]["scaleTargetRef"]["name"] == "youwei-records"
    text = OPERATIONS.read_text()
    restore = text.split("**Restore**", 1)[1].split("\n**The drill**", 1)[0]
    down, after = restore.split("--replicas=0", 1)
    assert "scale deploy\n   --all" in down or "scale deploy --all" in down.replace("\n  ", " ")
    # The autoscaler's own minimum, whatever the overlay made it (dev's is 1).
    up = re.search(r"scale deploy youwei-records \\\n\s+--replicas=\$\(kubectl -n youwei get hpa "
                   r"youwei-records -o jsonpath='\{\.spec\.minReplicas\}'\)", after)  # fmt: skip
    assert up, after
    assert re.search(r"kubectl apply -k k8s/overlays/prod --prune -l youwei\.io/set=services "
                     r"\$ALLOWLIST", after), after  # fmt: skip
    assert after.index("$ALLOWLIST") < up.start() < after.index("rollout status")


def test_compose_pins_the_broker_and_the_database_to_a_patch_release_too() -> None:
    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
    images = [s["image"] for s in compose["services"].values() if "youwei" not in s["image"]]
    assert images
    for image in images:
        assert re.search(r":\d+\.\d+\.\d+(-[a-z]+)?$", image), image


def test_a_dev_upgrade_as_documented_reruns_the_jobs_and_rolls_every_service(tmp_path) -> None:
    """dev's first tag, local, never changes: the Job youwei-db-init-local exists already and
    no pod template changes, so nothing reruns or rolls. The documented upgrade loads a new
    tag, names it in the release file, and waits for the Job that tag names."""
    install = OPERATIONS.read_text().split("## Install", 1)[1].split("\n## ", 1)[0]
    upgrade = OPERATIONS.read_text().split("## Upgrade", 1)[1].split("\n## ", 1)[0]
    assert re.findall(r"kind load docker-image youwei:([a-z0-9.-]+)", install) == ["local"]
    assert release_of("dev") == "local"
    [tag] = set(re.findall(r"kind load docker-image youwei:([a-z0-9.-]+)", upgrade))
    waited = re.findall(r"--for=condition=complete job/youwei-db-init-(\S+) --timeout", upgrade)
    assert tag in waited
    before = of_kind(documents("dev"), "Deployment")
    shutil.copytree(PROJECT_ROOT / "k8s", tmp_path / "k8s")
    set_release("dev", tmp_path, tag)
    assert set(of_kind(documents("dev", "jobs", tmp_path), "Job")) == {f"youwei-db-init-{tag}"}
    for name, deployment in of_kind(documents("dev", "", tmp_path), "Deployment").items():
        assert pod_spec(deployment) != pod_spec(before[name]), name
        assert pod_spec(deployment)["containers"][0]["image"] == f"youwei:{tag}"


def test_one_signing_refusal_at_start_up_does_not_page_a_lasting_one_does() -> None:
    """The critical alert fired on a fresh install for one refusal that the next signing
    overcame: it waits longer (``for:``) than one refusal stays in its window, and no longer
    than three of a signer's tries (one every AUDIT_CHECKPOINT_SECONDS, 300 s)."""
    rule = rules()["YouweiCheckpointSigningRefused"]
    window = re.search(r"signing_refused_total\[(\d+)m\]\)", rule["expr"])
    waits = re.fullmatch(r"(\d+)m", rule.get("for", ""))
    assert window and waits, rule
    assert int(window[1]) < int(waits[1]) <= 3 * 300 / 60
