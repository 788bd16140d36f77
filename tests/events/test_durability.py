"""Acknowledged means written on a majority and journaled, whatever the cluster's defaults;
and an append whose commit landed though its reply was lost is a success, not a conflict."""

from __future__ import annotations

import os
from uuid import uuid4

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent, Tracking
from pymongo import monitoring

from events.mongodb import MongoDBDatastore, MongoDBProcessRecorder, transaction_options
from tests.events.support import fresh_database_name


class Listener(monitoring.CommandListener):
    def __init__(self) -> None:
        self.commands: list[dict] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.commands.append({"name": event.command_name, **dict(event.command)})

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
def recorder():
    listener = Listener()
    name = fresh_database_name()
    datastore = MongoDBDatastore(os.environ["MONGODB_URI"], name, event_listeners=[listener])
    recorder = MongoDBProcessRecorder(datastore, "things_events", "things_tracking")
    recorder.create_table()
    recorder.listener = listener
    yield recorder
    datastore.client.drop_database(name)
    datastore.close()


def stored(originator_id, version: int, state: bytes = b"{}") -> StoredEvent:
    return StoredEvent(originator_id, version, "tests:Thing.Happened", state)


def test_every_commit_is_majority_and_journaled_and_every_transaction_reads_majority(
    recorder,
) -> None:
    thing = uuid4()
    recorder.insert_events([stored(thing, 1)])
    recorder.insert_events([stored(thing, 2)], tracking=Tracking("upstream", 7))
    commits = [c for c in recorder.listener.commands if c["name"] == "commitTransaction"]
    assert len(commits) == 2
    for commit in commits:
        assert commit["writeConcern"]["w"] == "majority" and commit["writeConcern"]["j"] is True
    first_of_each = [c for c in recorder.listener.commands if c.get("startTransaction")]
    assert len(first_of_each) == 2
    for command in first_of_each:
        assert command["readConcern"]["level"] == "majority"


def test_the_read_concern_can_only_be_made_stronger() -> None:
    assert transaction_options("snapshot").read_concern.level == "snapshot"
    for weaker in ("local", "available", "linearizable", ""):
        with pytest.raises(ValueError, match="MONGODB_READ_CONCERN"):
            transaction_options(weaker)


def test_an_append_found_stored_whole_is_a_success(recorder) -> None:
    """The commit landed, its reply was lost, the append is sent again: the same events (same
    ids, versions, states) at consecutive positions, its tracking recorded: its positions."""
    thing, other = uuid4(), uuid4()
    recorder.insert_events([stored(other, 1)])
    events = [stored(thing, 1, b'{"a":1}'), stored(thing, 2, b'{"a":2}')]
    positions = recorder.insert_events(events, tracking=Tracking("upstream", 3))
    assert positions == [2, 3]
    assert recorder.insert_events(events, tracking=Tracking("upstream", 3)) == [2, 3]
    assert recorder.max_notification_id() == 3  # nothing appended twice


def test_a_true_conflict_still_raises_and_writes_nothing(recorder) -> None:
    thing = uuid4()
    recorder.insert_events([stored(thing, 1, b'{"a":1}')], tracking=Tracking("upstream", 1))
    conflicts = {
        "another state": ([stored(thing, 1, b'{"a":"other"}')], None),
        "one of two stored": ([stored(thing, 1, b'{"a":1}'), stored(thing, 2)], None),
        "tracking not recorded": ([stored(thing, 1, b'{"a":1}')], Tracking("elsewhere", 1)),
    }
    for case, (events, tracking) in conflicts.items():
        with pytest.raises(IntegrityError):
            recorder.insert_events(events, tracking=tracking)
        assert recorder.max_notification_id() == 1, case
        assert recorder.max_tracking_id("elsewhere") is None, case
