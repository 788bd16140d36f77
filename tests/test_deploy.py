"""The deployment files, validated offline: docker-compose.yml against the compose
specification, k8s/ rendered (every overlay's three sets: the services, applied each
release; the release's one-shot Jobs; the state, applied once) and every manifest against
Kubernetes' schemas, and what the files must say: probes, security contexts, network
policies; two releases rendered as docs/operations.md says to make them, every container on
the new tag and nothing applied whose immutable fields change; the broker's TLS, budgets and
policies; the alerts against the documented ones. The security scan and the image are
tests/test_image.py's. The validators live in .local/deploy-tools (scripts/deploy-tools, run
by scripts/bootstrap; run here too if missing) and need no network. What needs a cluster
(the operators acting on these objects) is checked offline only."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy import (
    KUBERNETES_VERSIONS,
    OPERATOR_GROUPS,
    OPERATOR_KINDS,
    OVERLAYS,
    RELEASE_FILES,
    SERVICES,
    SETS,
    STATEFUL_KINDS,
    documents,
    every_document,
    of_kind,
    pod_labels,
    pod_spec,
    run,
    tool,
)
from youwei.stack import PROJECT_ROOT

pytestmark = pytest.mark.plain  # once, in the plain pass (tests/conftest.py)

# --- docker-compose.yml ----------------------------------------------------------------


def compose_valid(path: Path) -> subprocess.CompletedProcess:
    return run(tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path))


def test_the_compose_file_follows_the_compose_specification(tmp_path) -> None:
    result = compose_valid(PROJECT_ROOT / "docker-compose.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    broken = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
    broken["services"]["records"]["ports"] = "8000:8000"  # a string where a list belongs
    broken["services"]["mongodb"]["healthcheck"]["retries"] = "many"
    (tmp_path / "docker-compose.yml").write_text(yaml.safe_dump(broken))
    result = compose_valid(tmp_path / "docker-compose.yml")
    assert result.returncode != 0 and "records" in result.stdout, result.stdout


def test_the_compose_stack_is_configured_by_environment_variables_only() -> None:
    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    mongodb = services["mongodb"]
    assert "--replSet" in mongodb["command"]
    assert "rs.initiate" in mongodb["healthcheck"]["test"][-1]
    assert services["rabbitmq"]["image"].endswith("-management")
    ours = {name: s for name, s in services.items() if s.get("image") == "youwei:local"}
    assert set(ours) == {"db-init", "cli", *(n.replace("-", "_") for n in SERVICES)}
    for name, service in ours.items():
        assert "env_file" not in service and "volumes" not in service, name
        assert service["read_only"] and service["cap_drop"] == ["ALL"], name
        assert service["environment"]["MONGODB_URI"].endswith("?replicaSet=rs0"), name
    assert ours["db-init"]["command"] == ["youwei", "db", "init"]
    for name in ("cadre_registry", "evaluations", "inspections", "accountability", "records"):
        assert ours[name]["command"] == [name]
        assert ours[name]["depends_on"]["db-init"]["condition"] == "service_completed_successfully"
    assert ours["records"]["environment"]["WEB_SERVER_ADDRESS"] == "0.0.0.0:8000"
    assert any(p.endswith(":8000") for p in ours["records"]["ports"])
    used = {v.split(":")[0] for s in services.values() for v in s.get("volumes", [])}
    assert used == set(compose["volumes"]) == {"mongodb-data", "mongodb-config", "rabbitmq-data"}


# --- k8s/ --------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_manifest_of_each_overlay_is_valid_kubernetes(overlay, tmp_path) -> None:
    docs = every_document(overlay)
    operators = [doc for doc in docs if doc["apiVersion"].split("/")[0] in OPERATOR_GROUPS]
    ours = [doc for doc in docs if doc not in operators]
    manifests = tmp_path / f"{overlay}.yaml"
    manifests.write_text(yaml.safe_dump_all(ours))
    for version in KUBERNETES_VERSIONS:
        result = run(tool("kubernetes-validate"), "--strict", "-k", version, str(manifests))
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        assert "Couldn't find schema" not in output and "ERROR" not in output, output
        assert output.count(" passed for resource ") == len(ours), output
    expected = {"dev": set(), "prod": OPERATOR_KINDS,
                "prod-external-mongodb": OPERATOR_KINDS - {"MongoDBCommunity"}}  # fmt: skip
    names = [(doc["kind"], doc["metadata"]["name"]) for doc in docs]
    assert len(names) == len(set(names)), "an object in two sets"
    assert {doc["kind"] for doc in operators} == expected[overlay]


def test_kubernetes_validate_rejects_an_invalid_manifest(tmp_path) -> None:
    records = of_kind(documents("dev"), "Deployment")["youwei-records"]
    deployment = json.loads(json.dumps(records))
    deployment["spec"]["replicas"] = "two"
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["pth"] = (
        "/"
    )
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(deployment))
    result = run(tool("kubernetes-validate"), "--strict", str(path))
    assert result.returncode != 0, result.stdout


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_has_probes_that_mean_something_and_a_restricted_pod(overlay) -> None:
    docs = documents(overlay)
    deployments = {
        name.removeprefix("youwei-"): doc
        for name, doc in of_kind(docs, "Deployment").items()
        if pod_labels(doc).get("app.kubernetes.io/name") == "youwei"
    }
    assert set(deployments) == SERVICES
    budgets = {doc["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"]
               for doc in of_kind(docs, "PodDisruptionBudget").values()}  # fmt: skip
    scalers = {doc["spec"]["scaleTargetRef"]["name"]
               for doc in of_kind(docs, "HorizontalPodAutoscaler").values()}  # fmt: skip
    assert budgets == SERVICES and scalers == {"youwei-records"}
    assert of_kind(docs, "ServiceAccount") == {}, "the pods' identity is made at install"
    account = of_kind(documents(overlay, "cluster"), "ServiceAccount")["youwei"]
    assert account["automountServiceAccountToken"] is False
    for name, deployment in deployments.items():
        spec = pod_spec(deployment)
        [container] = spec["containers"]
        assert container["args"] == [name.replace("-", "_")]
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
        assert {"requests", "limits"} <= set(container["resources"]), name
        env = {e["name"] for e in container.get("env", [])}
        assert {"AMQP_URI", "MONGODB_URI"} <= env
        assert ("EVALUATIONS_RATER_KEY" in env) == (name == "evaluations")
    jobs = of_kind(documents(overlay, "jobs"), "Job").values()
    cronjobs = of_kind(docs, "CronJob")
    for doc in [*deployments.values(), *jobs, *cronjobs.values()]:
        assert_restricted(doc)


def assert_restricted(doc: dict) -> None:
    spec = pod_spec(doc)
    name = doc["metadata"]["name"]
    assert spec["automountServiceAccountToken"] is False and spec["serviceAccountName"] == "youwei"
    assert spec["securityContext"]["runAsUser"] >= 10000, name
    assert spec["securityContext"]["runAsNonRoot"] is True, name
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
    for container in spec["containers"]:
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True, name
        assert context["allowPrivilegeEscalation"] is False, name
        assert context["capabilities"] == {"drop": ["ALL"]}, name
        assert context["runAsNonRoot"] is True and context["runAsUser"] >= 10000, name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_jobs_create_indexes_rebuild_projections_and_verify_the_logs(overlay) -> None:
    docs = documents(overlay)
    assert of_kind(docs, "Job") == {}, "a Job among what each release applies"
    release = release_of(overlay)
    jobs = of_kind(documents(overlay, "jobs"), "Job")
    assert set(jobs) == {f"youwei-db-init-{release}"}
    db_init = jobs[f"youwei-db-init-{release}"]
    assert pod_spec(db_init)["containers"][0]["args"] == ["youwei", "db", "init"]
    # A template, never scheduled: a rebuild is a Job made from it (kubectl create job
    # --from=cronjob/...), which no apply of a set suspends again mid-run.
    rebuild = of_kind(docs, "CronJob")["youwei-projections-rebuild"]
    assert rebuild["spec"]["suspend"] is True
    assert pod_spec(rebuild)["containers"][0]["args"] == ["youwei", "projections", "rebuild"]
    cron = of_kind(docs, "CronJob")["youwei-audit-verify"]
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert pod_spec(cron)["containers"][0]["args"] == ["youwei", "audit", "verify", "--unpinned"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_reach_only_the_broker_and_the_database_and_only_the_page_is_exposed(
    overlay,
) -> None:
    docs = documents(overlay)
    policies = of_kind(docs, "NetworkPolicy")
    ours = {"app.kubernetes.io/name": "youwei"}
    deny = policies["youwei-default-deny"]
    assert deny["spec"]["podSelector"]["matchLabels"] == ours
    assert set(deny["spec"]["policyTypes"]) == {"Ingress", "Egress"} and "egress" not in deny
    reachable = set()
    for policy in policies.values():
        selected = policy["spec"]["podSelector"].get("matchLabels", {})
        if "Egress" not in policy["spec"]["policyTypes"] or not ours.items() <= selected.items():
            continue
        for rule in policy["spec"].get("egress", []):
            assert rule.get("to") and rule.get("ports"), policy["metadata"]["name"]
            for peer in rule["to"]:
                labels = peer.get("podSelector", {}).get("matchLabels", {})
                target = (
                    labels.get("app.kubernetes.io/name")
                    or labels.get("k8s-app")
                    or peer.get("ipBlock", {}).get("cidr")
                )
                for port in rule["ports"]:
                    reachable.add((target, port["port"]))
    amqp = 5672 if overlay == "dev" else 5671  # production's broker has no plain listener
    expected = {("youwei-rabbitmq", amqp), ("kube-dns", 53), ("youwei-mongodb", 27017)}
    if overlay == "prod-external-mongodb":
        expected |= {(f"192.0.2.{n}/32", 27017) for n in (10, 11, 12)}
    assert reachable == expected
    [ingress] = of_kind(docs, "Ingress").values()
    backends = {p["backend"]["service"]["name"]
                for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]}  # fmt: skip
    assert backends == {"youwei-records"} and ingress["spec"]["tls"]
    agencies = {"youwei-rabbitmq-agencies"} if overlay != "dev" else set()
    assert set(of_kind(docs, "Service")) == {"youwei-records", "youwei-metrics", *agencies}
    for name, service in of_kind(every_document(overlay), "Service").items():
        if name not in agencies:  # tests/test_deploy_release.py checks the agencies' one
            assert service["spec"].get("type", "ClusterIP") == "ClusterIP"
    assert of_kind(docs, "Service")["youwei-metrics"]["spec"]["clusterIP"] == "None"


def test_the_operators_resources_say_what_production_needs() -> None:
    docs = documents("prod")
    state = documents("prod", "cluster")
    rabbit = of_kind(state, "RabbitmqCluster")["youwei-rabbitmq"]
    assert rabbit["apiVersion"] == "rabbitmq.com/v1beta1" and rabbit["spec"]["replicas"] == 3
    assert "default_queue_type = quorum" in rabbit["spec"]["rabbitmq"]["additionalConfig"]
    mongodb = of_kind(state, "MongoDBCommunity")["youwei-mongodb"]
    assert mongodb["apiVersion"] == "mongodbcommunity.mongodb.com/v1"
    assert mongodb["spec"]["members"] == 3 and mongodb["spec"]["type"] == "ReplicaSet"
    tls = mongodb["spec"]["security"]["tls"]
    assert tls["enabled"] is True and tls["optional"] is False
    user, backup, _restore = mongodb["spec"]["users"]  # the restore's: test_deploy_restore.py
    assert user["roles"] == [{"name": "readWrite", "db": "youwei"},
                             {"name": "readWrite", "db": "youwei_erasures"}]  # fmt: skip
    assert backup["roles"] == [{"name": "backup", "db": "admin"}]  # mongodump --oplog, no more
    for deployment in of_kind(docs, "Deployment").values():
        env = {e["name"]: e for e in pod_spec(deployment)["containers"][0]["env"]}
        names = list(env)
        assert names.index("RABBITMQ_PASSWORD") < names.index("AMQP_URI")  # defined, then used
        assert env["MONGODB_URI"]["value"].startswith("$(MONGODB_CONNECTION_STRING)&tlsCAFile=")
        secret = env["MONGODB_CONNECTION_STRING"]["valueFrom"]["secretKeyRef"]
        assert secret["name"] == user["connectionStringSecretName"]
        volumes = {v["name"]: v for v in pod_spec(deployment)["volumes"]}
        if deployment["metadata"]["name"] != "youwei-records":  # the public page: no key
            key = volumes["audit-signing-key"]["secret"]["secretName"]
            assert key == "youwei-audit-signing-key"
    config_map = of_kind(docs, "ConfigMap")["youwei-config"]
    assert config_map["data"]["AUDIT_SIGNING_KEY_FILE"] == "/etc/youwei/audit/key.pem"


@pytest.mark.parametrize("overlay", ["prod", "prod-external-mongodb"])
def test_in_production_each_service_is_a_rabbitmq_user_of_its_own(overlay) -> None:
    """The services' authorization knows a caller by its broker-vouched user (docs/rpc.md):
    youwei-<service>, made by the Messaging Topology Operator; the policy is production's."""
    docs = documents(overlay)
    users = of_kind(docs, "User")
    permissions = of_kind(docs, "Permission")
    assert set(users) == set(permissions) == {f"youwei-{s}" for s in SERVICES}
    for name, deployment in of_kind(docs, "Deployment").items():
        secret = users[name]["spec"]["importCredentialsSecret"]["name"]
        assert secret == f"youwei-amqp-{name.removeprefix('youwei-')}"
        assert permissions[name]["spec"]["userReference"] == {"name": name}
        env = {e["name"]: e for e in pod_spec(deployment)["containers"][0]["env"]}
        for variable in ("RABBITMQ_USERNAME", "RABBITMQ_PASSWORD"):
            assert env[variable]["valueFrom"]["secretKeyRef"]["name"] == secret, (name, variable)
    config_map = of_kind(docs, "ConfigMap")["youwei-config"]
    assert config_map["data"]["YOUWEI_AUTH_POLICY"] == "production"
    assert "YOUWEI_AGENCIES" not in config_map["data"]


