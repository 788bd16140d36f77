"""A relayed-event handler under failure, over real RabbitMQ: a handler that raises is
retried after delays, then parked with its error; a malformed message is parked at once;
``youwei dlq`` shows and replays parked messages."""

from __future__ import annotations

import time
from typing import ClassVar
from uuid import uuid4

import pytest
from kombu import Connection, Exchange

from events.bus.consumer import ERROR_HEADER, log_event_handler
from youwei import dlq

pytestmark = pytest.mark.nameko
QUEUE = "evt-inspections-finding_recorded--flaky.handle"


class Flaky:
    name = "flaky"
    seen: ClassVar[list] = []
    failing = True

    @log_event_handler("inspections", "finding_recorded")
    def handle(self, event: dict) -> None:
        Flaky.seen.append(event["position"])
        if event["position"] is not None and Flaky.failing:
            raise RuntimeError("the database is down")


def relayed(position: int) -> dict:
    return {"type": "finding_recorded", "source": "inspections", "log": "inspections_events",
            "position": position, "event_id": str(uuid4()), "originator_id": str(uuid4()),
            "originator_version": 1, "timestamp": "2026-05-06T08:00:00+00:00",
            "correlation_id": None, "causation_id": None, "data": {}}  # fmt: skip


def publish(uri: str, body) -> None:
    with Connection(uri) as connection:
        producer = connection.Producer()
        exchange = Exchange("inspections.events", type="topic", durable=True)
        producer.publish(body, exchange=exchange, routing_key="finding_recorded",
                         serializer="json", declare=[exchange])  # fmt: skip


def wait_for(condition, seconds: float = 20.0):
    deadline = time.monotonic() + seconds
    while not (result := condition()):
        assert time.monotonic() < deadline, "the condition did not come true in time"
        time.sleep(0.1)
    return result


def test_failing_handlers_are_retried_then_parked_and_replayed(
    container_factory, rabbit_config
) -> None:
    uri = rabbit_config["AMQP_URI"]
    Flaky.seen, Flaky.failing = [], True
    container = container_factory(Flaky, {**rabbit_config, "EVENT_RETRY_DELAYS": [0.1, 0.3]})
    container.start()
    wait_for(lambda: None in Flaky.seen)  # the catch-up at start

    publish(uri, relayed(7))
    publish(uri, {"type": "finding_recorded", "position": "seven"})  # malformed
    publish(uri, "not even an object")

    def parked() -> int:
        return next((q["messages"] for q in dlq.parked_queues(uri)
                     if q["queue"] == f"{QUEUE}.parked"), 0)  # fmt: skip

    wait_for(lambda: parked() == 3)
    assert Flaky.seen.count(7) == 3, "the first try and two retries"
    shown = dlq.show(f"{QUEUE}.parked", 10, uri)
    errors = sorted(message["error"] for message in shown)
    assert any("the database is down" in error for error in errors)
    assert sum(error.startswith("malformed") for error in errors) == 2
    assert parked() == 3, "showing leaves them parked"

    Flaky.failing = False
    assert dlq.replay(f"{QUEUE}.parked", None, uri) == 3
    wait_for(lambda: Flaky.seen.count(7) == 4)
    wait_for(lambda: parked() == 2)  # the malformed ones come back, and are parked again
    assert all(m["error"].startswith("malformed") for m in dlq.show(f"{QUEUE}.parked", 10, uri))
    assert ERROR_HEADER == "youwei-error"
