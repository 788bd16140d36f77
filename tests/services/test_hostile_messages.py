"""Abusive AMQP messages, sent as docs/rpc-wire.md describes but with every property, header
and byte chosen by the caller: each gets a documented reply (or, when it names no reply key,
is acknowledged and counted), none is left in a queue to come back, and every service still
answers afterwards. The same for the event consumers: a message that is not an event is
parked, never looped."""

from __future__ import annotations

import json
import pickle
import time
import uuid
import zlib

import pytest
from eventsourcing.persistence import OperationalError
from kombu import Connection, Exchange, Producer

from events.audit.verify import verify_log
from events.identity.agency import rpc
from events.log.commands import CommandRecord
from events.runtime.inbox import MAX_BODY_BYTES, REJECTED
from schemas.events import LOGS
from services.accountability.service import AccountabilityService
from services.cadre_registry.application import CadreRegistry
from services.cadre_registry.service import CadreRegistryService
from tests.services.agencies import agency_stack
from tests.services.test_rpc_wire import WireCaller
from youwei.client import Client, YouweiError

pytestmark = pytest.mark.nameko


class PoisonedRegistry(CadreRegistryService):
    """The registry with one query that fails unexpectedly for a payload asking it to: the
    worker raises what no documented error is."""

    @rpc
    def owner_of(self, query):
        if query.get("task_id") == "poison":
            raise KeyError("internal detail: secret-digest-input")
        if query.get("task_id") == "database down":
            raise OperationalError("10.0.0.7:27017: [Errno 111] Connection refused")
        return super().owner_of(query)


@pytest.fixture(scope="module")
def stack(rabbit_manager, rabbit_config_module, container_factory_module, mongodb_uri):
    with agency_stack(
        [PoisonedRegistry, AccountabilityService], rabbit_manager, rabbit_config_module,
        container_factory_module, mongodb_uri,
    ) as running:  # fmt: skip
        yield running


class RawCaller(WireCaller):
    """docs/rpc-wire.md's caller, publishing whatever bytes and properties it is given."""

    def send(self, routing_key: str, body: bytes, *, user_id: bool = True, reply_to: bool = True,
             content_type: str | None = "application/json", content_encoding: str | None = "utf-8",
             headers: dict | None = None) -> str:  # fmt: skip
        correlation_id = str(uuid.uuid4())
        properties = {"correlation_id": correlation_id, "delivery_mode": 2}
        if reply_to:
            properties["reply_to"] = self.reply_key
        if user_id:
            properties["user_id"] = self.user
        self.producer.publish(
            body, routing_key=routing_key, content_type=content_type,
            content_encoding=content_encoding, headers=headers or {}, **properties,
        )  # fmt: skip
        return correlation_id

    def call(self, routing_key: str, body: bytes, **options) -> dict:
        return self.reply(self.send(routing_key, body, **options))


@pytest.fixture
def org(stack):
    caller = RawCaller(stack.uri("org"), stack.users["org"])
    yield caller
    caller.close()


def request(argument, **extra) -> bytes:
    return json.dumps({"args": [argument], "kwargs": {}, **extra}).encode()


def a_query() -> bytes:
    return request({"task_id": str(uuid.uuid4())})


def answers(caller: RawCaller) -> bool:
    """The registry still answers a well-formed query (a task nobody has: NotFound)."""
    return caller.call("cadre_registry.owner_of", a_query())["error"]["exc_type"] == "NotFound"


