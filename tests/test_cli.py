"""The ``youwei`` command: ``audit verify`` and ``projections`` (the local stack is in
test_local_stack.py)."""

from __future__ import annotations

import subprocess
import sys
from uuid import uuid4

import pytest
from click.testing import CliRunner
from eventsourcing.persistence import StoredEvent

from events.log.datastore import MongoDBDatastore
from events.log.recorders import MongoDBApplicationRecorder
from events.log.transcoding import transcoder
from tests.events.support import fresh_database_name, new_factory
from youwei.cli import main

pytestmark = pytest.mark.plain  # once, in the plain pass (tests/conftest.py)


def test_audit_verify_reports_a_clean_log_and_a_broken_one(mongodb_uri) -> None:
    database = fresh_database_name()
    factory = new_factory(database, name="Registry")
    try:
        factory.application_recorder().insert_events(
            [StoredEvent(uuid4(), v, "tests:E", b"{}") for v in (1, 2, 3)]
        )
        runner = CliRunner()
        args = ["audit", "verify", "--unpinned", "--uri", mongodb_uri, "--database", database]
        clean = runner.invoke(main, args)  # intact, but nothing signed yet: exit 3, not ok
        assert clean.exit_code == 3, clean.output
        assert "registry_events: ok, 3 events, 0 signed checkpoints, head 3" in clean.output
        assert "NOT SIGNED YET" in clean.output and "NOT VERIFIED: nothing signed" in clean.output

        factory.datastore.database["registry_events"].update_one(
            {"position": 2}, {"$set": {"topic": "tests:Forged"}}
        )
        broken = runner.invoke(main, [*args, "--log", "registry_events"])
        assert broken.exit_code == 1
        assert "registry_events: BROKEN at position 2" in broken.output
    finally:
        factory.datastore.client.drop_database(database)
        factory.close()


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
        assert (
            wrong.exit_code == 2
            and "personal: not one of personnel, public, keywork" in wrong.output
        )
    finally:
        datastore.client.drop_database(database)
        datastore.close()


def test_the_demos_help_names_the_year_it_loads() -> None:
    from youwei.demo.steps import YEAR

    result = CliRunner().invoke(main, ["demo", "--help"])
    assert result.exit_code == 0 and f"synthetic year ({YEAR})" in " ".join(result.output.split())


def test_audit_help_shows_the_database_variables_as_defaults() -> None:
    """--help showed mongodb://127.0.0.1:27017 as the default while MONGODB_URI was used."""
    for command in (["verify"], ["witness"], ["history"]):
        shown = " ".join(CliRunner().invoke(main, ["audit", *command, "--help"]).output.split())
        assert "$MONGODB_URI, else mongodb://127.0.0.1:27017" in shown, shown
        assert "$MONGODB_DATABASE, else youwei" in shown, shown


def test_the_client_console_says_how_to_use_it() -> None:
    """``python -m youwei.client --help`` took ``--help`` for the broker's address."""
    done = subprocess.run([sys.executable, "-m", "youwei.client", "--help"], capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0 and done.stdout.startswith("usage: python -m youwei.client")
