"""The log proves its own integrity: any change to a stored event is found at its position,
by ``events.verify`` and by ``scripts/verify-log``, written from docs/log-format.md alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import pymongo
import pytest
from eventsourcing.persistence import StoredEvent

from events.logformat import GENESIS_HASH
from events.mongodb import HEADS_COLLECTION
from events.verify import verify_log
from tests.events.support import fresh_database_name, new_factory

ROOT = Path(__file__).resolve().parents[2]
LOG = "audited_events"
EVENTS = 10  # three appends of 3 events (UUID originators), one of 1 (a str originator)


@pytest.fixture
def database(mongodb_uri):
    """A fresh database holding one real log written by the recorder."""
    name = fresh_database_name()
    factory = new_factory(name, name="Audited")
    recorder = factory.application_recorder()
    for n in range(3):
        originator = uuid4()
        recorder.insert_events(
            [
                StoredEvent(originator, v, "tests:Happened", b'{"n":%d}' % (n * 10 + v))
                for v in (1, 2, 3)
            ]
        )
    recorder.insert_events([StoredEvent("cadre-0042", 1, "tests:Named", "名字".encode())])
    client = pymongo.MongoClient(mongodb_uri, uuidRepresentation="standard", tz_aware=True)
    yield client[name]
    client.drop_database(name)
    client.close()
    factory.close()


def standalone_verify(database) -> dict:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "verify-log"), "--uri", os.environ["MONGODB_URI"],
         "--database", database.name, "--log", LOG, "--json"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stderr
    [report] = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert report["ok"] == (result.returncode == 0)
    return report


def assert_broken_at(database, position: int) -> None:
    verdict = verify_log(database, LOG)
    assert not verdict.ok
    assert verdict.first_break.position == position, verdict.first_break
    report = standalone_verify(database)
    assert not report["ok"]
    assert report["first_break_position"] == position, report


def test_a_clean_log_verifies(database):
    verdict = verify_log(database, LOG)
    assert verdict.ok, verdict.first_break
    assert verdict.events_checked == EVENTS
    head = database[HEADS_COLLECTION].find_one({"_id": LOG})
    assert (verdict.head_position, verdict.head_hash) == (EVENTS, head["hash"])
    report = standalone_verify(database)
    assert report["ok"] and report["events_checked"] == EVENTS


def test_documents_are_readable_as_specified(database):
    first = database[LOG].find_one({"position": 1})
    assert sorted(first) == sorted(
        ["_id", "position", "originator_id", "originator_version", "topic", "state", "recorded_at",
         "prev_hash", "hash"]
    )  # fmt: skip
    assert first["prev_hash"] == GENESIS_HASH
    assert first["state"] == b'{"n":1}'
    second = database[LOG].find_one({"position": 2})
    assert second["prev_hash"] == first["hash"]
    assert database[LOG].find_one({"position": EVENTS})["originator_id"] == "cadre-0042"


def _changed(field: str, value):
    changes = {
        "position": lambda v: v + 1000,
        "originator_id": lambda v: uuid4() if not isinstance(v, str) else v + "x",
        "originator_version": lambda v: v + 100,
        "topic": lambda v: v + "x",
        "state": lambda v: bytes([v[0] ^ 1]) + v[1:],
        "recorded_at": lambda v: v + timedelta(milliseconds=1),
        "prev_hash": lambda v: ("1" if v[0] == "0" else "0") + v[1:],
        "hash": lambda v: ("1" if v[0] == "0" else "0") + v[1:],
    }
    return changes[field](value)


@pytest.mark.parametrize("position", [1, 5, EVENTS])
@pytest.mark.parametrize(
    "field",
    [
        "position",
        "originator_id",
        "originator_version",
        "topic",
        "state",
        "recorded_at",
        "prev_hash",
        "hash",
    ],
)
def test_changing_any_field_of_any_event_is_found_at_its_position(database, position, field):
    original = database[LOG].find_one({"position": position})
    database[LOG].update_one(
        {"position": position}, {"$set": {field: _changed(field, original[field])}}
    )
    assert_broken_at(database, position)
    database[LOG].replace_one({"position": position}, original)
    assert verify_log(database, LOG).ok


def test_a_field_of_another_type_is_found(database):
    database[LOG].update_one({"position": 4}, {"$set": {"state": "a string, not bytes"}})
    assert_broken_at(database, 4)


def test_an_added_field_is_found(database):
    database[LOG].update_one({"position": 6}, {"$set": {"note": "added later"}})
    assert_broken_at(database, 6)


def test_a_deleted_event_is_found(database):
    database[LOG].delete_one({"position": 3})
    assert_broken_at(database, 3)


def test_a_deleted_last_event_is_found(database):
    database[LOG].delete_one({"position": EVENTS})
    assert_broken_at(database, EVENTS)


def test_an_event_appended_behind_the_writers_back_is_found(database):
    last = database[LOG].find_one({"position": EVENTS})
    forged = {**last, "position": EVENTS + 1, "prev_hash": last["hash"]}
    del forged["_id"]
    database[LOG].insert_one(forged)
    assert_broken_at(database, EVENTS + 1)


def test_reordered_events_are_found(database):
    second, third = database[LOG].find_one({"position": 2}), database[LOG].find_one({"position": 3})
    database[LOG].replace_one({"position": 2}, {**third, "_id": second["_id"], "position": 2})
    database[LOG].replace_one({"position": 3}, {**second, "_id": third["_id"], "position": 3})
    assert_broken_at(database, 2)


def test_a_document_without_a_position_is_found(database):
    database[LOG].insert_one({"topic": "tests:Smuggled", "state": b"{}"})
    verdict = verify_log(database, LOG)
    assert not verdict.ok and "no position query finds" in verdict.first_break.reason


def test_a_changed_head_is_found(database):
    database[HEADS_COLLECTION].update_one({"_id": LOG}, {"$set": {"hash": GENESIS_HASH}})
    assert_broken_at(database, EVENTS)