def test_the_config_map_sets_only_variables_the_services_read() -> None:
    config = (PROJECT_ROOT / "services" / "config.yaml").read_text()
    known = set(re.findall(r"\$\{([A-Z_]+):", config)) | {"CREATE_TABLE"}  # events.mongodb
    for overlay in OVERLAYS:
        config_map = of_kind(documents(overlay), "ConfigMap")["youwei-config"]
        assert set(config_map["data"]) <= known, set(config_map["data"]) - known


# --- releases, state, the broker, what to watch ------------------------------------------

#: Fields an update cannot change (the API server refuses the apply), by kind.
IMMUTABLE = {
    "Deployment": [("spec", "selector")],
    "StatefulSet": [
        ("spec", "selector"),
        ("spec", "serviceName"),
        ("spec", "volumeClaimTemplates"),
    ],
    "Job": [("spec", "template"), ("spec", "selector"), ("spec", "completions")],
    "Service": [("spec", "clusterIP")],
    "PersistentVolumeClaim": [("spec", "accessModes"), ("spec", "storageClassName")],
    "RoleBinding": [("roleRef",)],
    "PodDisruptionBudget": [],
}


def release_of(overlay: str, root: Path = PROJECT_ROOT) -> str:
    """The release a release file names: its tag, on one line with the digest if pinned; a
    digest on a line of its own is refused (a rollback changing the tag would keep it)."""
    component = yaml.safe_load((root / RELEASE_FILES[overlay]).read_text())
    [image] = [i for i in component["images"] if i["name"] == "youwei"]
    assert "digest" not in image, "the digest goes on the tag's line: newTag: <tag>@sha256:…"
    [labels] = component["labels"]
    tag = str(image["newTag"]).partition("@")[0]
    assert labels["pairs"]["app.kubernetes.io/version"] == tag
    return tag