def queue_is_empty(stack, rabbit_manager, name: str, timeout: float = 15) -> bool:
    """Nothing ready nor unacknowledged in the queue (the management API lags a little)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        queue = rabbit_manager.get_queue(stack.vhost, name)
        if queue.get("messages_ready", 1) == 0 and queue.get("messages_unacknowledged", 1) == 0:
            return True
        time.sleep(0.5)
    return False


DEEP = b"[" * 100_000 + b"]" * 100_000
PICKLE = "application/x-python-serialize"
ZLIB = "application/x-gzip"  # kombu's name for zlib
MALFORMED_BODIES = {
    "not JSON": (b"{not json", {}),
    "invalid UTF-8": (b'{"args": [{"task_id": "\xff\xfe"}], "kwargs": {}}', {}),
    "a list": (b"[1, 2]", {}),
    "a string": (b'"owner_of"', {}),
    "null": (b"null", {}),
    "args not a list": (b'{"args": {"task_id": "x"}, "kwargs": {}}', {}),
    "two arguments": (json.dumps({"args": [{}, {}], "kwargs": {}}).encode(), {}),
    "a list argument": (json.dumps({"args": [[1]], "kwargs": {}}).encode(), {}),
    "a null argument": (json.dumps({"args": [None], "kwargs": {}}).encode(), {}),
    "keyword arguments": (json.dumps({"args": [], "kwargs": {"query": {}}}).encode(), {}),
    "no kwargs": (json.dumps({"args": [{}]}).encode(), {}),
    "an extra member": (request({}, extra=1), {}),
    "duplicate keys": (b'{"args": [{"task_id": "a", "task_id": "b"}], "kwargs": {}}', {}),
    "NaN": (b'{"args": [{"task_id": NaN}], "kwargs": {}}', {}),
    "a number out of range": (b'{"args": [{"task_id": 1e999}], "kwargs": {}}', {}),
    "an integer of 5000 digits": (b'{"args": [{"n": ' + b"9" * 5000 + b'}], "kwargs": {}}', {}),
    "nested 100,000 deep": (b'{"args": [' + DEEP + b'], "kwargs": {}}', {}),
    "nested 40 deep": (b'{"args": [{"a": ' + b"[" * 40 + b"]" * 40 + b'}], "kwargs": {}}', {}),
    "over the size limit": (request({"task_id": "x" * MAX_BODY_BYTES}), {}),
    "text/plain": (a_query(), {"content_type": "text/plain"}),
    "pickle": (pickle.dumps({"args": [{}], "kwargs": {}}), {"content_type": PICKLE}),
    "no content type": (a_query(), {"content_type": None}),
    "UTF-16": ('{"args": [{}], "kwargs": {}}'.encode("utf-16"), {"content_encoding": "utf-16"}),
    # a body that is compressed: kombu would inflate it (tests/test_compression_bomb.py)
    "a compressed body": (zlib.compress(a_query()), {"headers": {"compression": ZLIB}}),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(MALFORMED_BODIES))
def test_a_malformed_request_is_answered_malformed_and_changes_nothing(
    stack, org, rabbit_manager, case
) -> None:
    body, options = MALFORMED_BODIES[case]
    before = stack.database[LOGS["cadre_registry"]].count_documents({})
    answer = org.call("cadre_registry.owner_of", body, **options)
    assert answer["result"] is None
    assert answer["error"]["exc_type"] == "MalformedRequest", answer
    assert len(answer["error"]["value"]) < 300  # a sentence, never the body echoed
    assert stack.database[LOGS["cadre_registry"]].count_documents({}) == before
    assert answers(org)
    assert queue_is_empty(stack, rabbit_manager, "rpc-cadre_registry")


def test_a_request_without_reply_to_is_acknowledged_counted_and_not_run(
    stack, org, rabbit_manager
) -> None:
    rejected = REJECTED.labels("cadre_registry", "rpc-cadre_registry", "no_reply_to")
    before = rejected._value.get()
    register = {"command_id": str(uuid.uuid4()), "actor": {"agency": "组织部", "person": "张三"},
                "name": "无人应答市"}  # fmt: skip
    org.send("cadre_registry.register_unit", request(register), reply_to=False)
    deadline = time.monotonic() + 15
    while rejected._value.get() < before + 1:  # consumed (the broker's counts lag)
        assert time.monotonic() < deadline, "the request was not taken"
        time.sleep(0.1)
    assert rejected._value.get() == before + 1
    assert queue_is_empty(stack, rabbit_manager, "rpc-cadre_registry")
    assert answers(org)
    record = CommandRecord.create_id(CadreRegistry.name, uuid.UUID(register["command_id"]))
    records = stack.database[LOGS["cadre_registry"]]
    assert records.count_documents({"originator_id": record}) == 0
    # sent again with a reply key, the same command is done (so it was not done before)
    assert org.call("cadre_registry.register_unit", request(register))["error"] is None
    assert records.count_documents({"originator_id": record}) == 1


def test_a_request_without_user_id_is_forbidden_first_and_recorded(stack, org) -> None:
    for body in (request({"task_id": "\ud800", "command_id": "\ud800"}), b"{not json"):
        answer = org.call("cadre_registry.owner_of", body, user_id=False)
        assert answer["error"]["exc_type"] == "Forbidden", answer
        details = json.loads(answer["error"]["value"])
        assert details["agency"] is None and details["record_id"]
    unknown = org.call("cadre_registry.no_such_method", a_query(), user_id=False)
    assert unknown["error"]["exc_type"] == "Forbidden"
    assert answers(org)


@pytest.mark.parametrize(
    "headers",
    [
        {"nameko.call_id_stack": [1, 2]},
        {"nameko.call_id_stack": "not a list"},
        {"nameko.call_id_stack": ["x" * 1000]},
        {"nameko.call_id_stack": [f"caller.method.{n}" for n in range(500)]},
        {"nameko.youwei.agency": "org-forged", "nameko.language": {"nested": [1, {"a": 2}]}},
        {"nameko.call_id_stack": [{"a": 1}], "x-anything": b"\x00\xff"},
    ],
    ids=["integers", "a string", "a long id", "500 ids", "forged context", "a table"],
)
def test_headers_never_break_a_worker(stack, org, headers) -> None:
    answer = org.call("cadre_registry.owner_of", a_query(), headers=headers)
    assert answer["error"]["exc_type"] == "NotFound", answer
    assert answers(org)


def test_an_unknown_method_is_answered_with_a_bounded_name(stack, org) -> None:
    answer = org.call("cadre_registry.no_such_method_" + "x" * 200, a_query())
    assert answer["error"]["exc_type"] == "MethodNotFound"
    assert len(answer["error"]["value"]) <= 101 + 3


def test_a_poison_request_is_answered_once_and_the_service_goes_on(
    stack, org, rabbit_manager
) -> None:
    """A worker that fails unexpectedly: the caller gets ServiceError with an incident id,
    nothing of the failure's text; the request is not requeued (no loop)."""
    for _ in range(3):
        answer = org.call("cadre_registry.owner_of", request({"task_id": "poison"}))
        error = answer["error"]
        assert error["exc_type"] == "ServiceError"
        assert "secret" not in json.dumps(error) and "incident" in error["value"]
    assert queue_is_empty(stack, rabbit_manager, "rpc-cadre_registry")
    assert answers(org)


