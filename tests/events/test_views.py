"""A log view applies every event of its log exactly once, even when several workers
catch it up at the same time, and rebuilds from the log alone."""

from __future__ import annotations

import os
import threading

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, DomainEvent, event
from pymongo.client_session import ClientSession

from events.readmodels.views import LogView
from tests.events.support import FreshDatabase


class Counter(Aggregate):
    @event("Created")
    def __init__(self, label: str) -> None:
        self.label = label

    @event("Incremented")
    def increment(self) -> None:
        pass


class Counters(Application):
    name = "Counters"


class EventsPerCounter(LogView):
    """Counts with ``$inc``: an event applied twice would be counted twice."""

    name = "counters_view"
    indexes = (("label",),)

    def apply(self, event: DomainEvent, session: ClientSession) -> None:
        update = {"$inc": {"events": 1}}
        if isinstance(event, Counter.Created):
            update["$set"] = {"label": event.label}
        self.documents.update_one(
            {"_id": event.originator_id}, update, upsert=True, session=session
        )


class TestLogView(FreshDatabase):
    def setUp(self) -> None:
        super().setUp()
        self.application = Counters(
            env={"PERSISTENCE_MODULE": "events.mongodb",
                 "MONGODB_URI": os.environ["MONGODB_URI"],
                 "MONGODB_DATABASE": self.database_name}
        )  # fmt: skip

    def tearDown(self) -> None:
        self.application.close()
        super().tearDown()

    def counters(self, n: int, increments: int) -> dict:
        expected = {}
        for i in range(n):
            counter = Counter(f"c{i}")
            for _ in range(increments):
                counter.increment()
            self.application.save(counter)
            expected[counter.id] = increments + 1
        return expected

    def counted(self, view: LogView) -> dict:
        return {d["_id"]: d["events"] for d in view.documents.find()}

    def test_a_query_sees_every_event_up_to_the_head(self) -> None:
        view = EventsPerCounter(self.application)
        expected = self.counters(3, 2)
        total, page = view.page({"label": "c1"}, [("label", 1)], 1, 10)
        assert total == 1 and page[0]["events"] == 3
        assert self.counted(view) == expected
        assert view.catch_up() == self.application.recorder.max_notification_id() == 9

    def test_concurrent_catch_ups_apply_each_event_once(self) -> None:
        expected = self.counters(40, 30)  # 1240 events: several batches
        views = [EventsPerCounter(self.application) for _ in range(4)]
        threads = [threading.Thread(target=view.catch_up) for view in views]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert self.counted(views[0]) == expected

    def test_a_dropped_view_rebuilds_from_the_log(self) -> None:
        view = EventsPerCounter(self.application)
        expected = self.counters(5, 1)
        view.catch_up()
        more = self.counters(2, 0)
        view.documents.drop()
        view.tracking.drop()
        rebuilt = EventsPerCounter(self.application)
        rebuilt.catch_up()
        assert self.counted(rebuilt) == {**expected, **more}
