"""Each service's own RabbitMQ user may do what its service declares and nothing else (issue
24, item 9): the permissions derived from the services' code
(``events.identity.service_permissions``) are those ``k8s/overlays/prod/rabbitmq-users.yaml``
gives, and on a real broker the internet-facing records service's user can neither bind a
queue to another service's requests nor declare or read another service's queues, while it
can declare all its own. The services run as these users in tests/services' agency stacks
(tests/services/agencies.py), so every test there checks that the derivation suffices."""

from __future__ import annotations

import secrets
import uuid
from functools import partial
from pathlib import Path
from urllib.parse import quote, urlparse

import pytest
from amqp.exceptions import AccessRefused, NotAllowed
from kombu import Connection, Exchange, Queue, binding

from events.identity.service_permissions import declared, service_broker_permissions
from services.accountability.service import AccountabilityService
from services.cadre_registry.service import CadreRegistryService
from services.evaluations.service import EvaluationsService
from services.inspections.service import InspectionsService
from services.records.service import RecordsService
from tests.deploy import documents, of_kind

ROOT = Path(__file__).resolve().parents[1]
SERVICES = (CadreRegistryService, EvaluationsService, InspectionsService,
            AccountabilityService, RecordsService)  # fmt: skip


@pytest.mark.plain
def test_the_production_users_file_is_the_generated_one() -> None:
    """``python -m youwei.broker_users`` wrote it: a service that declares something new
    (a handler, a call) fails here until the file is generated again."""
    from youwei.broker_users import render

    assert (ROOT / "k8s/overlays/prod/rabbitmq-users.yaml").read_text() == render()


@pytest.mark.plain
def test_the_production_users_have_exactly_the_derived_permissions() -> None:
    docs = documents("prod")
    permissions = of_kind(docs, "Permission")
    topics = of_kind(docs, "TopicPermission").values()
    for service in SERVICES:
        user = f"youwei-{service.name.replace('_', '-')}"
        derived = service_broker_permissions(service)
        assert permissions[user]["spec"]["permissions"] == derived["permissions"], user
        given = [
            t["spec"]["permissions"] for t in topics if t["spec"]["userReference"]["name"] == user
        ]
        assert sorted(given, key=str) == sorted(derived["topic_permissions"], key=str), user
        for kind, pattern in derived["permissions"].items():  # any name: only its replies'
            assert ".*" not in pattern.replace(f"rpc\\.reply-{service.name}-.*", ""), kind


@pytest.mark.plain
def test_the_derivation_reads_what_the_services_declare() -> None:
    accountability = declared(AccountabilityService)
    assert accountability.rpc and accountability.publishes_events
    assert accountability.calls == {"cadre_registry", "evaluations", "inspections"}
    assert ("inspections", "finding_recorded") in accountability.handlers.values()
    records = declared(RecordsService)
    assert records.rpc and records.handlers == {} and records.calls == set()


@pytest.fixture
def records_user(rabbit_manager, rabbit_config):
    """The records service's derived permissions given to a user of the test's own, on the
    test's vhost; the other services' queues declared there by the broker's admin."""
    vhost = rabbit_config["vhost"]
    user, password = f"yw-test-records-{secrets.token_hex(4)}", secrets.token_hex(12)
    allowed = service_broker_permissions(RecordsService)
    rabbit_manager._put("users", user, json={"password": password, "tags": ""})
    p = allowed["permissions"]
    rabbit_manager.set_vhost_permissions(vhost, user, p["configure"], p["read"], p["write"])
    for topic in allowed["topic_permissions"]:
        rabbit_manager._put("topic-permissions", vhost, user, json=topic)
    admin = Connection(rabbit_config["AMQP_URI"])
    rpc = Exchange("nameko-rpc", type="topic", durable=True)
    Queue("rpc-evaluations", rpc, routing_key="evaluations.*", durable=True)(admin).declare()
    host = urlparse(rabbit_config["AMQP_URI"]).netloc.rpartition("@")[2]
    yield f"pyamqp://{user}:{password}@{host}/{quote(vhost, safe='')}"
    admin.release()
    rabbit_manager._delete("users", user)


def refused(action) -> bool:
    try:
        action()
    except (AccessRefused, NotAllowed):
        return True
    return False


def test_the_records_user_declares_its_own_and_nothing_of_the_others(records_user) -> None:
    rpc = Exchange("nameko-rpc", type="topic", durable=True)
    with Connection(records_user) as connection:
        channel = connection.channel()
        Queue("rpc-records", rpc, routing_key="records.*", durable=True)(channel).declare()
        reply = uuid.uuid4()
        Queue(f"rpc.reply-records-{reply}", rpc, routing_key=str(reply))(channel).declare()
        Exchange("records.events", type="topic", durable=True)(channel).declare()
        logs = ("accountability", "cadre_registry", "evaluations", "inspections")
        Queue(
            f"records-wakeup-{uuid.uuid4().hex}",
            exclusive=True,
            auto_delete=True,
            bindings=[
                binding(Exchange(f"{log}.events", type="topic", durable=True), "#") for log in logs
            ],
        )(channel).declare()  # fmt: skip  (the projections' wake-up: the logs it reads anyway)
    attacks = {
        "bind its queue to evaluations' requests": lambda c: c.channel().queue_bind(
            "rpc-records", "nameko-rpc", "evaluations.*"),
        "bind its queue to every request": lambda c: c.channel().queue_bind(
            "rpc-records", "nameko-rpc", "#"),
        "read evaluations' requests": lambda c: c.channel().basic_get("rpc-evaluations"),
        "declare a queue of its own name on evaluations' keys": lambda c: Queue(
            "rpc.reply-records-x", rpc, routing_key="evaluations.rate")(c.channel()).declare(),
        "declare another service's handler queue": lambda c: Queue(
            "evt-evaluations-assessment_concluded--accountability.assessment_concluded",
            durable=True)(c.channel()).declare(),
        "declare another service's wake-up queue": lambda c: Queue(
            f"accountability-wakeup-{uuid.uuid4().hex}", exclusive=True)(c.channel()).declare(),
    }  # fmt: skip
    for name, attack in attacks.items():
        with Connection(records_user) as connection:  # a refusal closes the channel
            assert refused(partial(attack, connection)), name
