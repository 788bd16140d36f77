"""The deployment files, validated offline: docker-compose.yml against the compose
specification, k8s/ rendered (every overlay) and every manifest against Kubernetes' schemas,
a security scan (checkov) of the manifests and the Dockerfile with every skip explained, and
what the files must say (probes, security contexts, network policies, the image's user and
base). The validators live in .local/deploy-tools (scripts/deploy-tools, run by
scripts/bootstrap; run here too if missing) and need no network."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from youwei import entrypoint
from youwei.stack import PROJECT_ROOT

TOOLS = PROJECT_ROOT / ".local" / "deploy-tools" / "bin"
OVERLAYS = ("dev", "prod", "prod-external-mongodb")
#: Custom resources of the operators (RabbitMQ Cluster Operator, its Messaging Topology
#: Operator, MongoDB Community Operator): kubernetes-validate has no schema for them (it
#: bundles Kubernetes' own) and their CRDs are not vendored here; they are checked field by
#: field in test_the_operators_resources_say_what_production_needs instead.
OPERATOR_KINDS = {"RabbitmqCluster", "MongoDBCommunity", "User", "Permission"}
OPERATOR_GROUPS = {"rabbitmq.com", "mongodbcommunity.mongodb.com"}
KUBERNETES_VERSIONS = ("1.30", "1.37")  # the oldest still common, and the newest bundled
SERVICES = {"cadre-registry", "evaluations", "inspections", "accountability", "records"}


def tool(name: str) -> str:
    path = TOOLS / name
    if not path.exists():  # a checkout whose bootstrap predates the tools
        subprocess.run([str(PROJECT_ROOT / "scripts" / "deploy-tools")], check=True)
    return str(path)


def run(*command: str, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, capture_output=True, text=True, env=env or dict(os.environ), **kwargs
    )


@cache
def rendered(overlay: str) -> str:
    result = run(tool("kubectl"), "kustomize", str(PROJECT_ROOT / "k8s" / "overlays" / overlay))
    assert result.returncode == 0, result.stderr
    return result.stdout


def documents(overlay: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(rendered(overlay)) if doc]


def of_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def pod_spec(doc: dict) -> dict:
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return doc["spec"]["template"]["spec"]


def pod_labels(doc: dict) -> dict:
    template = (
        doc["spec"]["jobTemplate"]["spec"]["template"]
        if doc["kind"] == "CronJob"
        else doc["spec"]["template"]
    )
    return template["metadata"]["labels"]


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
    docs = documents(overlay)
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
    assert budgets == SERVICES and scalers == {f"youwei-{s}" for s in SERVICES}
    [account] = of_kind(docs, "ServiceAccount").values()
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
    for doc in [*deployments.values(), *of_kind(docs, "Job").values(),
                *of_kind(docs, "CronJob").values()]:  # fmt: skip
        assert_restricted(doc)


def assert_restricted(doc: dict) -> None:
    spec = pod_spec(doc)
    name = doc["metadata"]["name"]
    assert spec["automountServiceAccountToken"] is False and spec["serviceAccountName"] == "youwei"
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
    jobs = of_kind(docs, "Job")
    assert pod_spec(jobs["youwei-db-init"])["containers"][0]["args"] == ["youwei", "db", "init"]
    rebuild = jobs["youwei-projections-rebuild"]
    assert rebuild["spec"]["suspend"] is True
    assert pod_spec(rebuild)["containers"][0]["args"] == ["youwei", "projections", "rebuild"]
    cron = of_kind(docs, "CronJob")["youwei-audit-verify"]
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert pod_spec(cron)["containers"][0]["args"] == ["youwei", "audit", "verify"]


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
    expected = {("youwei-rabbitmq", 5672), ("kube-dns", 53), ("youwei-mongodb", 27017)}
    if overlay == "prod-external-mongodb":
        expected |= {(f"192.0.2.{n}/32", 27017) for n in (10, 11, 12)}
    assert reachable == expected
    [ingress] = of_kind(docs, "Ingress").values()
    backends = {p["backend"]["service"]["name"]
                for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]}  # fmt: skip
    assert backends == {"youwei-records"} and ingress["spec"]["tls"]
    assert set(of_kind(docs, "Service")) - {"youwei-mongodb", "youwei-rabbitmq"} == {
        "youwei-records"
    }
    for service in of_kind(docs, "Service").values():
        assert service["spec"].get("type", "ClusterIP") == "ClusterIP"


def test_the_operators_resources_say_what_production_needs() -> None:
    docs = documents("prod")
    rabbit = of_kind(docs, "RabbitmqCluster")["youwei-rabbitmq"]
    assert rabbit["apiVersion"] == "rabbitmq.com/v1beta1" and rabbit["spec"]["replicas"] == 3
    assert "default_queue_type = quorum" in rabbit["spec"]["rabbitmq"]["additionalConfig"]
    mongodb = of_kind(docs, "MongoDBCommunity")["youwei-mongodb"]
    assert mongodb["apiVersion"] == "mongodbcommunity.mongodb.com/v1"
    assert mongodb["spec"]["members"] == 3 and mongodb["spec"]["type"] == "ReplicaSet"
    tls = mongodb["spec"]["security"]["tls"]
    assert tls["enabled"] is True and tls["optional"] is False
    [user] = mongodb["spec"]["users"]
    assert user["roles"] == [{"name": "readWrite", "db": "youwei"}]
    for deployment in of_kind(docs, "Deployment").values():
        env = {e["name"]: e for e in pod_spec(deployment)["containers"][0]["env"]}
        names = list(env)
        assert names.index("RABBITMQ_PASSWORD") < names.index("AMQP_URI")  # defined, then used
        assert env["MONGODB_URI"]["value"].startswith("$(MONGODB_CONNECTION_STRING)&tlsCAFile=")
        secret = env["MONGODB_CONNECTION_STRING"]["valueFrom"]["secretKeyRef"]
        assert secret["name"] == user["connectionStringSecretName"]
        volumes = {v["name"]: v for v in pod_spec(deployment)["volumes"]}
        assert volumes["audit-signing-key"]["secret"]["secretName"] == "youwei-audit-signing-key"
    [config_map] = of_kind(docs, "ConfigMap").values()
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
    [config_map] = of_kind(docs, "ConfigMap").values()
    assert config_map["data"]["YOUWEI_AUTH_POLICY"] == "production"
    assert "YOUWEI_AGENCIES" not in config_map["data"]


def test_the_config_map_sets_only_variables_the_services_read() -> None:
    config = (PROJECT_ROOT / "services" / "config.yaml").read_text()
    known = set(re.findall(r"\$\{([A-Z_]+):", config)) | {"CREATE_TABLE"}  # events.mongodb
    for overlay in OVERLAYS:
        [config_map] = of_kind(documents(overlay), "ConfigMap").values()
        assert set(config_map["data"]) <= known, set(config_map["data"]) - known


# --- checkov -----------------------------------------------------------------------------


def checkov(path: Path, framework: str) -> dict:
    result = run(
        tool("checkov"), "--file", str(path), "--framework", framework, "--skip-download",
        "--output", "json",
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stderr[-3000:]
    report = json.loads(result.stdout)
    return report[0] if isinstance(report, list) else report


def assert_no_unexplained_findings(report: dict) -> list[str]:
    results = report.get("results", {})
    failed = [f"{c['check_id']} {c['resource']}" for c in results.get("failed_checks", [])]
    assert failed == [], failed
    assert report["summary"]["passed"] > 0, "checkov checked nothing"
    assert report["summary"]["parsing_errors"] == 0
    skips = []
    for check in results.get("skipped_checks", []):
        reason = (check.get("check_result") or {}).get("suppress_comment", "")
        assert len(reason) > 40, f"{check['check_id']} {check['resource']}: no reason given"
        skips.append(check["check_id"])
    return skips


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_checkov_finds_nothing_unexplained_in_the_manifests(overlay, tmp_path) -> None:
    manifests = tmp_path / f"{overlay}.yaml"
    manifests.write_text(rendered(overlay))
    skips = assert_no_unexplained_findings(checkov(manifests, "kubernetes"))
    allowed = {"CKV_K8S_43", "CKV_K8S_35"} | ({"CKV_K8S_15"} if overlay == "dev" else set())
    assert set(skips) <= allowed, set(skips) - allowed


def test_checkov_finds_nothing_in_the_dockerfile_and_catches_a_root_image(tmp_path) -> None:
    dockerfile = PROJECT_ROOT / "Dockerfile"
    assert assert_no_unexplained_findings(checkov(dockerfile, "dockerfile")) == []
    rootful = tmp_path / "Dockerfile"
    rootful.write_text(re.sub(r"(?m)^USER .*$", "", dockerfile.read_text()))
    failed = checkov(rootful, "dockerfile")["results"]["failed_checks"]
    assert "CKV_DOCKER_3" in {c["check_id"] for c in failed}  # the scan would catch it


# --- the image ---------------------------------------------------------------------------


def stages() -> list[tuple[str, list[str]]]:
    """(FROM line, the stage's instructions) per stage, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (PROJECT_ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]
    found: list[tuple[str, list[str]]] = []
    for line in lines:
        if line.upper().startswith("FROM "):
            found.append((line, []))
        elif found:
            found[-1][1].append(line)
    return found


def test_the_image_is_slim_pinned_non_root_and_without_build_tools() -> None:
    built = stages()
    assert len(built) == 2, "a build stage and a runtime stage"
    bases = {re.match(r"FROM (\S+)", line).group(1) for line, _ in built}
    [base] = bases  # both stages on the same base
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", base), base
    final_from, final = built[-1]
    assert final_from.endswith(" AS runtime")
    users = [line.split()[1] for line in final if line.startswith("USER ")]
    assert users and users[-1].split(":")[0].isdigit() and int(users[-1].split(":")[0]) >= 10000
    final_text = "\n".join(final)
    for tool_name in ("apt-get", "gcc", "g++", "make ", "build-essential", "python3-dev"):
        assert tool_name not in final_text, tool_name
    assert "pip uninstall --yes pip" in final_text  # no installer left in the image
    assert 'ENTRYPOINT ["python", "-m", "youwei.entrypoint"]' in final_text
    assert "COPY --from=build /wheels /wheels" in final_text
    ignored = (PROJECT_ROOT / ".dockerignore").read_text().splitlines()
    assert ignored[ignored.index("*")] == "*", "the build context is only what is named"


def test_the_image_lock_satisfies_the_project_and_holds_its_closure() -> None:
    lock = {}
    for line in (PROJECT_ROOT / "deploy" / "image-requirements.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            lock[canonicalize_name(name)] = version
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    for requirement in map(Requirement, project["dependencies"]):
        name = canonicalize_name(requirement.name)
        assert name in lock, f"{name} is missing: run scripts/image-lock"
        assert requirement.specifier.contains(lock[name], prereleases=True), (name, lock[name])
        for extra in requirement.extras:  # eventsourcing[crypto]
            from importlib.metadata import distribution

            for sub in map(Requirement, distribution(requirement.name).requires or []):
                if sub.marker and sub.marker.evaluate({"extra": extra}):
                    assert canonicalize_name(sub.name) in lock, sub


def test_the_entrypoint_runs_services_by_name_or_the_youwei_command() -> None:
    environ = {"YOUWEI_CONFIG": "/app/services/config.yaml"}
    assert entrypoint.command(["records"], environ) == [
        "nameko", "run", "services.records.service", "--config", "/app/services/config.yaml",
    ]  # fmt: skip
    every = entrypoint.command(["all"], {})
    assert every[2:-2] == [f"services.{s}.service" for s in entrypoint.SERVICES]
    assert every[-1] == "services/config.yaml"
    assert entrypoint.command(["youwei", "audit", "verify"]) == ["youwei", "audit", "verify"]
    with pytest.raises(entrypoint.UsageError, match="not a service: relay"):
        entrypoint.command(["relay"])
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    shown = run(sys.executable, "-m", "youwei.entrypoint", "youwei", "db", "--help", env=env)
    assert shown.returncode == 0 and "init" in shown.stdout, shown.stderr
    refused = run(sys.executable, "-m", "youwei.entrypoint", "nosuch", env=env)
    assert refused.returncode == 2 and "not a service: nosuch" in refused.stderr


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_log_format_selects_json_or_text_logs(log_format) -> None:
    """nameko run applies services/config.yaml's LOGGING; LOG_FORMAT picks the formatter."""
    program = (
        "import logging.config, yaml\n"
        "from nameko.cli.main import setup_yaml_parser\n"
        "setup_yaml_parser()\n"
        "config = yaml.safe_load(open('services/config.yaml'))\n"
        "logging.config.dictConfig(config['LOGGING'])\n"
        "logging.getLogger('youwei.test').warning('relay %s lost its lease', 'inspections')\n"
    )
    env = {**os.environ, "LOG_FORMAT": log_format, "LOG_LEVEL": "INFO"}
    result = run(sys.executable, "-c", program, env=env, cwd=PROJECT_ROOT)
    assert result.returncode == 0, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    if log_format == "json":
        record = json.loads(line)
        assert record["message"] == "relay inspections lost its lease"
        assert record["level"] == "WARNING" and record["logger"] == "youwei.test"
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", record["time"])
    else:
        assert line.endswith("WARNING youwei.test: relay inspections lost its lease")
        with pytest.raises(json.JSONDecodeError):
            json.loads(line)
