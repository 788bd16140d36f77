"""Positions are gap-free and issued in commit order, also across processes (here: separate
clients, so each has its own group committer and they really race on the log's head)."""

from __future__ import annotations

import random
import threading
from uuid import uuid4

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent, Tracking

from events.audit.verify import verify_log
from events.log.groupcommit import Pending
from events.log.recorders import _Append, _stored_event_row
from tests.events.support import FreshDatabase, new_factory

WRITERS_PER_CLIENT = 3
CLIENTS = 3
APPENDS_PER_WRITER = 15


class TestLogOrder(FreshDatabase):
    def test_a_tailing_reader_never_sees_a_gap_while_clients_race(self) -> None:
        factories = [new_factory(self.database_name, name="Race") for _ in range(CLIENTS)]
        for factory in factories:
            self.addCleanup(factory.close)
        recorders = [factory.application_recorder() for factory in factories]
        appended: list[tuple[list[int], list[StoredEvent]]] = []
        errors: list[BaseException] = []
        writers_done = threading.Event()

        def write(recorder) -> None:
            try:
                for _ in range(APPENDS_PER_WRITER):
                    originator = uuid4()
                    events = [
                        StoredEvent(originator, v, "tests:Raced", b"{}")
                        for v in range(1, random.randint(1, 5) + 1)
                    ]
                    appended.append((list(recorder.insert_events(events)), events))
            except BaseException as error:
                errors.append(error)

        seen: list[int] = []

        def tail() -> None:
            reader = recorders[0]
            try:
                while True:
                    finished = writers_done.is_set()
                    batch = reader.select_notifications(
                        seen[-1] if seen else None, 1000, inclusive_of_start=False
                    )
                    for notification in batch:
                        expected = (seen[-1] if seen else 0) + 1
                        assert notification.id == expected, (
                            f"saw {notification.id} before {expected}"
                        )
                        seen.append(notification.id)
                    if finished and not batch:
                        return
            except BaseException as error:
                errors.append(error)

        threads = [
            threading.Thread(target=write, args=(recorder,))
            for recorder in recorders
            for _ in range(WRITERS_PER_CLIENT)
        ]
        reader = threading.Thread(target=tail)
        reader.start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        writers_done.set()
        reader.join()
        if errors:
            raise errors[0]

        total = sum(len(events) for _, events in appended)
        assert len(appended) == CLIENTS * WRITERS_PER_CLIENT * APPENDS_PER_WRITER
        assert seen == list(range(1, total + 1))
        stored = {n.id: n for n in recorders[0].select_notifications(1, total + 1)}
        for ids, events in appended:
            assert ids == list(range(ids[0], ids[0] + len(events))), (
                "an append's ids are contiguous"
            )
            for position, event in zip(ids, events, strict=True):
                assert (stored[position].originator_id, stored[position].originator_version) == (
                    event.originator_id,
                    event.originator_version,
                )
        assert verify_log(self.factory.datastore.database, "race_events").ok

    def test_a_conflicting_append_in_a_group_fails_alone(self) -> None:
        recorder = self.factory.process_recorder()
        taken = uuid4()
        recorder.insert_events([StoredEvent(taken, 1, "tests:First", b"{}")])
        fine_before, fine_after = uuid4(), uuid4()

        def pending(originator, version, tracking=None) -> Pending:
            row = _stored_event_row(StoredEvent(originator, version, "tests:Grouped", b"{}"))
            return Pending(_Append([row], tracking), 1)

        group = [
            pending(fine_before, 1, Tracking("upstream", 5)),
            pending(taken, 1),  # the version exists: this append must fail, alone
            pending(fine_after, 1, Tracking("upstream", 3)),  # tracking going back: fails too
            pending(fine_after, 1, Tracking("upstream", 6)),
        ]
        recorder._write_group(group)

        assert [p.settled for p in group] == [True] * 4
        assert group[0].result == [2] and group[3].result == [3]
        assert isinstance(group[1].error, IntegrityError)
        assert isinstance(group[2].error, IntegrityError)
        assert recorder.max_notification_id() == 3
        assert recorder.max_tracking_id("upstream") == 6
        assert [e.originator_id for e in recorder.select_notifications(1, 10)] == [
            taken,
            fine_before,
            fine_after,
        ]
        assert verify_log(self.factory.datastore.database, "stored_events").ok


@pytest.mark.parametrize("value", ["0", "-5", "many"])
def test_bad_numeric_settings_are_refused_with_the_setting_named(value) -> None:
    with pytest.raises(OSError, match="MONGODB_GROUP_COMMIT_MAX_EVENTS"):
        new_factory("unused", MONGODB_GROUP_COMMIT_MAX_EVENTS=value)
