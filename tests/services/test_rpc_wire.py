"""A caller that knows only docs/rpc-wire.md: plain AMQP with kombu (no nameko on the
caller's side), JSON by hand, connected as agencies' own users (with the permissions that
page lists) to services running the production policy."""

from __future__ import annotations

import json
import uuid

import pytest
from amqp.exceptions import AccessRefused
from kombu import Connection, Consumer, Exchange, Producer, Queue

from services.cadre_registry.service import CadreRegistryService
from services.records.service import RecordsService
from tests.services.agencies import agency_stack, start

pytestmark = pytest.mark.nameko


@pytest.fixture(scope="module")
def stack(rabbit_manager, rabbit_config_module, container_factory_module, mongodb_uri):
    with agency_stack(
        [CadreRegistryService, RecordsService], rabbit_manager, rabbit_config_module,
        container_factory_module, mongodb_uri,
    ) as running:  # fmt: skip
        yield running


class WireCaller:
    """Sections 1 to 5 of docs/rpc-wire.md."""

    def __init__(self, uri: str, user: str) -> None:
        self.user = user
        # 1. connect as the agency's user; publisher confirms, to learn of unroutable requests
        self.connection = Connection(uri, transport_options={"confirm_publish": True})
        self.channel = self.connection.channel()
        # 2. a reply queue: a UUID reply key, the queue named after the user, x-expires,
        #    bound to nameko-rpc (declared passively: it exists) with the reply key
        self.reply_key = str(uuid.uuid4())
        exchange = Exchange("nameko-rpc", type="topic", durable=True, passive=True)
        self.exchange = exchange(self.channel)
        queue = Queue(f"rpc.reply-{user}-{self.reply_key}", exchange, routing_key=self.reply_key,
                      durable=False, queue_arguments={"x-expires": 300000,
                                                      "x-queue-type": "classic"})  # fmt: skip
        self.replies: dict[str, dict] = {}
        self.consumer = Consumer(self.channel, [queue], callbacks=[self._on_reply], no_ack=False)
        self.consumer.consume()
        self.returned: list = []
        self.producer = Producer(self.channel, exchange=self.exchange, on_return=self._on_return)

    def _on_reply(self, body, message) -> None:
        message.ack()
        self.replies[message.properties["correlation_id"]] = json.loads(message.body)

    def _on_return(self, exception, exchange, routing_key, message) -> None:
        self.returned.append((routing_key, str(exception)))

    def send(self, routing_key: str, argument: dict, user_id: str | None = "") -> str:
        """3. the request; returns its correlation id."""
        correlation_id = str(uuid.uuid4())
        properties = {
            "reply_to": self.reply_key,
            "correlation_id": correlation_id,
            "delivery_mode": 2,
        }
        if user_id is not None:
            properties["user_id"] = user_id or self.user
        body = json.dumps({"args": [argument], "kwargs": {}}, ensure_ascii=False).encode()
        self.producer.publish(
            body, routing_key=routing_key, content_type="application/json",
            content_encoding="utf-8", mandatory=True, **properties,
        )  # fmt: skip
        return correlation_id

    def reply(self, correlation_id: str, timeout: float = 30) -> dict:
        """4. the reply with that correlation id (others are kept for their own callers)."""
        while correlation_id not in self.replies:
            self.connection.drain_events(timeout=timeout)
        return self.replies.pop(correlation_id)

    def call(self, routing_key: str, argument: dict) -> dict:
        return self.reply(self.send(routing_key, argument))

    def close(self) -> None:
        self.connection.release()


@pytest.fixture
def caller(stack):
    callers = []

    def make(who: str) -> WireCaller:
        callers.append(WireCaller(stack.uri(who), stack.users[who]))
        return callers[-1]

    yield make
    for made in callers:
        made.close()


def command(**fields) -> dict:
    return {"command_id": str(uuid.uuid4()), "actor": {"agency": "组织部", "person": "张三"},
            **fields}  # fmt: skip


def test_a_command_and_a_query_by_the_wire(caller) -> None:
    org = caller("org")
    register = command(name="玉溪市")
    answer = org.call("cadre_registry.register_unit", register)
    assert answer["error"] is None and set(answer["result"]) == {"unit_id"}
    unit = answer["result"]["unit_id"]
    # 5. the same command again (same command_id, new correlation id): the first result
    assert org.call("cadre_registry.register_unit", register) == answer
    found = org.call("cadre_registry.get_unit", {"unit_id": unit})
    assert found["error"] is None and found["result"]["name"] == "玉溪市"
    # a reply waits for its caller whatever the order they are read in
    first = org.send("cadre_registry.get_unit", {"unit_id": unit})
    second = org.send("cadre_registry.register_unit", command(name="澄江市", parent_id=unit))
    assert org.reply(second)["error"] is None and org.reply(first)["result"]["unit_id"] == unit


def test_errors_by_the_wire(caller) -> None:
    org, hall = caller("org"), caller("hall")
    invalid = org.call("cadre_registry.register_unit", command(name=""))
    assert invalid["result"] is None
    error = invalid["error"]
    assert error["exc_type"] == "InvalidCommand" and set(error) >= {"exc_path", "exc_args"}
    assert list(json.loads(error["value"])) == ["name"]

    missing = org.call("cadre_registry.get_unit", {"unit_id": str(uuid.uuid4())})
    assert missing["error"]["exc_type"] == "NotFound"

    forbidden = hall.call("cadre_registry.register_unit", command(name="服务大厅不能登记"))
    assert forbidden["error"]["exc_type"] == "Forbidden"
    details = json.loads(forbidden["error"]["value"])
    assert details["agency"] == hall.user and details["method"] == "cadre_registry.register_unit"
    assert {"reason", "roles", "policy_version", "record_id"} <= set(details)

    anonymous = org.reply(org.send("records.public_records", {}, user_id=None))
    assert anonymous["error"]["exc_type"] == "Forbidden"
    assert json.loads(anonymous["error"]["value"])["agency"] is None

    unknown = org.call("cadre_registry.no_such_method", {})
    assert unknown["error"]["exc_type"] == "MethodNotFound"


def test_a_service_that_never_ran_in_the_vhost_returns_the_request(caller) -> None:
    org = caller("org")
    org.send("accountability.get_case", {"case_id": str(uuid.uuid4())})
    assert org.returned and org.returned[0][0] == "accountability.get_case"
    assert "NO_ROUTE" in org.returned[0][1]


def test_a_stopped_service_keeps_the_request_and_answers_it_when_back(
    stack, caller, container_factory_module
) -> None:
    org = caller("org")
    stack.containers["cadre_registry"].stop()
    try:
        sent = org.send("cadre_registry.get_unit", {"unit_id": str(uuid.uuid4())})
        with pytest.raises(TimeoutError):  # mandatory, confirmed, and not returned: queued
            org.reply(sent, timeout=1)
        assert org.returned == []
    finally:
        start(stack, container_factory_module, CadreRegistryService)
    assert org.reply(sent)["error"]["exc_type"] == "NotFound"


def test_a_routing_key_naming_no_service_closes_the_channel(caller) -> None:
    org = caller("org")
    with pytest.raises(AccessRefused):
        org.send("no_such_service.get_unit", {})