def set_release(overlay: str, root: Path, release: str, digest: str = "") -> None:
    """What docs/operations.md says to do for a release: both lines of the release file, the
    tag's with the build's digest once pushed."""
    path = root / RELEASE_FILES[overlay]
    old = release_of(overlay, root)
    pinned = f"{release}@sha256:{digest}" if digest else release
    text = re.sub(r"newTag: \S+", f"newTag: {pinned}", path.read_text())
    text = text.replace(
        f"app.kubernetes.io/version: {old}", f"app.kubernetes.io/version: {release}"
    )
    path.write_text(text)


def containers(doc: dict) -> list[dict]:
    if doc["kind"] not in {"Deployment", "StatefulSet", "Job", "CronJob"}:
        return []
    spec = pod_spec(doc)
    return [*spec.get("initContainers", []), *spec["containers"]]


def dig(doc: dict, path: tuple[str, ...]):
    for key in path:
        doc = (doc or {}).get(key)
    return doc


def test_the_docs_name_the_release_files() -> None:
    operations = (PROJECT_ROOT / "docs" / "operations.md").read_text()
    for path in set(RELEASE_FILES.values()):
        assert path in operations, path


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_a_new_release_moves_every_container_and_changes_nothing_immutable(
    overlay, tmp_path
) -> None:
    """Two releases rendered from copies of k8s/, the second named as the docs say: every
    youwei container runs the new tag, the release's Jobs carry its name, and no object of
    what each release applies (nor of the state) differs in a field the API server would
    refuse to change."""
    before = tmp_path / "before"
    after = tmp_path / "after"
    for root in (before, after):
        shutil.copytree(PROJECT_ROOT / "k8s", root / "k8s")
    set_release(overlay, after, "0.2.0")
    assert release_of(overlay, after) == "0.2.0"
    old = {part: documents(overlay, part, before) for part in SETS}
    new = {part: documents(overlay, part, after) for part in SETS}
    images = [c["image"] for part in ("", "jobs") for d in new[part] for c in containers(d)]
    ours = [image for image in images if "youwei" in image.rpartition("/")[2]]
    # All but the MongoDB Database Tools' (the backup's and the restore's).
    assert [image for image in images if image not in ours] == ["mongo:8.0.4"] * 2
    expected_name = "youwei" if overlay == "dev" else "registry.example.org/youwei/youwei"
    assert ours and set(ours) == {f"{expected_name}:0.2.0"}, set(ours)
    assert set(of_kind(new["jobs"], "Job")) == {"youwei-db-init-0.2.0"}
    assert new["cluster"] == old["cluster"], "the state does not depend on the release"
    for part in ("", "cluster"):
        before_objects = {(d["kind"], d["metadata"]["name"]): d for d in old[part]}
        for doc in new[part]:
            key = (doc["kind"], doc["metadata"]["name"])
            assert doc["kind"] != "Job", f"{key}: a Job applied every release"
            for path in IMMUTABLE.get(doc["kind"], []):
                assert dig(doc, path) == dig(before_objects[key], path), (key, path)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_state_is_apart_from_what_a_release_applies_and_its_volumes_are_kept(overlay) -> None:
    """A release applies its services with --prune -l youwei.io/set=services (the docs): only
    they carry that label, so the state and the Jobs are never pruned."""
    for part, label in zip(SETS, ("services", "release-jobs", "state"), strict=True):
        for doc in documents(overlay, part):
            assert doc["metadata"]["labels"]["youwei.io/set"] == label, (part, doc["kind"])
    operations = (PROJECT_ROOT / "docs" / "operations.md").read_text()
    assert operations.count("--prune -l youwei.io/set=services") >= 2
    assert "--prune -l app.kubernetes.io" not in operations
    applied = {doc["kind"] for doc in documents(overlay)}
    assert not applied & STATEFUL_KINDS, applied & STATEFUL_KINDS
    state = documents(overlay, "cluster")
    assert {"Namespace", "PersistentVolumeClaim"} <= {doc["kind"] for doc in state}
    for stateful in of_kind(state, "StatefulSet").values():
        policy = stateful["spec"]["persistentVolumeClaimRetentionPolicy"]
        assert policy == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    for doc in of_kind(state, "RabbitmqCluster").values():
        retention = doc["spec"]["override"]["statefulSet"]["spec"]
        assert retention["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Retain"
    # The MongoDB operator's merge of spec.statefulSet drops a retention policy: none is
    # claimed there; the StorageClass's reclaimPolicy Retain keeps the members' data.
    for doc in of_kind(state, "MongoDBCommunity").values():
        assert "persistentVolumeClaimRetentionPolicy" not in doc["spec"]["statefulSet"]["spec"]
        assert "`reclaimPolicy` is `Retain`" in operations


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_create_no_indexes_and_only_records_scales_without_replicas(overlay) -> None:
    docs = documents(overlay)
    config_map = of_kind(docs, "ConfigMap")["youwei-config"]
    assert config_map["data"]["CREATE_TABLE"] == "no"
    deployments = of_kind(docs, "Deployment")
    for scaler in of_kind(docs, "HorizontalPodAutoscaler").values():
        target = deployments[scaler["spec"]["scaleTargetRef"]["name"]]
        assert "replicas" not in target["spec"], target["metadata"]["name"]
    for name, deployment in deployments.items():
        if name != "youwei-records":
            assert deployment["spec"]["replicas"] >= 1, name


def test_the_mongodb_operator_finds_its_rbac_in_the_namespace() -> None:
    state = documents("prod", "cluster")
    assert "mongodb-database" in of_kind(state, "ServiceAccount")
    role = of_kind(state, "Role")["mongodb-database"]
    assert {"secrets", "pods"} <= {r for rule in role["rules"] for r in rule["resources"]}
    binding = of_kind(state, "RoleBinding")["mongodb-database"]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": "mongodb-database"}  # fmt: skip
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "mongodb-database",
                                    "namespace": "youwei"}]  # fmt: skip
    assert of_kind(documents("prod-external-mongodb", "cluster"), "Role") == {}


