"""An agency listens to the services' published events as docs/events.md ("Listening as an
agency") says, connected as its own RabbitMQ user with exactly the permissions
``agency_broker_permissions`` grants (made in the test's own vhost, not ``guest``): a queue
named after it, bound to ``cadre_registry.events`` by a published type, gets the event of
a unit it registered; and what it may not do is refused by the broker."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from amqp.exceptions import AccessRefused, NotFound
from kombu import Connection, Exchange, Queue

from services.cadre_registry.service import CadreRegistryService
from tests.services.agencies import agency_stack
from tests.services.test_rpc_wire import WireCaller

pytestmark = pytest.mark.nameko
EVENTS = "cadre_registry.events"


@pytest.fixture(scope="module")
def stack(rabbit_manager, rabbit_config_module, container_factory_module, mongodb_uri):
    with agency_stack(
        [CadreRegistryService], rabbit_manager, rabbit_config_module, container_factory_module,
        mongodb_uri,
    ) as running:  # fmt: skip
        yield running


def events_exchange(name: str = EVENTS) -> Exchange:
    """A service's event exchange, declared passively: it exists, an agency may not make it."""
    return Exchange(name, type="topic", durable=True, passive=True)


def register_unit(stack, name: str) -> str:
    caller = WireCaller(stack.uri("org"), stack.users["org"])
    try:
        command = {"command_id": str(uuid.uuid4()),
                   "actor": {"agency": "组织部", "person": "张三"}, "name": name}  # fmt: skip
        answer = caller.call("cadre_registry.register_unit", command)
    finally:
        caller.close()
    assert answer["error"] is None, answer
    return answer["result"]["unit_id"]


def exchange_exists(stack, name: str = EVENTS, timeout: float = 30) -> bool:
    """Whether the exchange exists (the registry's relay declares it as it publishes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with Connection(stack.uri("org")) as connection:
            try:
                events_exchange(name)(connection.channel()).declare()
                return True
            except NotFound:
                time.sleep(0.2)
    return False


def next_message(channel, queue: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while (message := channel.basic_get(queue)) is None:
        assert time.monotonic() < deadline, f"no message in {queue}"
        time.sleep(0.2)
    return message


def test_an_agency_listens_on_a_queue_of_its_own(stack) -> None:
    register_unit(stack, "先到市")
    assert exchange_exists(stack)
    user = stack.users["org"]
    with Connection(stack.uri("org")) as connection:
        channel = connection.channel()
        queue = Queue(f"events.{user}.units", events_exchange(), routing_key="unit_registered",
                      durable=True)  # fmt: skip
        queue(channel).declare()
        unit_id = register_unit(stack, "玉溪市")
        while True:  # the first unit's event may come first, if it was relayed late
            message = next_message(channel, queue.name)
            channel.basic_ack(message.delivery_tag)
            event = json.loads(message.body)
            if event["data"]["name"] == "玉溪市":
                break
        assert event["type"] == "unit_registered" and event["source"] == "cadre_registry"
        assert event["originator_id"] == unit_id  # the subject's id is the originator's
        headers = message.properties["application_headers"]
        assert headers["youwei-originator-id"] == unit_id
        queue(channel).delete()


def refused(stack, who: str, action) -> bool:
    """Whether the broker refuses ``action(channel)`` (403, closing the channel)."""
    with Connection(stack.uri(who), transport_options={"confirm_publish": True}) as connection:
        channel = connection.channel()
        try:
            action(channel)
        except AccessRefused:
            return True
        return False


def test_what_a_listening_agency_may_not_do_is_refused(stack) -> None:
    register_unit(stack, "后到市")
    assert exchange_exists(stack)
    user, other = stack.users["org"], stack.users["org_b"]
    mine = f"events.{user}.probe"

    def bind(exchange: Exchange, key: str, queue: str = mine):
        return lambda channel: Queue(queue, exchange, routing_key=key)(channel).declare()

    # its own queue, bound by a published type: allowed (the contrast to what follows)
    assert not refused(stack, "org", bind(events_exchange(), "cadre_registered"))
    refusals = {
        "every key of an event exchange": bind(events_exchange(), "#"),
        "a type that is not published": bind(events_exchange(), "access_denied_recorded"),
        "another agency's queue": bind(events_exchange(), "unit_registered",
                                       f"events.{other}.probe"),
        "a queue not named after it": bind(events_exchange(), "unit_registered", "probe"),
        "others' requests": bind(Exchange("nameko-rpc", type="topic", passive=True),
                                 "cadre_registry.*", f"rpc.reply-{user}-{uuid.uuid4()}"),
        "a service's own queue": lambda channel: channel.basic_get("rpc-cadre_registry"),
        "deleting a service's queue": lambda channel: channel.queue_delete("rpc-cadre_registry"),
        "declaring an event exchange": lambda channel: Exchange(
            EVENTS, type="topic", durable=True)(channel).declare(),
        "publishing an event": lambda channel: channel.basic_publish(
            channel.prepare_message(b"{}"), exchange=EVENTS, routing_key="unit_registered"),
    }  # fmt: skip
    for what, action in refusals.items():
        assert refused(stack, "org", action), what
    # RabbitMQ answers a passive declare whatever the permissions (docs/rpc-wire.md, 1):
    # the queue's existence and counts, nothing more
    assert not refused(stack, "org", lambda channel: channel.queue_declare(
        "rpc-cadre_registry", passive=True))  # fmt: skip
    with Connection(stack.uri("org")) as connection:
        Queue(mine)(connection.channel()).delete()
