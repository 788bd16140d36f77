"""A restore on Kubernetes, as docs/operations.md ("Back up and restore") gives it (the
operator walk-through of 2026-12-08): a database user the whole restore may load as, a Job
template that runs steps 2-4 with the dumps and a working folder that outlives its pod,
admitted to the database; every CronJob that writes suspended while it runs and resumed
after; and every Secret a manifest names on the documented list."""

from __future__ import annotations

import re

import pytest

from tests.deploy import OVERLAYS, documents, of_kind, pod_labels, pod_spec
from tests.test_deploy_order import made_by_their_owners
from youwei.stack import PROJECT_ROOT

pytestmark = pytest.mark.plain

OPERATIONS = PROJECT_ROOT / "docs" / "operations.md"
#: CronJobs never scheduled: templates an operator makes a Job from.
TEMPLATES = {"youwei-projections-rebuild", "youwei-restore"}


def restore_text() -> str:
    text = OPERATIONS.read_text()
    return text.split("**Restore**", 1)[1].split("\n**The drill**", 1)[0]


def admits(policy: dict, labels: dict) -> bool:
    """Whether a NetworkPolicy's ingress admits a pod of this namespace with these labels."""
    for rule in policy["spec"].get("ingress", []):
        for peer in rule.get("from", []):
            selector = peer.get("podSelector")
            if (
                selector is not None
                and "namespaceSelector" not in peer
                and selector.get("matchLabels", {}).items() <= labels.items()
            ):
                return True
    return False


def test_production_declares_a_user_the_whole_restore_loads_as() -> None:
    """mongorestore --drop --oplogReplay needs the role restore and anyAction on anyResource,
    held by a user the dump holds: one the MongoDBCommunity declares, whose password Secret
    is on the documented list and whose connection string the restore Job reads."""
    [mongodb] = of_kind(documents("prod", "cluster"), "MongoDBCommunity").values()
    users = {user["name"]: user for user in mongodb["spec"]["users"]}
    restore = users["youwei-restore"]
    roles = {(role["name"], role["db"]) for role in restore["roles"]}
    assert ("restore", "admin") in roles
    custom = {(r["role"], r["db"]): r for r in mongodb["spec"]["security"]["roles"]}
    [replay] = [custom[role] for role in roles if role in custom]
    assert {"resource": {"anyResource": True}, "actions": ["anyAction"]} in replay["privileges"]
    assert roles - set(custom) == {("restore", "admin")}  # nothing more
    owners = made_by_their_owners("prod")
    assert ("Secret", restore["passwordSecretRef"]["name"]) in owners
    assert ("Secret", restore["connectionStringSecretName"]) in owners
    job = of_kind(documents("prod"), "CronJob")["youwei-restore"]
    [mongorestore] = [c for c in pod_spec(job)["initContainers"] if c["name"] == "mongorestore"]
    uri = {e["name"]: e for e in mongorestore["env"]}["RESTORE_URI"]["valueFrom"]["secretKeyRef"]
    assert uri["name"] == restore["connectionStringSecretName"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_a_restore_job_runs_steps_two_to_four_in_order_with_the_dumps_read_only(overlay) -> None:
    docs = documents(overlay)
    job = of_kind(docs, "CronJob")["youwei-restore"]
    assert job["spec"]["suspend"] is True and job["spec"]["schedule"] == "0 0 31 2 *"
    spec = pod_spec(job)
    steps = [*spec["initContainers"], *spec["containers"]]
    assert [c["name"] for c in steps] == ["prepare", "mongorestore", "finish"]
    assert "youwei restore prepare" in steps[0]["args"][0]
    assert steps[1]["image"].startswith("mongo:") and "mongorestore" in steps[1]["args"][0]
    assert "youwei restore finish" in steps[2]["args"][0]
    volumes = {v["name"]: v for v in spec["volumes"]}
    claims = {name: v["persistentVolumeClaim"] for name, v in volumes.items()
              if "persistentVolumeClaim" in v}  # fmt: skip
    assert claims["backups"] == {"claimName": "youwei-backups", "readOnly": True}
    state = of_kind(documents(overlay, "cluster"), "PersistentVolumeClaim")
    assert claims["work"]["claimName"] in state  # outlives the pod, never pruned
    for step in steps:
        mounts = {m["name"]: m for m in step["volumeMounts"]}
        assert "work" in mounts, step["name"]
        assert "backups" not in mounts or mounts["backups"].get("readOnly") is True
    # Its pods are the backup's: they reach the database and DNS only, and are admitted.
    policies = of_kind(docs + documents(overlay, "cluster"), "NetworkPolicy")
    labels = pod_labels(job)
    selecting = {name for name, p in policies.items()
                 if p["spec"]["podSelector"]["matchLabels"].items() <= labels.items()}  # fmt: skip
    assert "youwei-backup" in selecting and "youwei-egress-broker-database-dns" not in selecting
    if overlay != "prod-external-mongodb":
        assert admits(policies["youwei-mongodb-ingress"], labels)
        assert not admits(policies["youwei-mongodb-ingress"], {"app.kubernetes.io/name": "x"})


def test_the_documented_job_is_made_from_the_template_and_names_its_dump() -> None:
    text = restore_text()
    assert "--from=cronjob/youwei-restore" in text
    assert "create configmap youwei-restore --from-literal=DUMPED_AT=" in text
    assert re.search(r"wait --for=condition=complete job/youwei-restore-\S+", text)


def cronjob_lists(text: str) -> list[set[str]]:
    found = re.findall(
        r"for cronjob in ([^;]+); do\n\s+kubectl -n youwei patch cronjob \$cronjob "
        r"-p '\{\"spec\":\{\"suspend\":(true|false)\}\}'",
        text,
    )
    return [(set(names.split()), suspend) for names, suspend in found]


@pytest.mark.parametrize("overlay", ["prod", "prod-external-mongodb"])
def test_a_restore_suspends_every_scheduled_cronjob_and_resumes_them(overlay) -> None:
    """Every CronJob that runs on a schedule writes (the audit checkpoint signs a log head
    and records it) or reads what the restore replaces; the apply after does not resume
    them (no suspend field in the rendered CronJobs)."""
    cronjobs = of_kind(documents(overlay), "CronJob")
    assert all("suspend" not in job["spec"] for name, job in cronjobs.items()
               if name not in TEMPLATES)  # fmt: skip
    scheduled = set(cronjobs) - TEMPLATES
    (suspended, down), (resumed, up) = cronjob_lists(restore_text())
    assert (down, up) == ("true", "false")
    assert suspended == scheduled, suspended ^ scheduled
    assert resumed == suspended
    text = restore_text()
    assert text.index('"suspend":false') > text.index("youwei restore finish")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_secret_a_manifest_names_is_made_by_a_file_or_on_the_list(overlay) -> None:
    """An Ingress names its TLS Secret; without it the controller serves its own
    certificate."""
    made = made_by_their_owners(overlay) | {
        (d["kind"], d["metadata"]["name"])
        for part in ("", "jobs", "cluster")
        for d in documents(overlay, part)
    }
    for ingress in of_kind(documents(overlay), "Ingress").values():
        for tls in ingress["spec"].get("tls", []):
            assert ("Secret", tls["secretName"]) in made, tls["secretName"]
