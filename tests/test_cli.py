"""The ``youwei`` command: the local stack's life cycle and ``audit verify``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from uuid import uuid4

import pymongo
from click.testing import CliRunner
from eventsourcing.persistence import StoredEvent

from events.mongodb import MongoDBApplicationRecorder, MongoDBDatastore
from events.transcoding import transcoder
from tests.events.support import fresh_database_name, new_factory
from youwei.cli import main
from youwei.stack import free_port

YOUWEI = [sys.executable, "-m", "youwei"]
RPC_CALL = """
import eventlet; eventlet.monkey_patch()
import json, sys, uuid
from events.identity import IdentifiedClusterRpcProxy
with IdentifiedClusterRpcProxy({"AMQP_URI": sys.argv[1]}, timeout=60) as cluster:
    print(json.dumps(cluster.cadre_registry.register_unit({
        "command_id": str(uuid.uuid4()), "actor": {"agency": "test", "person": "test"},
        "name": "玉溪市"})))
"""


def test_audit_verify_reports_a_clean_log_and_a_broken_one(mongodb_uri) -> None:
    database = fresh_database_name()
    factory = new_factory(database, name="Registry")
    try:
        factory.application_recorder().insert_events(
            [StoredEvent(uuid4(), v, "tests:E", b"{}") for v in (1, 2, 3)]
        )
        runner = CliRunner()
        args = ["audit", "verify", "--uri", mongodb_uri, "--database", database]
        clean = runner.invoke(main, args)
        assert clean.exit_code == 0, clean.output
        assert "registry_events: ok, 3 events, 0 signed checkpoints, head 3" in clean.output

        factory.datastore.database["registry_events"].update_one(
            {"position": 2}, {"$set": {"topic": "tests:Forged"}}
        )
        broken = runner.invoke(main, [*args, "--log", "registry_events"])
        assert broken.exit_code == 1
        assert "registry_events: BROKEN at position 2" in broken.output
    finally:
        factory.datastore.client.drop_database(database)
        factory.close()


def test_up_status_down_keep_the_data(tmp_path: Path, rabbit_config) -> None:
    """The whole stack, with its database on a port and folder of this test's and its
    services on a RabbitMQ vhost of this test's."""
    port, web = free_port(), free_port()
    env = {
        **os.environ,
        "YOUWEI_MONGODB_PORT": str(port),
        "WEB_SERVER_ADDRESS": f"127.0.0.1:{web}",
        "YOUWEI_STATE_DIR": str(tmp_path),
        "AMQP_URI": rabbit_config["AMQP_URI"],
    }

    def youwei(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*YOUWEI, *args], env=env, capture_output=True, text=True, timeout=180, check=False
        )

    try:
        up = youwei("up", "--no-sync-on-commit")
        assert up.returncode == 0, up.stderr
        assert f"mongodb://127.0.0.1:{port}" in up.stdout
        assert youwei("up", "--no-sync-on-commit").returncode == 0, "up is idempotent"
        status = youwei("status")
        assert status.returncode == 0, status.stdout
        services = "cadre_registry, evaluations, inspections, accountability, records"
        assert f"services    {services} up" in status.stdout
        assert f"public page http://127.0.0.1:{web}/" in up.stdout
        with urllib.request.urlopen(f"http://127.0.0.1:{web}/records.json", timeout=30) as page:
            assert json.load(page)["total"] == 0

        uri = f"mongodb://127.0.0.1:{port}"
        call = subprocess.run(
            [sys.executable, "-c", RPC_CALL, rabbit_config["AMQP_URI"]],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert call.returncode == 0, call.stderr
        unit_id = json.loads(call.stdout)["unit_id"]
        with pymongo.MongoClient(uri) as client:
            client.youwei.kept.insert_one({"_id": "survives", "down": "and up"})
            assert client.youwei.cadreregistry_events.count_documents({}) == 2

        down = youwei("down")
        assert down.returncode == 0
        assert "services stopped" in down.stdout and "SecantusDB stopped" in down.stdout
        status = youwei("status")
        assert status.returncode == 1 and "down" in status.stdout

        assert youwei("up", "--no-sync-on-commit").returncode == 0
        with pymongo.MongoClient(uri, uuidRepresentation="standard") as client:
            registered = client.youwei.cadreregistry_events.find_one({"position": 1})
            assert str(registered["originator_id"]) == unit_id
            assert client.youwei.kept.find_one({"_id": "survives"}) == {
                "_id": "survives",
                "down": "and up",
            }
    finally:
        youwei("down")


def test_projections_status_and_rebuild(mongodb_uri) -> None:
    database = fresh_database_name()
    datastore = MongoDBDatastore(mongodb_uri, database)
    state = transcoder().encode({"name": "玉溪市", "parent_id": None})
    registry = datastore.collection("cadreregistry_events")
    recorder = MongoDBApplicationRecorder(datastore, registry.name)
    recorder.create_table()
    unit = uuid4()
    recorder.insert_events([StoredEvent(unit, 1, "services.cadre_registry.domain:Unit.Registered",
                                        state)])  # fmt: skip
    runner = CliRunner()
    where = ["--uri", mongodb_uri, "--database", database]
    try:
        before = runner.invoke(main, ["projections", "status", *where])
        assert before.exit_code == 0, before.output
        assert "personnel (generation 1)" in before.output
        assert "cadre_registry  position         0  head         1  lag 1" in before.output
        rebuilt = runner.invoke(main, ["projections", "rebuild", "personnel", *where])
        assert rebuilt.exit_code == 0, rebuilt.output
        assert "personnel: generation 2 live at cadre_registry 1, evaluations 0" in rebuilt.output
        units = datastore.collection("personnel_g2_units").find_one({"_id": str(unit)})
        assert units == {"_id": str(unit), "name": "玉溪市"}
        after = runner.invoke(main, ["projections", "status", *where])
        assert (
            "personnel (generation 2)" in after.output and "public (generation 1)" in after.output
        )
        assert "cadre_registry  position         1  head         1  lag 0" in after.output
        wrong = runner.invoke(main, ["projections", "rebuild", "personal", *where])
        assert wrong.exit_code == 2 and "personal: not one of personnel, public" in wrong.output
    finally:
        datastore.client.drop_database(database)
        datastore.close()
