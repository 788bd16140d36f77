"""The install, in the order docs/operations.md gives it: each overlay's sets rendered as
applied (the state, then the release's Jobs, awaited, then the services), and every
ServiceAccount, ConfigMap, Secret and volume claim that a pod, Job or CronJob names made by
a set applied before it or with it, or on the documented list of what their owners create.
A Job whose ServiceAccount comes later is never created (``FailedCreate … serviceaccount
not found``) and the install waits on it forever."""

from __future__ import annotations

import re

import pytest

from tests.deploy import (
    INSTALL_ORDER,
    OVERLAYS,
    POD_KINDS,
    SERVICES,
    documents,
    pod_references,
)
from youwei.stack import PROJECT_ROOT

pytestmark = pytest.mark.plain

OPERATIONS = PROJECT_ROOT / "docs" / "operations.md"
#: Made by Kubernetes in every namespace.
ALWAYS_THERE = {("ServiceAccount", "default")}


def made_by_their_owners(overlay: str) -> set[tuple[str, str]]:
    """The documented list (docs/operations.md, the install's step 4): what no file holds."""
    section = OPERATIONS.read_text().split("## Install", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\s*\| `([a-z0-9<>-]+)` \| (\w+) \| ([a-z, -]+) \| [^|]+\|$", section, re.M)
    assert rows, "the list of what the files do not hold is gone from the install"
    made = set()
    for name, kind, overlays in rows:
        if overlay in {o.strip() for o in overlays.split(",")}:
            names = (
                [name.replace("<service>", s) for s in SERVICES] if "<service>" in name else [name]
            )
            made |= {(kind, n) for n in names}
    return made


def missing_at_install(overlay: str) -> list[str]:
    """What a pod of a set names that neither an earlier set, its own, nor the list makes."""
    available = ALWAYS_THERE | made_by_their_owners(overlay)
    missing = []
    for part in INSTALL_ORDER:
        docs = documents(overlay, part)
        available |= {(doc["kind"], doc["metadata"]["name"]) for doc in docs}
        for doc in docs:
            if doc["kind"] in POD_KINDS:
                for kind, name in sorted(pod_references(doc) - available):
                    missing.append(
                        f"{part or 'services'}: {doc['metadata']['name']} needs {kind} {name}"
                    )
    return missing


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_a_pod_names_exists_when_its_set_is_applied(overlay) -> None:
    assert missing_at_install(overlay) == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_nothing_on_the_owners_list_is_also_in_a_file(overlay) -> None:
    """The list says what an operator or an operator's controller makes; an object of the
    files on it would be made twice, one copy overwriting the other."""
    in_files = {
        (d["kind"], d["metadata"]["name"]) for p in INSTALL_ORDER for d in documents(overlay, p)
    }
    assert made_by_their_owners(overlay) & in_files == set()


def test_the_references_of_a_pod_are_all_found() -> None:
    """The check itself: a Job as the install once had it names a ServiceAccount and a
    ConfigMap that only the services' set made, and a Secret by key."""
    job = {
        "kind": "Job",
        "spec": {"template": {"spec": {
            "serviceAccountName": "youwei",
            "containers": [{
                "envFrom": [{"configMapRef": {"name": "youwei-config"}},
                            {"secretRef": {"name": "maybe", "optional": True}}],
                "env": [{"name": "U",
                         "valueFrom": {"secretKeyRef": {"name": "youwei-secrets", "key": "U"}}}],
            }],
            "volumes": [{"name": "a", "projected": {"sources": [{"configMap": {"name": "ca"}}]}},
                        {"name": "b", "persistentVolumeClaim": {"claimName": "youwei-backups"}},
                        {"name": "c", "secret": {"secretName": "key"}}],
        }}},
    }  # fmt: skip
    assert pod_references(job) == {
        ("ServiceAccount", "youwei"),
        ("ConfigMap", "youwei-config"),
        ("Secret", "youwei-secrets"),
        ("ConfigMap", "ca"),
        ("PersistentVolumeClaim", "youwei-backups"),
        ("Secret", "key"),
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_docs_apply_the_sets_in_the_tested_order(overlay) -> None:
    """docs/operations.md (prod) and each overlay's own comment give the same order: the
    state, the Jobs (awaited), the services."""
    texts = [(PROJECT_ROOT / "k8s" / "overlays" / overlay / "kustomization.yaml").read_text()]
    if overlay == "prod":
        texts.append(OPERATIONS.read_text().split("## Install", 1)[1].split("\n## ", 1)[0])
    base = f"k8s/overlays/{overlay}"
    for text in texts:
        steps = [
            text.index(f"kubectl apply -k {base}/cluster"),
            text.index(f"kubectl apply -k {base}/jobs"),
            text.index("--for=condition=complete job/youwei-db-init-"),
            text.index(f"kubectl apply -k {base} --prune"),
        ]
        assert steps == sorted(steps), overlay


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_deleting_the_services_leaves_the_broker_and_the_database_guarded(overlay) -> None:
    """``kubectl delete -k k8s/overlays/<overlay>`` deletes the services' set: the
    NetworkPolicies that admit only youwei's pods to the broker and the database are state,
    applied with them and never deleted with the services."""
    guards = {"youwei-rabbitmq-ingress"} | (
        set() if overlay == "prod-external-mongodb" else {"youwei-mongodb-ingress"}
    )
    services = {d["metadata"]["name"] for d in documents(overlay) if d["kind"] == "NetworkPolicy"}
    state = {
        d["metadata"]["name"]: d["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
        for d in documents(overlay, "cluster")
        if d["kind"] == "NetworkPolicy"
    }
    assert set(state) == guards and not services & guards
    assert set(state.values()) <= {"youwei-rabbitmq", "youwei-mongodb"}
