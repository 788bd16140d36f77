"""The relay over real RabbitMQ and SecantusDB: every published event of a log reaches the
exchange in log order with its position; a position is confirmed only after the broker
confirmed its events; one relay holds a log's lease and another takes over when it stops."""

from __future__ import annotations

import os
import threading
import time
from datetime import date
from uuid import uuid4

import pytest
from kombu import Connection, Exchange, Queue
from kombu.exceptions import OperationalError

from events.bus.relay import Lease, LeaseLost, Relay
from services.inspections.application import Inspections
from tests.events.support import fresh_database_name
from tests.services.support import ACTOR


@pytest.fixture
def inspections(mongodb_uri):
    database = fresh_database_name()
    application = Inspections(
        env={"PERSISTENCE_MODULE": "events.mongodb", "MONGODB_URI": os.environ["MONGODB_URI"],
             "MONGODB_DATABASE": database}
    )  # fmt: skip
    yield application
    application.factory.datastore.client.drop_database(database)
    application.close()


def open_inspections(application: Inspections, n: int) -> list[str]:
    team = [{"name": "李纪检", "role": "commission"}]
    return [
        application.open_inspection(
            {"command_id": uuid4(), "actor": ACTOR, "kind": "supervision_check",
             "title": f"督查 {i}", "started_on": date(2026, 5, 1), "team": team}
        )["inspection_id"]
        for i in range(n)
    ]  # fmt: skip


@pytest.fixture
def listener(rabbit_config):
    """A queue bound to every event the inspections relay publishes."""
    with Connection(rabbit_config["AMQP_URI"]) as connection:
        exchange = Exchange("inspections.events", type="topic", durable=True)
        queue = Queue(f"test-{uuid4().hex}", exchange=exchange, routing_key="#")
        bound = queue(connection.channel())
        bound.declare()

        def received() -> list[dict]:
            messages = []
            while (message := bound.get(no_ack=True)) is not None:
                messages.append({**message.payload, "headers": message.headers})
            return messages

        yield received


def test_every_event_is_relayed_in_order_once_confirmed(inspections, rabbit_config, listener):
    ids = open_inspections(inspections, 30)  # 60 log events: 30 opened, 30 command records
    relay = Relay(inspections.factory.datastore, "inspections", rabbit_config["AMQP_URI"],
                  batch=25)  # fmt: skip
    while relay.step():
        pass
    received = listener()
    assert [m["originator_id"] for m in received] == ids
    assert [m["type"] for m in received] == ["inspection_opened"] * 30
    assert [m["position"] for m in received] == list(range(1, 60, 2))
    first = received[0]
    assert first["data"] == {"kind": "supervision_check", "title": "督查 0",
                             "started_on": "2026-05-01"}  # fmt: skip
    assert first["headers"]["youwei-position"] == 1
    assert first["headers"]["youwei-log"] == "inspections_events"
    assert first["causation_id"] == first["correlation_id"]  # an agency's command
    leases = inspections.factory.datastore.collection("relay_leases")
    assert leases.find_one({"_id": "inspections_events"})["position"] == 60


def test_nothing_is_confirmed_that_the_broker_did_not_take(inspections, rabbit_config):
    open_inspections(inspections, 3)
    unreachable = "pyamqp://guest:guest@127.0.0.1:1/"
    relay = Relay(inspections.factory.datastore, "inspections", unreachable)
    relay.publisher.retry_policy = {"max_retries": 1, "interval_start": 0, "interval_step": 0}
    with pytest.raises(OperationalError):
        relay.step()
    leases = inspections.factory.datastore.collection("relay_leases")
    assert leases.find_one({"_id": "inspections_events"})["position"] == 0


def test_one_relay_holds_a_log_and_another_takes_over(inspections, rabbit_config, listener):
    store, uri = inspections.factory.datastore, rabbit_config["AMQP_URI"]
    open_inspections(inspections, 5)
    first = Relay(store, "inspections", uri, owner="first", lease_seconds=1.0)
    second = Relay(store, "inspections", uri, owner="second", lease_seconds=1.0)
    assert first.step() is True
    assert second.step() is None, "the first holds the lease"
    open_inspections(inspections, 5)
    time.sleep(1.2)  # the first stopped renewing: its lease expires
    assert second.step() is True
    with pytest.raises(LeaseLost):
        Lease(store, "inspections_events", "first", 1.0).confirm(20)
    assert len(listener()) == 10


def test_an_append_in_its_process_wakes_a_waiting_relay_at_once(inspections, rabbit_config):
    """The relay waits on the log's bell, not only on its poll: with a poll and a lease
    renewal ten minutes away, an append in the same process ends its wait."""
    open_inspections(inspections, 1)
    relay = Relay(inspections.factory.datastore, "inspections", rabbit_config["AMQP_URI"],
                  lease_seconds=1800, idle_seconds=600)  # fmt: skip
    relay.renew_seconds = 600
    while relay.step():
        pass
    waiting = threading.Thread(target=relay._wait, args=(None,), daemon=True)
    waiting.start()
    open_inspections(inspections, 1)
    waiting.join(timeout=60)
    assert not waiting.is_alive(), "the relay slept through the append"
    assert relay.step() is True
