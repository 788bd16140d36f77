"""A subscription waits for new events without holding up anything else: under eventlet
(the second run of the test command) a blocked hub would stop the ticker and the writer."""

from __future__ import annotations

import threading
import time
from uuid import uuid4

from eventsourcing.persistence import StoredEvent

from tests.events.support import FreshDatabase, new_factory


class TestSubscription(FreshDatabase):
    def test_waiting_for_an_event_leaves_other_threads_running(self) -> None:
        recorder = self.factory.application_recorder()
        ticks = 0
        stop_ticking = threading.Event()

        def tick() -> None:
            nonlocal ticks
            while not stop_ticking.is_set():
                ticks += 1
                time.sleep(0.01)

        originator = uuid4()

        def write_later() -> None:
            time.sleep(1.0)
            recorder.insert_events([StoredEvent(originator, 1, "tests:Late", b"{}")])

        ticker = threading.Thread(target=tick)
        writer = threading.Thread(target=write_later)
        with recorder.subscribe(gt=None) as subscription:
            ticker.start()
            writer.start()
            started = time.monotonic()
            notification = next(subscription)
            waited = time.monotonic() - started
        stop_ticking.set()
        ticker.join()
        writer.join()

        assert notification.originator_id == originator and notification.id == 1
        assert waited >= 0.9, "the subscription returned before the event was written"
        assert ticks >= 30, f"the ticker ran {ticks} times in {waited:.1f}s of waiting"

    def test_a_subscription_sees_every_event_of_concurrent_writers_in_order(self) -> None:
        writers = [new_factory(self.database_name) for _ in range(3)]
        for factory in writers:
            self.addCleanup(factory.close)
        total = 3 * 40

        def write(factory) -> None:
            recorder = factory.application_recorder()
            for _ in range(40):
                recorder.insert_events([StoredEvent(uuid4(), 1, "tests:Many", b"{}")])

        threads = [threading.Thread(target=write, args=(factory,)) for factory in writers]
        received = []
        with self.factory.application_recorder().subscribe(gt=None) as subscription:
            for thread in threads:
                thread.start()
            for notification in subscription:
                received.append(notification.id)
                if len(received) == total:
                    break
        for thread in threads:
            thread.join()
        assert received == list(range(1, total + 1))

    def test_topics_filter_what_a_subscription_yields(self) -> None:
        recorder = self.factory.application_recorder()
        recorder.insert_events(
            [StoredEvent(uuid4(), 1, topic, b"{}") for topic in ("tests:A", "tests:B", "tests:A")]
        )
        with recorder.subscribe(gt=None, topics=["tests:A"]) as subscription:
            first, second = next(subscription), next(subscription)
        assert (first.id, second.id) == (1, 3)
