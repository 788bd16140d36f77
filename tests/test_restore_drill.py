"""The restore drill over SecantusDB, as docs/operations.md's "Back up and restore" runs it:
dump (youwei backup: mongodump --oplog's stand-in here, the ledger's database in the dump as
mongodump puts it there), erase a cadre and a rater and rotate the audit key after it,
restore the dump (youwei restore load overwrites the ledger as mongorestore --oplogReplay
--drop does): the erased stay erased, the new audit key still signs, the projections are
rebuilt and every log verifies. tests/test_restore_commands.py checks the documented
mongodump and mongorestore lines against the tools' own rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import bson
import pytest
from bson.binary import UuidRepresentation
from bson.codec_options import CodecOptions
from click.testing import CliRunner
from nameko.testing.services import worker_factory
from pymongo import MongoClient

from events.audit.checkpoints import Keys, load_private_key, new_private_key_pem, sign_head
from events.audit.verify import logs
from events.identity.personal import KEYS_COLLECTION, subject_of
from services.cadre_registry.application import CadreRegistry
from services.cadre_registry.service import CadreRegistryService
from services.evaluations.application import Evaluations
from services.evaluations.service import EvaluationsService
from tests.events.support import fresh_database_name
from tests.services.support import RATER_KEY, FixedClock, command
from youwei.backup import LEDGER_COLLECTION, still_keyed
from youwei.cli import main

NAME, KEPT_NAME = "司马青云", "欧阳明月"
CODEC = CodecOptions(uuid_representation=UuidRepresentation.STANDARD)


def mentions(database, word: str) -> list[str]:
    needle = word.encode()
    return [f"{name} {document.get('_id')}"
            for name in database.list_collection_names()
            for document in database[name].find()
            if needle in bson.encode(document, codec_options=CODEC)]  # fmt: skip


def youwei(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def city(mongodb_uri):
    name = fresh_database_name()
    env = {"PERSISTENCE_MODULE": "events.mongodb", "MONGODB_URI": mongodb_uri,
           "MONGODB_DATABASE": name, "EVALUATIONS_RATER_KEY": RATER_KEY}  # fmt: skip
    registry_app, evaluations_app = CadreRegistry(env=env), Evaluations(env=env)
    clock = FixedClock(date(2026, 12, 31))  # after every day the drill names
    registry = worker_factory(CadreRegistryService, registry=registry_app, clock=clock)
    evaluations = worker_factory(
        EvaluationsService, evaluations=evaluations_app, cadre_registry=registry, clock=clock
    )
    client = MongoClient(mongodb_uri, uuidRepresentation="standard", tz_aware=True)
    yield (
        registry,
        evaluations,
        evaluations_app,
        client[name],
        ["--uri", mongodb_uri, "--database", name],
    )
    registry_app.close()
    evaluations_app.close()
    client.drop_database(name)
    client.drop_database(f"{name}_erasures")
    client.close()


def register(registry, unit: str, name: str) -> str:
    return registry.register_cadre(
        command(name=name, gender="female", birth_date="1979-03-02", unit_id=unit, post="科长",
                rank="township_section", post_kind="leadership", effective_date="2025-01-01")
    )["cadre_id"]  # fmt: skip


def test_a_restored_dump_keeps_every_erasure_since_it_and_verifies(city, tmp_path) -> None:
    registry, evaluations, evaluations_app, database, where = city
    unit = registry.register_unit(command(name="市交通运输局"))["unit_id"]
    erased, kept = register(registry, unit, NAME), register(registry, unit, KEPT_NAME)
    rating = {"cadre_id": kept, "channel": "questionnaire", "period": "2026-03",
              "value": 80, "rater_ref": "问卷-0001"}  # fmt: skip
    evaluations.submit_rating(command(**rating))
    old_key, new_key = tmp_path / "old.pem", tmp_path / "new.pem"
    old_key.write_bytes(new_private_key_pem())
    new_key.write_bytes(new_private_key_pem())
    for log in logs(database):
        sign_head(database, load_private_key(old_key), log)

    youwei("backup", "--to", str(tmp_path / "dump"), *where)
    ledger_name = f"{database.name}_erasures"
    assert set(read_manifest(tmp_path / "dump")["databases"]) == {database.name, ledger_name}

    # After the dump: a cadre and a rater erased, the audit key rotated and used.
    registry.erase_personal_data(
        command(cadre_id=erased, reason="本人申请", erased_on=date(2026, 4, 2).isoformat())
    )
    evaluations.erase_rater(
        command(rater_ref="问卷-0001", reason="本人申请", erased_on="2026-04-02")
    )
    Keys(database).rotate(load_private_key(old_key), load_private_key(new_key))
    for log in logs(database):
        sign_head(database, load_private_key(new_key), log)
    # the rater's one key (the channel they rated on) is destroyed; other channels had none
    rater_subject = subject_of(evaluations_app.rater_hash("questionnaire", "问卷-0001"))
    youwei("erasures", "sync", *where)
    ledger = database.client[ledger_name][LEDGER_COLLECTION]
    erasures = {subject_of(erased), rater_subject}
    assert {d["_id"] for d in ledger.find()} >= erasures

    # The dump alone brings them back: it holds their keys, and its ledger (restored over
    # the live one, as mongorestore restores every database of the archive) knows nothing
    # of their erasures.
    youwei("restore", "prepare", "--to", str(tmp_path / "work"), *where)
    youwei("restore", "load", str(tmp_path / "dump"), *where)
    keys = database[KEYS_COLLECTION]
    assert keys.find_one({"_id": subject_of(erased)})["key"] is not None
    assert registry.get_cadre({"cadre_id": erased})["name"] == NAME
    assert not erasures & {d["_id"] for d in ledger.find()}, "the dump's ledger is restored"

    # Without the ledger prepare kept, finish refuses and changes nothing.
    (tmp_path / "nowhere").mkdir()
    refused = CliRunner().invoke(main, ["restore", "finish", "--dumped-at", "20260101T000000Z",
                                        "--work", str(tmp_path / "nowhere"), *where])  # fmt: skip
    assert refused.exit_code == 1 and "erasure_ledger.json" in refused.output, refused.output
    assert keys.find_one({"_id": subject_of(erased)})["key"] is not None

    # Finishing the restore merges the kept ledger back, re-applies the erasures, carries
    # the new key, rebuilds, verifies.
    output = youwei("restore", "finish", "--dumped-at", read_dumped_at(tmp_path / "dump"),
                    "--work", str(tmp_path / "work"), *where)  # fmt: skip
    # the cadre's key, and the rater's on the one channel they rated through
    assert "2 erasure(s) re-applied" in output, output
    assert "every log verifies" in output and "personnel: rebuilt" in output
    assert {d["_id"] for d in ledger.find()} >= erasures, "the ledger is whole again"
    assert keys.find_one({"_id": subject_of(erased)})["key"] is None
    assert keys.find_one({"_id": rater_subject})["key"] is None
    assert registry.get_cadre({"cadre_id": erased})["name"] is None
    assert registry.get_cadre({"cadre_id": kept})["name"] == KEPT_NAME
    assert mentions(database, NAME) == []
    assert mentions(database, KEPT_NAME), "the kept cadre's file was rebuilt"
    # The key in service since the rotation signs the restored head (without the registry
    # carried over, it would be an unknown key and every signing would be refused).
    assert sign_head(database, load_private_key(new_key), "cadreregistry_events") is not None
    assert "BROKEN" not in youwei("audit", "verify", "--unpinned", *where)

    # A dump's time given too late (a mistyped stamp) misses no erasure: those the restored
    # ledger, the dump's, did not know are re-applied whatever the stamp says.
    youwei("restore", "prepare", "--to", str(tmp_path / "work-2"), *where)
    youwei("restore", "load", str(tmp_path / "dump"), *where)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y%m%dT%H%M%SZ")
    output = youwei("restore", "finish", "--dumped-at", tomorrow,
                    "--work", str(tmp_path / "work-2"), *where)  # fmt: skip
    assert "2 erasure(s) re-applied" in output, output
    assert keys.find_one({"_id": subject_of(erased)})["key"] is None
    assert keys.find_one({"_id": rater_subject})["key"] is None

    # Restoring the same dump again, in one step, ends the same way.
    output = youwei("restore", "all", str(tmp_path / "dump"), "--work",
                    str(tmp_path / "again"), *where)  # fmt: skip
    assert "every log verifies" in output
    assert registry.get_cadre({"cadre_id": erased})["name"] is None
    assert keys.find_one({"_id": rater_subject})["key"] is None


def read_manifest(directory) -> dict:
    import json

    return json.loads((directory / "manifest.json").read_text())


def read_dumped_at(directory) -> str:
    return read_manifest(directory)["started_at"]


def test_finish_names_every_person_erased_since_the_dump_who_still_has_a_key(city) -> None:
    *_, database, _ = city
    ledger = database.client[f"{database.name}_erasures"]
    when = datetime(2026, 4, 2, tzinfo=UTC)
    database[KEYS_COLLECTION].insert_many([
        {"_id": "keyed", "key": b"k" * 32},            # erased since the dump: a key again
        {"_id": "erased", "key": None, "erased_at": when},
        {"_id": "returned", "key": b"r" * 32},         # erased long before the dump
    ])  # fmt: skip
    ledger[LEDGER_COLLECTION].insert_many([
        {"_id": "keyed", "erased_at": when},
        {"_id": "erased", "erased_at": when},
        {"_id": "returned", "erased_at": when - timedelta(days=30)},
    ])  # fmt: skip
    assert still_keyed(database, ledger, when - timedelta(minutes=5)) == ["keyed"]


def test_a_restore_refuses_what_is_not_a_dump(city, tmp_path) -> None:
    *_, where = city
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(main, ["restore", "load", str(tmp_path / "empty"), *where])
    assert result.exit_code == 1 and "not a dump of youwei backup" in result.output
    result = CliRunner().invoke(main, ["restore", "finish", "--dumped-at", "yesterday",
                                       "--work", str(tmp_path / "empty"), *where])  # fmt: skip
    assert result.exit_code == 2 and "not a time" in result.output
