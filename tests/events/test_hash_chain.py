"""The log proves its own integrity: any change to a stored event is found at its position,
by ``events.audit.verify`` and by ``scripts/verify-log``, written from docs/log-format.md alone."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import pymongo
import pytest
from eventsourcing.persistence import StoredEvent

from events.audit.verify import verify_log
from events.log.chain import EVENT_FIELDS, GENESIS_HASH
from events.log.recorders import HEADS_COLLECTION
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
@pytest.mark.parametrize("field", EVENT_FIELDS)
def test_changing_any_field_of_any_event_is_found_at_its_position(database, position, field):
    original = database[LOG].find_one({"position": position})
    changed = {"$set": {field: _changed(field, original[field])}}
    database[LOG].update_one({"_id": original["_id"]}, changed)
    assert_broken_at(database, position)
    database[LOG].replace_one({"_id": original["_id"]}, original)
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
    forged = {**last, "position": EVENTS + 1, "originator_version": 2, "prev_hash": last["hash"]}
    del forged["_id"]
    database[LOG].insert_one(forged)
    assert_broken_at(database, EVENTS + 1)


def test_reordered_events_are_found(database):
    second, third = database[LOG].find_one({"position": 2}), database[LOG].find_one({"position": 3})
    database[LOG].delete_many({"position": {"$in": [2, 3]}})
    database[LOG].insert_many([{**third, "position": 2}, {**second, "position": 3}])
    assert_broken_at(database, 2)


def test_a_document_without_a_position_is_found(database):
    database[LOG].insert_one({"topic": "tests:Smuggled", "state": b"{}"})
    verdict = verify_log(database, LOG)
    assert not verdict.ok and "no integer position" in verdict.first_break.reason


def test_a_changed_head_is_found(database):
    database[HEADS_COLLECTION].update_one({"_id": LOG}, {"$set": {"hash": GENESIS_HASH}})
    assert_broken_at(database, EVENTS)


@contextlib.contextmanager
def appending_meanwhile(database):
    """A writer appending to the log until the block ends (after its first append)."""
    factory = new_factory(database.name, name="Audited")
    recorder = factory.application_recorder()
    stop, appending = threading.Event(), threading.Event()

    def append_continuously() -> None:
        while not stop.is_set():
            recorder.insert_events([StoredEvent(uuid4(), 1, "tests:Live", b"{}")])
            appending.set()

    writer = threading.Thread(target=append_continuously)
    writer.start()
    try:
        assert appending.wait(30)
        yield
    finally:
        stop.set()
        writer.join()
        factory.close()


def test_a_log_verifies_while_it_grows(database):
    with appending_meanwhile(database):
        verdicts = [verify_log(database, LOG) for _ in range(5)]
        report = standalone_verify(database)
    assert all(v.ok for v in verdicts), [v.first_break for v in verdicts if not v.ok]
    assert verdicts[-1].events_checked > EVENTS, "the writer appended during verification"
    assert report["ok"], report


def test_a_forged_event_far_beyond_the_head_is_found_while_the_log_grows(database):
    last = database[LOG].find_one({"position": EVENTS})
    forged = {**last, "position": 100_000, "originator_version": 99, "prev_hash": last["hash"]}
    del forged["_id"]
    database[LOG].insert_one(forged)
    with appending_meanwhile(database):
        verdict = verify_log(database, LOG)
        report = standalone_verify(database)
    assert not verdict.ok and verdict.first_break.position == 100_000, verdict.first_break
    assert not report["ok"] and report["first_break_position"] == 100_000, report


def test_a_missing_head_is_a_break_at_position_zero(database):
    database[HEADS_COLLECTION].delete_one({"_id": LOG})
    assert_broken_at(database, 0)