def test_a_database_out_of_reach_is_answered_unavailable(stack, org) -> None:
    error = org.call("cadre_registry.owner_of", request({"task_id": "database down"}))["error"]
    assert error["exc_type"] == "Unavailable" and "incident" in error["value"]
    assert "10.0.0.7" not in json.dumps(error)  # where the database is stays in the log
    assert answers(org)


def test_every_log_still_verifies(stack, org) -> None:
    assert answers(org)
    registry = verify_log(stack.database, LOGS["cadre_registry"])
    assert registry.ok and registry.events_checked > 0, registry  # refusals were recorded
    assert verify_log(stack.database, LOGS["accountability"]).ok


# --- event consumers ----------------------------------------------------------------------


EVENT_BODIES = {
    "not JSON": (b"\x00\x01garbage", "application/json"),
    "pickle": (pickle.dumps({"type": "case_decided"}), PICKLE),
    "a list": (b"[]", "application/json"),
    "an event of another type": (
        json.dumps({"type": "case_opened", "source": "accountability"}).encode(),
        "application/json",
    ),
    "nested deep": (DEEP, "application/json"),
}


def test_a_message_that_is_not_an_event_is_parked_and_the_consumer_goes_on(
    stack, org, rabbit_manager
) -> None:
    """Sent by a service's user to the accountability service's event exchange (agencies
    may not): the registry's handlers park each, nothing loops, the registry answers."""
    handler_queue = next(
        q["name"] for q in rabbit_manager.get_queues(stack.vhost)
        if q["name"].startswith("evt-accountability-case_decided--cadre_registry.")
        and not q["name"].endswith(("parked",)) and ".retry." not in q["name"]
    )  # fmt: skip
    with Connection(stack.uri("accountability")) as connection:
        producer = Producer(connection.channel())
        exchange = Exchange("accountability.events", type="topic", durable=True, passive=True)
        for body, content_type in EVENT_BODIES.values():
            producer.publish(
                body, exchange=exchange, routing_key="case_decided", content_type=content_type,
                content_encoding="utf-8", headers={"nameko.call_id_stack": [1, 2],
                                                   "youwei-attempt": "x"},
            )  # fmt: skip
    parked = f"{handler_queue}.parked"
    deadline = time.monotonic() + 30
    while parked_count(rabbit_manager, stack.vhost, parked) < len(EVENT_BODIES):
        assert time.monotonic() < deadline, rabbit_manager.get_queues(stack.vhost)
        time.sleep(0.5)
    assert queue_is_empty(stack, rabbit_manager, handler_queue)
    assert answers(org)


def parked_count(rabbit_manager, vhost: str, name: str) -> int:
    queues = {q["name"]: q for q in rabbit_manager.get_queues(vhost)}
    return queues.get(name, {}).get("messages", 0)


def test_reply_queues_are_classic_whatever_the_default_queue_type(stack, rabbit_manager) -> None:
    """The services' proxies and the agencies' client reply on classic queues (x-queue-type),
    so a broker whose default type is quorum does not replicate them."""
    prefixes = ("rpc.reply-accountability-", f"rpc.reply-{stack.users['org_b']}-")
    with Client(stack.uri("org_b"), person="tester", timeout=30.0) as client:
        with pytest.raises(YouweiError):
            client.cadre_registry.owner_of({"task_id": str(uuid.uuid4())})
        replies = {
            q["name"]: q["arguments"] for q in rabbit_manager.get_queues(stack.vhost)
            if q["name"].startswith(prefixes)
        }  # fmt: skip
    for prefix in prefixes:
        assert any(name.startswith(prefix) for name in replies), (prefix, replies)
    for name, arguments in replies.items():
        assert arguments.get("x-queue-type") == "classic", (name, arguments)
