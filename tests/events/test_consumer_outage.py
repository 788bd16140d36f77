"""A relayed-event handler while the database is away, over real RabbitMQ: failures to
reach it (the handler's own, or one a service it called reports) are retried past
``EVENT_RETRY_DELAYS`` until the database is back, and the message is never parked."""

from __future__ import annotations

from typing import ClassVar

import pytest
from eventsourcing.persistence import OperationalError
from nameko.exceptions import RemoteError

from events.bus.consumer import log_event_handler
from tests.events.test_consumer import publish, relayed, wait_for
from youwei import dlq

pytestmark = pytest.mark.nameko
QUEUE = "evt-inspections-finding_recorded--outage.handle"


class Outage:
    name = "outage"
    seen: ClassVar[list] = []
    errors: ClassVar[list] = []

    @log_event_handler("inspections", "finding_recorded")
    def handle(self, event: dict) -> None:
        if event["position"] is None:
            return
        Outage.seen.append(event["position"])
        if Outage.errors:
            raise Outage.errors.pop(0)


def test_a_database_outage_is_waited_out_not_parked(container_factory, rabbit_config) -> None:
    uri = rabbit_config["AMQP_URI"]
    Outage.seen = []
    Outage.errors = [
        OperationalError("127.0.0.1:27017: [Errno 111] Connection refused"),
        OperationalError("127.0.0.1:27017: connection closed"),
        RemoteError("Unavailable", "the service cannot reach its database (incident 1f2e)"),
        OperationalError("127.0.0.1:27017: [Errno 111] Connection refused"),
    ]
    container = container_factory(Outage, {**rabbit_config, "EVENT_RETRY_DELAYS": [0.1, 0.2]})
    container.start()
    publish(uri, relayed(3))
    wait_for(lambda: Outage.seen.count(3) == 5)  # four failures, more than two retries
    parked = {q["queue"]: q["messages"] for q in dlq.parked_queues(uri)}
    assert parked.get(f"{QUEUE}.parked", 0) == 0
    assert Outage.errors == []
