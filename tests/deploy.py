"""What the deployment tests share: the offline validators (``.local/deploy-tools``, made by
scripts/deploy-tools), and k8s/ overlays rendered with kustomize into their objects."""

from __future__ import annotations

import os
import subprocess
from functools import cache
from pathlib import Path

import yaml

from youwei.stack import PROJECT_ROOT

TOOLS = PROJECT_ROOT / ".local" / "deploy-tools" / "bin"
OVERLAYS = ("dev", "prod", "prod-external-mongodb")
#: Custom resources of the operators (RabbitMQ Cluster Operator, its Messaging Topology
#: Operator, MongoDB Community Operator): kubernetes-validate has no schema for them (it
#: bundles Kubernetes' own) and their CRDs are not vendored here; they are checked field by
#: field in test_the_operators_resources_say_what_production_needs instead.
OPERATOR_KINDS = {"RabbitmqCluster", "MongoDBCommunity", "User", "Permission", "TopicPermission",
                  "Policy", "ServiceMonitor", "PrometheusRule"}  # fmt: skip
OPERATOR_GROUPS = {"rabbitmq.com", "mongodbcommunity.mongodb.com", "monitoring.coreos.com"}
#: An overlay's sets: its services (applied each release, pruned), the release's one-shot
#: Jobs, and its state (applied once, never pruned).
SETS = ("", "jobs", "cluster")
#: Where docs/operations.md says a release is named, per overlay.
RELEASE_FILES = {
    "dev": "k8s/overlays/dev/release/kustomization.yaml",
    "prod": "k8s/overlays/prod/release/kustomization.yaml",
    "prod-external-mongodb": "k8s/overlays/prod/release/kustomization.yaml",
}
STATEFUL_KINDS = {"Namespace", "StatefulSet", "PersistentVolumeClaim", "RabbitmqCluster",
                  "MongoDBCommunity"}  # fmt: skip
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
def rendered(overlay: str, part: str = "", root: Path = PROJECT_ROOT) -> str:
    result = run(tool("kubectl"), "kustomize", str(root / "k8s" / "overlays" / overlay / part))
    assert result.returncode == 0, result.stderr
    return result.stdout


def documents(overlay: str, part: str = "", root: Path = PROJECT_ROOT) -> list[dict]:
    """The rendered objects of one set of an overlay (default: its services)."""
    return [doc for doc in yaml.safe_load_all(rendered(overlay, part, root)) if doc]


def every_document(overlay: str, root: Path = PROJECT_ROOT) -> list[dict]:
    return [doc for part in SETS for doc in documents(overlay, part, root)]


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


#: Kinds whose pods the API server makes from a template in the object.
POD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}
#: The sets in the order docs/operations.md applies them at install: the state, then the
#: release's Jobs (awaited), then the services.
INSTALL_ORDER = ("cluster", "jobs", "")


def pod_references(doc: dict) -> set[tuple[str, str]]:
    """Every (kind, name) of a ServiceAccount, ConfigMap, Secret or PersistentVolumeClaim that
    the pods of a workload name and need (an optional reference is left out): without it, the
    pod is never created or never starts."""
    spec = pod_spec(doc)
    needed = {("ServiceAccount", spec.get("serviceAccountName", "default"))}
    needed |= {("Secret", s["name"]) for s in spec.get("imagePullSecrets", [])}
    sources = []
    for volume in spec.get("volumes", []):
        sources.append(volume)
        sources += volume.get("projected", {}).get("sources", [])
        if "persistentVolumeClaim" in volume:
            needed.add(("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"]))
    for source in sources:
        if "configMap" in source and not source["configMap"].get("optional"):
            needed.add(("ConfigMap", source["configMap"]["name"]))
        if "secret" in source and not source["secret"].get("optional"):
            needed.add(("Secret", source["secret"].get("secretName") or source["secret"]["name"]))
    for container in [*spec.get("initContainers", []), *spec["containers"]]:
        for source in container.get("envFrom", []):
            for key, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                if key in source and not source[key].get("optional"):
                    needed.add((kind, source[key]["name"]))
        for variable in container.get("env", []):
            value_from = variable.get("valueFrom", {})
            for key, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                if key in value_from and not value_from[key].get("optional"):
                    needed.add((kind, value_from[key]["name"]))
    return needed