@pytest.mark.parametrize("overlay", ["prod", "prod-external-mongodb"])
def test_the_broker_speaks_tls_keeps_a_majority_and_keeps_parked_messages(overlay) -> None:
    docs = documents(overlay)
    state = documents(overlay, "cluster")
    rabbit = of_kind(state, "RabbitmqCluster")["youwei-rabbitmq"]
    tls = rabbit["spec"]["tls"]
    assert tls["disableNonTLSListeners"] is True and tls["secretName"] and tls["caSecretName"]
    config = rabbit["spec"]["rabbitmq"]["additionalConfig"]
    # Every durable queue declared without a type is quorum; reply queues are declared
    # classic (events.identity.agency.REPLY_QUEUE_ARGUMENTS), as the file and the docs say.
    assert "default_queue_type = quorum" in config
    from events.identity.agency import REPLY_QUEUE_ARGUMENTS

    assert REPLY_QUEUE_ARGUMENTS["x-queue-type"] == "classic"
    header = (PROJECT_ROOT / "k8s/overlays/prod/cluster/rabbitmq-cluster.yaml").read_text()
    assert "declared classic" in header and "replicated three times" not in header
    assert "**Reply queues are classic**" in (PROJECT_ROOT / "docs/operations.md").read_text()
    for deployment in of_kind(docs, "Deployment").values():
        env = {e["name"]: e for e in pod_spec(deployment)["containers"][0]["env"]}
        assert (
            env["AMQP_URI"]["value"].startswith("amqps://") and ":5671/" in env["AMQP_URI"]["value"]
        )
        assert env["SSL_CERT_FILE"]["value"] == "/etc/youwei/rabbitmq-ca/ca.crt"
        mounts = {m["mountPath"] for m in pod_spec(deployment)["containers"][0]["volumeMounts"]}
        assert "/etc/youwei/rabbitmq-ca" in mounts
    budgets = {doc["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]: doc["spec"]
               for doc in of_kind(state, "PodDisruptionBudget").values()}  # fmt: skip
    members = {"youwei-rabbitmq"} | ({"youwei-mongodb"} if overlay == "prod" else set())
    assert set(budgets) == members
    assert all(budget == {"maxUnavailable": 1, "selector": budget["selector"]}
               for budget in budgets.values())  # fmt: skip
    [parked] = of_kind(state, "Policy").values()
    assert parked["spec"]["pattern"] == r"\.parked$"
    assert parked["spec"]["applyTo"] == "quorum_queues"
    assert parked["spec"]["definition"] == {"delivery-limit": -1}
    policy = of_kind(state, "NetworkPolicy")["youwei-rabbitmq-ingress"]
    ports = {p["port"] for rule in policy["spec"]["ingress"] for p in rule.get("ports", [])}
    assert ports == {5671, 15671, 15691}, ports


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_backup_runs_as_its_own_identity_through_its_own_network_policy(overlay) -> None:
    docs = documents(overlay)
    backup = of_kind(docs, "CronJob")["youwei-backup"]
    assert pod_labels(backup)["app.kubernetes.io/name"] == "youwei-backup"
    [container] = pod_spec(backup)["containers"]
    assert container["image"].startswith("mongo:")  # the image holds mongodump
    assert "mongodump" in container["args"][0] and "--oplog" in container["args"][0]
    env = {e["name"]: e for e in container["env"]}
    secret = env["BACKUP_URI"]["valueFrom"]["secretKeyRef"]
    expected = {"dev": ("youwei-mongodb-backup", "uri"),
                "prod": ("youwei-mongodb-backup-connection", "connectionString.standard"),
                "prod-external-mongodb": ("youwei-secrets", "MONGODB_BACKUP_URI")}  # fmt: skip
    assert (secret["name"], secret["key"]) == expected[overlay]
    volumes = {v["name"]: v for v in pod_spec(backup)["volumes"]}
    assert volumes["backups"]["persistentVolumeClaim"]["claimName"] == "youwei-backups"
    assert "youwei-backups" in of_kind(documents(overlay, "cluster"), "PersistentVolumeClaim")
    policies = of_kind(docs + documents(overlay, "cluster"), "NetworkPolicy")
    own = policies["youwei-backup"]
    assert own["spec"]["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "youwei-backup"}
    assert set(own["spec"]["policyTypes"]) == {"Ingress", "Egress"} and "ingress" not in own["spec"]
    if overlay != "prod-external-mongodb":
        admitted = policies["youwei-mongodb-ingress"]["spec"]["ingress"][0]["from"]
        assert {"matchLabels": {"app.kubernetes.io/name": "youwei-backup"}} in [
            peer["podSelector"] for peer in admitted
        ]
    else:
        assert "youwei-backup-egress-external-mongodb" in policies
    ledger = of_kind(docs, "CronJob")["youwei-erasure-ledger"]
    assert pod_spec(ledger)["containers"][0]["args"] == ["youwei", "erasures", "sync"]


def documented_alerts() -> set[str]:
    operations = (PROJECT_ROOT / "docs" / "operations.md").read_text()
    section = operations.split("### Alerts", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `(Youwei\w+)` \|", section, re.M))


def test_the_monitoring_objects_match_the_documented_alerts_and_metrics() -> None:
    from events.runtime.metrics import REGISTRY

    docs = documents("prod")
    [rule] = of_kind(docs, "PrometheusRule").values()
    rules = [r for group in rule["spec"]["groups"] for r in group["rules"]]
    alerts = {r["alert"] for r in rules}
    assert alerts == documented_alerts() and len(alerts) == len(rules)
    ours = {name for metric in REGISTRY.collect() for name in
            (metric.name, f"{metric.name}_total", f"{metric.name}_bucket")}  # fmt: skip
    elsewhere = {"youwei_checkpoint_signing_refused_total"}  # events.audit.checkpoints counts it
    dashboard = json.loads(
        of_kind(docs, "ConfigMap")["youwei-grafana-dashboard"]["data"]["youwei.json"]
    )
    expressions = [r["expr"] for r in rules] + [
        target["expr"] for panel in dashboard["panels"] for target in panel["targets"]
    ]
    used = {m for e in expressions for m in re.findall(r"\b(youwei_[a-z_]+)\b", e)}
    assert used - ours - elsewhere == set(), used - ours - elsewhere
    for needed in (
        "youwei_consumer_lag_events",
        "youwei_event_retries_total",
        "youwei_event_parks_total",
        "youwei_unsigned_event_age_seconds",
        "youwei_access_refused_total",
        "youwei_checkpoint_signing_refused_total",
    ):
        assert needed in used, needed
    parked = next(r for r in rules if r["alert"] == "YouweiParkedMessages")
    assert "rabbitmq_detailed_queue_messages" in parked["expr"]
    monitors = of_kind(docs, "ServiceMonitor")
    rabbit = monitors["youwei-rabbitmq"]["spec"]["endpoints"][0]
    assert (
        rabbit["path"] == "/metrics/detailed"
        and "queue_coarse_metrics" in rabbit["params"]["family"]
    )
    services = monitors["youwei"]["spec"]["selector"]["matchLabels"]
    metrics_service = of_kind(docs, "Service")["youwei-metrics"]
    assert services.items() <= metrics_service["metadata"]["labels"].items()
    for deployment in of_kind(docs, "Deployment").values():
        assert metrics_service["spec"]["selector"].items() <= pod_labels(deployment).items()
