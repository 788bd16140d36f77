"""Acknowledged means written on a majority and journaled, whatever the cluster's defaults;
and an append whose commit landed though its reply was lost is a success, not a conflict."""

from __future__ import annotations

import os
from pathlib import Path
from uuid import uuid4

import pytest
from eventsourcing.persistence import IntegrityError, OperationalError, StoredEvent, Tracking
from pymongo import monitoring
from pymongo.errors import ConnectionFailure

from events.log.datastore import MongoDBDatastore, transaction_options
from events.log.recorders import MongoDBProcessRecorder
from tests.commitcut import CommitCutter
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


class LostReply(MongoDBDatastore):
    """A datastore whose next transaction commits but is reported as pymongo reports a
    commit whose reply was lost (``lose``), or is run a second time after committing, as
    ``with_transaction`` does after a transient error (``rerun``)."""

    fault: str | None = None

    def transaction(self, callback):
        fault, self.fault = self.fault, None
        result = super().transaction(callback)
        if fault == "lose":
            lost = ConnectionFailure("connection closed before the commit's reply")
            lost._add_error_label("UnknownTransactionCommitResult")
            raise OperationalError(str(lost)) from lost
        if fault == "rerun":
            return super().transaction(callback)
        return result


@pytest.fixture
def lossy():
    name = fresh_database_name()
    datastore = LostReply(os.environ["MONGODB_URI"], name)
    recorder = MongoDBProcessRecorder(datastore, "things_events", "things_tracking")
    recorder.create_table()
    yield recorder
    datastore.client.drop_database(name)
    datastore.close()


@pytest.mark.parametrize("fault", ["lose", "rerun"])
def test_an_append_whose_commit_outcome_was_unknown_and_is_stored_is_a_success(
    lossy, fault
) -> None:
    """The commit landed, its outcome was unknown to the appender: the same events (same
    ids, versions, states) found at consecutive positions, its tracking recorded: their
    positions, and nothing appended twice."""
    thing, other = uuid4(), uuid4()
    lossy.insert_events([stored(other, 1)])
    events = [stored(thing, 1, b'{"a":1}'), stored(thing, 2, b'{"a":2}')]
    lossy.datastore.fault = fault
    assert lossy.insert_events(events, tracking=Tracking("upstream", 3)) == [2, 3]
    assert lossy.max_notification_id() == 3
    assert lossy.insert_events([stored(other, 2)]) == [4]  # the head was read again


def test_the_same_events_stored_again_without_a_lost_commit_are_a_conflict(recorder) -> None:
    """eventsourcing's rule: an event already stored is an IntegrityError."""
    thing = uuid4()
    events = [stored(thing, 1, b'{"a":1}')]
    recorder.insert_events(events)
    with pytest.raises(IntegrityError):
        recorder.insert_events(events)
    assert recorder.max_notification_id() == 1


def test_a_true_conflict_still_raises_and_writes_nothing(lossy) -> None:
    thing = uuid4()
    lossy.insert_events([stored(thing, 1, b'{"a":1}')], tracking=Tracking("upstream", 1))
    conflicts = {
        "another state": ([stored(thing, 1, b'{"a":"other"}')], None),
        "one of two stored": ([stored(thing, 1, b'{"a":1}'), stored(thing, 2)], None),
        "tracking not recorded": ([stored(thing, 1, b'{"a":1}')], Tracking("elsewhere", 1)),
    }
    for case, (events, tracking) in conflicts.items():
        lossy.datastore.fault = "rerun"  # as if a transient error had come after a commit
        with pytest.raises(IntegrityError):
            lossy.insert_events(events, tracking=tracking)
        assert lossy.max_notification_id() == 1, case
        assert lossy.max_tracking_id("elsewhere") is None, case


def test_an_append_whose_commit_reply_is_dropped_on_the_wire_is_stored_once() -> None:
    """A proxy lets the commit through and drops the connection before its reply: the
    appender never hears the outcome, and still gets its positions, its events once."""
    server_port = int(os.environ["MONGODB_URI"].rsplit(":", 1)[1])
    cutter = CommitCutter(server_port, cut=lambda: None)
    name = fresh_database_name()
    datastore = MongoDBDatastore(f"{cutter.uri}/?directConnection=true", name)
    try:
        recorder = MongoDBProcessRecorder(datastore, "things_events", "things_tracking")
        recorder.create_table()
        thing = uuid4()
        recorder.insert_events([stored(thing, 1, b'{"a":1}')])
        cutter.arm()
        events = [stored(thing, 2, b'{"a":2}'), stored(thing, 3, b'{"a":3}')]
        assert recorder.insert_events(events, tracking=Tracking("upstream", 9)) == [2, 3]
        assert cutter.done.is_set() and cutter.cuts == 1
        assert recorder.max_notification_id() == 3
        assert [e.originator_version for e in recorder.select_events(thing)] == [1, 2, 3]
        assert recorder.max_tracking_id("upstream") == 9
    finally:
        datastore.client.drop_database(name)
        datastore.close()
        cutter.close()


def test_every_transaction_of_the_project_goes_through_the_datastore() -> None:
    """Appends, tracking, projections, views and the rest commit through
    ``MongoDBDatastore.transaction`` (whose commands the tests above watch): no other code
    opens a session or a transaction of its own."""
    root = Path(__file__).resolve().parents[2]
    opened = [
        f"{path.relative_to(root)}:{number}"
        for folder in ("events", "services", "youwei", "schemas")
        for path in sorted((root / folder).rglob("*.py"))
        if path != root / "events" / "log" / "datastore.py"
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if "start_session(" in line or "with_transaction(" in line
    ]
    assert opened == []
