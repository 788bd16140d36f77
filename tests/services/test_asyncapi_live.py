"""The AsyncAPI document against a run: the records service serves the shipped document at
``/asyncapi.json``; replies of the registry (results and each kind of error) and the events it
publishes, as an agency listening with its own user receives them, validate against the
document's messages (``youwei.asyncapi``)."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid

import pytest
from jsonschema import Draft7Validator
from kombu import Connection, Exchange, Queue
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from schemas.events import HEADER_PREFIX, PUBLISHED
from services.cadre_registry.service import CadreRegistryService
from services.records.service import RecordsService
from tests.services.agencies import agency_stack
from tests.services.test_listening import exchange_exists
from tests.services.test_rpc_wire import WireCaller
from youwei import asyncapi

pytestmark = pytest.mark.nameko
ROOT = "urn:youwei:asyncapi"


@pytest.fixture(scope="module")
def stack(rabbit_manager, rabbit_config_module, container_factory_module, mongodb_uri):
    with agency_stack(
        [CadreRegistryService, RecordsService], rabbit_manager, rabbit_config_module,
        container_factory_module, mongodb_uri,
    ) as running:  # fmt: skip
        yield running


@pytest.fixture(scope="module")
def document(stack) -> dict:
    address = stack.configs["records"]["WEB_SERVER_ADDRESS"]
    with urllib.request.urlopen(f"http://{address}/asyncapi.json", timeout=10) as response:
        assert response.headers["Content-Type"].startswith("application/json")
        served = response.read()
    assert served == asyncapi.DOCUMENT.read_bytes()
    return json.loads(served)


def validate(document: dict, message: str, part: str, instance: object) -> None:
    """``instance`` against ``part`` (payload, headers) of the document's message."""
    registry = Registry().with_resource(
        ROOT, Resource.from_contents(document, default_specification=DRAFT7)
    )
    pointer = f"/components/messages/{message.replace('/', '~1')}/{part}"
    Draft7Validator({"$ref": f"{ROOT}#{pointer}"}, registry=registry).validate(instance)


def command(**fields) -> dict:
    return {"command_id": str(uuid.uuid4()), "actor": {"agency": "组织部", "person": "张三"},
            **fields}  # fmt: skip


def test_replies_and_events_of_a_run_follow_the_document(stack, document) -> None:
    user = stack.users["org"]
    org = WireCaller(stack.uri("org"), user)
    auditor = WireCaller(stack.uri("auditor"), stack.users["auditor"])
    listening = Connection(stack.uri("org"))
    try:
        first = org.call("cadre_registry.register_unit", command(name="先到市"))
        first_unit = {"unit_id": first["result"]["unit_id"]}
        assert exchange_exists(stack)
        channel = listening.channel()
        exchange = Exchange("cadre_registry.events", type="topic", durable=True, passive=True)
        queue = Queue(f"events.{user}.all", durable=False, auto_delete=True)
        queue(channel).declare()
        for event_type in PUBLISHED["cadre_registry"]:
            channel.queue_bind(queue.name, exchange.name, routing_key=event_type)
        replies = {
            "register_unit": org.call("cadre_registry.register_unit", command(name="玉溪市")),
            "get_unit": org.call("cadre_registry.get_unit", first_unit),
            "list_cadres": org.call("cadre_registry.list_cadres", first_unit),
        }  # fmt: skip
        unit_id = replies["register_unit"]["result"]["unit_id"]
        cadre = command(name="王芳", gender="female", birth_date="1978-09-12", unit_id=unit_id,
                        post="局长", rank="county_division", post_kind="leadership",
                        effective_date="2026-01-05")  # fmt: skip
        replies["register_cadre"] = org.call("cadre_registry.register_cadre", cadre)
        errors = {
            "NotFound": ("get_unit", org.call("cadre_registry.get_unit",
                                              {"unit_id": str(uuid.uuid4())})),
            "InvalidCommand": ("register_unit", org.call("cadre_registry.register_unit",
                                                         command(name=""))),
            "Forbidden": ("register_unit", auditor.call("cadre_registry.register_unit",
                                                        command(name="审计市"))),
        }  # fmt: skip
        for method, reply in replies.items():
            assert reply["error"] is None, reply
            validate(document, f"cadre_registry.{method}.reply", "payload", reply)
        for exc_type, (method, reply) in errors.items():
            assert reply["error"]["exc_type"] == exc_type, reply
            validate(document, f"cadre_registry.{method}.reply", "payload", reply)
        seen = set()
        deadline = time.monotonic() + 30
        while seen != {"unit_registered", "cadre_registered"}:
            assert time.monotonic() < deadline, f"only {seen} came"
            message = channel.basic_get(queue.name, no_ack=True)
            if message is None:
                time.sleep(0.2)
                continue
            event = json.loads(message.body)
            name = f"cadre_registry.{event['type']}"
            validate(document, name, "payload", event)
            validate(document, name, "headers", message.properties["application_headers"])
            assert message.properties["application_headers"][f"{HEADER_PREFIX}log"]
            seen.add(event["type"])
    finally:
        org.close()
        auditor.close()
        listening.release()


def test_a_reply_or_event_unlike_the_document_is_not_valid(stack, document) -> None:
    """The validation above can fail: what the document does not describe is refused."""
    from jsonschema import ValidationError

    wrong = [
        ("cadre_registry.get_unit.reply", "payload", {"result": None, "error": None}),
        ("cadre_registry.get_unit.reply", "payload",
         {"result": None, "error": {"exc_type": "Oops", "exc_path": "", "exc_args": [],
                                    "value": ""}}),
        ("cadre_registry.unit_registered", "payload", {"type": "unit_registered"}),
        ("cadre_registry.unit_registered", "headers", {f"{HEADER_PREFIX}position": "7"}),
    ]  # fmt: skip
    for message, part, instance in wrong:
        with pytest.raises(ValidationError):
            validate(document, message, part, instance)
