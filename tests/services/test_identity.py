"""Identity from the broker and the authorization policy, over real RabbitMQ with distinct
users: agencies and services each connect as their own user, the policy is in production
(``guest`` may do nothing), and every call goes through ``youwei.client``."""

from __future__ import annotations

import json
import uuid

import eventlet
import pytest
from amqp.exceptions import AccessRefused, PreconditionFailed
from kombu import Connection, Exchange, Producer, Queue
from nameko.exceptions import RemoteError

from events.audit.history import history
from events.audit.verify import verify_log
from events.identity.agency import IdentifiedClusterRpcProxy
from schemas.authorization import VERSION
from services.cadre_registry.service import CadreRegistryService
from services.evaluations.service import EvaluationsService
from services.records.service import RecordsService
from tests.services.agencies import agency_stack, start
from youwei import client as youwei
from youwei.client import Client

pytestmark = pytest.mark.nameko
SERVICES = [CadreRegistryService, EvaluationsService, RecordsService]
REGISTRY_LOG = "cadreregistry_events"


@pytest.fixture(scope="module")
def stack(rabbit_manager, rabbit_config_module, container_factory_module, mongodb_uri):
    with agency_stack(
        SERVICES, rabbit_manager, rabbit_config_module, container_factory_module, mongodb_uri
    ) as running:
        yield running


def agency(stack, who: str, timeout: float = 30.0, **options) -> Client:
    return Client(stack.uri(who), person=f"{who} tester", timeout=timeout, **options)


@pytest.fixture(scope="module")
def cadre(stack) -> dict[str, str]:
    with agency(stack, "org", agency="组织部") as org:
        unit = org.cadre_registry.register_unit({"name": "市政务服务中心"})["unit_id"]
        cadre = org.cadre_registry.register_cadre(
            {"name": "刘洋", "gender": "male", "birth_date": "1980-04-04", "unit_id": unit,
             "post": "主任", "rank": "county_division", "post_kind": "leadership",
             "effective_date": "2025-01-01"}
        )["cadre_id"]  # fmt: skip
    return {"unit_id": unit, "cadre_id": cadre}


def stored(database, log: str, topic_ends: str) -> list[dict]:
    """The decoded states of the events of ``log`` whose topic ends so, in order, each with
    its aggregate's ``id``."""
    from events.log.transcoding import transcoder

    coder = transcoder()
    return [
        {**coder.decode(doc["state"]), "id": doc["originator_id"]}
        for doc in database[log].find(sort=[("position", 1)])
        if doc["topic"].endswith(topic_ends)
    ]


def test_an_allowed_agency_is_served_and_recorded_as_the_broker_says(stack, cadre) -> None:
    records = stored(stack.database, REGISTRY_LOG, "CommandRecord.Recorded")
    assert [r["command"] for r in records] == ["register_unit", "register_cadre"]
    for record in records:
        # the payload's claim is kept as sent; the agency is the broker's
        assert record["actor"] == {"agency": "组织部", "person": "org tester"}
        role = "organization_department"
        assert record["caller"] == {
            "agency": stack.users["org"], "role": role, "policy_version": VERSION
        }  # fmt: skip
    # a service calls another as its own user: evaluations asks the registry about the cadre
    with agency(stack, "hall") as hall:
        rated = hall.evaluations.submit_rating(
            {**cadre_of(cadre), "channel": "service_window", "period": "2026-03",
             "value": "satisfied", "rater_ref": "ticket-1"}
        )  # fmt: skip
    assert rated["counted"] is True
    [rating_record] = stored(stack.database, "evaluations_events", "CommandRecord.Recorded")
    assert rating_record["caller"]["agency"] == stack.users["hall"]
    assert rating_record["caller"]["role"] == "service_hall"


def cadre_of(cadre: dict[str, str]) -> dict[str, str]:
    return {"cadre_id": cadre["cadre_id"]}


def test_a_forbidden_call_is_refused_changes_nothing_and_is_recorded(stack, cadre) -> None:
    before = stack.database[REGISTRY_LOG].count_documents({})
    command_id = str(uuid.uuid4())
    with agency(stack, "hall") as hall:
        with pytest.raises(youwei.Forbidden) as refused:
            hall.cadre_registry.dismiss(
                {**cadre_of(cadre), "command_id": command_id, "effective_date": "2026-04-01",
                 "reason": "秘密理由"}
            )  # fmt: skip
        # a service hall rates through its own channel only: a rule on the payload
        with pytest.raises(youwei.Forbidden) as wrong_channel:
            hall.evaluations.submit_rating(
                {**cadre_of(cadre), "channel": "phone_spot_check", "period": "2026-03",
                 "value": "satisfied", "rater_ref": "13900001234"}
            )  # fmt: skip
    details = refused.value.details
    assert details["agency"] == stack.users["hall"] and details["roles"] == ["service_hall"]
    assert details["method"] == "cadre_registry.dismiss"
    assert details["policy_version"] == VERSION and refused.value.command_id == command_id
    assert "only with channel one of service_window" in wrong_channel.value.reason

    with agency(stack, "auditor") as auditor:
        assert auditor.cadre_registry.get_cadre(cadre_of(cadre))["status"]["code"] == "in_post"
        with pytest.raises(youwei.Forbidden):
            auditor.cadre_registry.register_unit({"name": "审计不能登记"})

    # nothing changed: the registry's log holds only the refusals, each an event of its own
    denials = stored(stack.database, REGISTRY_LOG, "AccessDenied.Recorded")
    assert stack.database[REGISTRY_LOG].count_documents({}) == before + 2
    hall_denial, auditor_denial = denials[-2:]
    assert hall_denial["agency"] == stack.users["hall"]
    assert hall_denial["method"] == "cadre_registry.dismiss"
    assert hall_denial["command_id"] == command_id and hall_denial["cadre_id"] == cadre["cadre_id"]
    assert hall_denial["policy_version"] == VERSION and hall_denial["roles"] == ["service_hall"]
    kept = json.dumps(hall_denial, ensure_ascii=False, default=str)
    assert "秘密理由" not in kept  # nothing of the payload but its ids and actor
    assert str(hall_denial["id"]) == details["record_id"]
    assert auditor_denial["agency"] == stack.users["auditor"]
    [rating_denial] = stored(stack.database, "evaluations_events", "AccessDenied.Recorded")
    assert rating_denial["method"] == "evaluations.submit_rating"
    assert verify_log(stack.database, REGISTRY_LOG).ok
    # an auditor finds them in the cadre's history, with the agency the broker vouched for
    refusals = [e for e in history(stack.database, cadre["cadre_id"])
                if e["type"] == "access_denied_recorded"]  # fmt: skip
    assert {e["caller"]["agency"] for e in refusals} == {stack.users["hall"]}


def test_guest_may_do_nothing_in_production(stack, cadre) -> None:
    guest = {"AMQP_URI": f"pyamqp://guest:guest@{stack.host}/{stack.vhost}"}
    with IdentifiedClusterRpcProxy(guest, timeout=30) as rpc, pytest.raises(RemoteError) as refused:
        rpc.cadre_registry.get_cadre(cadre_of(cadre))
    assert refused.value.exc_type == "Forbidden"
    assert "local_development is off in production" in json.loads(refused.value.value)["reason"]


def publish_raw(stack, who: str, routing_key: str, payload: dict, **properties) -> dict:
    """Publish a request with kombu as ``who`` and return the reply's body."""
    key = str(uuid.uuid4())
    exchange = Exchange("nameko-rpc", type="topic", durable=True, passive=True)
    with Connection(stack.uri(who)) as connection:
        queue = Queue(f"rpc.reply-{stack.users[who]}-{key}", exchange, routing_key=key,
                      queue_arguments={"x-expires": 300000})  # fmt: skip
        replies: list = []
        with connection.Consumer(
            queue, callbacks=[lambda body, m: (replies.append(body), m.ack())]
        ):
            Producer(connection.channel(), exchange=exchange).publish(
                {"args": [payload], "kwargs": {}}, routing_key=routing_key, reply_to=key,
                correlation_id=str(uuid.uuid4()), serializer="json", **properties,
            )  # fmt: skip
            while not replies:
                connection.drain_events(timeout=30)
    return replies[0]


def test_the_broker_refuses_a_forged_user_id_and_headers_cannot_claim_an_agency(
    stack, cadre
) -> None:
    query = {"routing_key": "cadre_registry.get_cadre", "payload": cadre_of(cadre)}
    with pytest.raises(PreconditionFailed, match="user_id property set to"):
        publish_raw(stack, "hall", **query, user_id=stack.users["auditor"])
    # the hall as itself, with a header claiming to be the auditor: still the hall
    reply = publish_raw(stack, "hall", **query, user_id=stack.users["hall"],
                        headers={"nameko.youwei.agency": stack.users["auditor"]})  # fmt: skip
    assert reply["error"]["exc_type"] == "Forbidden"
    assert json.loads(reply["error"]["value"])["agency"] == stack.users["hall"]
    # no user_id at all: refused (and recorded, as nobody's)
    reply = publish_raw(stack, "auditor", **query)
    assert reply["error"]["exc_type"] == "Forbidden"
    details = json.loads(reply["error"]["value"])
    assert details["agency"] is None and "no user_id" in details["reason"]
    denial = stored(stack.database, REGISTRY_LOG, "AccessDenied.Recorded")[-1]
    assert denial["agency"] is None and str(denial["id"]) == details["record_id"]
    assert publish_raw(stack, "auditor", **query, user_id=stack.users["auditor"])["error"] is None


def test_an_agency_cannot_bind_a_queue_to_others_requests(stack) -> None:
    exchange = Exchange("nameko-rpc", type="topic", durable=True, passive=True)
    for key in ("cadre_registry.*", "#"):
        with Connection(stack.uri("hall")) as connection, pytest.raises(AccessRefused):
            Queue(f"rpc.reply-{stack.users['hall']}-snoop", exchange, routing_key=key)(
                connection.channel()
            ).declare()


def test_a_personnel_file_read_is_recorded_with_its_authority(stack, cadre) -> None:
    with agency(stack, "auditor") as auditor:
        file = auditor.records.personnel_file({**cadre_of(cadre), "as_of": "2026-03-01"})
        assert file["name"] == "刘洋"
        auditor.records.eligible_for_promotion({**cadre_of(cadre), "on": "2026-03-02"})
    with agency(stack, "hall") as hall, pytest.raises(youwei.Forbidden):
        hall.records.personnel_file(cadre_of(cadre))
    reads = stored(stack.database, "records_events", "PersonnelFileRead.Recorded")
    assert [(r["method"], r["day"]) for r in reads] == [
        ("records.personnel_file", "2026-03-01"),
        ("records.eligible_for_promotion", "2026-03-02"),
    ]
    for read in reads:
        assert read["agency"] == stack.users["auditor"] and read["role"] == "auditor"
        assert read["policy_version"] == VERSION and read["cadre_id"] == cadre["cadre_id"]
    [denied] = stored(stack.database, "records_events", "AccessDenied.Recorded")
    assert denied["agency"] == stack.users["hall"]
    # "who looked at this cadre's file, when, under which authority"
    looked = [e for e in history(stack.database, cadre["cadre_id"])
              if e["type"] == "personnel_file_read_recorded"]  # fmt: skip
    assert [(e["agency"], e["data"]["role"]) for e in looked] == [
        (stack.users["auditor"], "auditor")
    ] * 2
    assert all(e["recorded_at"] for e in looked)


def test_the_client_maps_errors_and_a_command_id_stays_the_agencys(stack, cadre) -> None:
    with agency(stack, "org") as org:
        with pytest.raises(youwei.InvalidCommand) as invalid:
            org.cadre_registry.register_unit({"name": ""})
        assert list(invalid.value.errors) == ["name"]
        with pytest.raises(youwei.NotFound):
            org.cadre_registry.get_cadre({"cadre_id": str(uuid.uuid4())})
        with pytest.raises(youwei.RuleViolation) as violation:
            org.cadre_registry.demote(
                {**cadre_of(cadre), "rank": "city_level", "post": "市长",
                 "effective_date": "2026-05-01", "reason": "升不是降"}
            )  # fmt: skip
        assert violation.value.rule == "registry.demotion_lowers_rank"
        unit = {"command_id": str(uuid.uuid4()), "actor": {"agency": "组织部", "person": "张三"},
                "name": "一次"}  # fmt: skip
        first = org.cadre_registry.register_unit(unit)
        assert org.cadre_registry.register_unit(unit) == first  # a retry: the first result
        with pytest.raises(youwei.Conflict):
            org.cadre_registry.register_unit({**unit, "name": "另一个"})
    # another agency, allowed the same method, sending the same command: not its command_id
    with agency(stack, "org_b") as other, pytest.raises(youwei.Conflict, match="another agency"):
        other.cadre_registry.register_unit(unit)
    with agency(stack, "auditor") as auditor, pytest.raises(youwei.BadCall):
        auditor.cadre_registry.no_such_method({})


def test_a_command_that_times_out_is_sent_again_and_done_once(
    stack, container_factory_module
) -> None:
    """The registry is down when a command is sent: the client times out after each of its
    attempts and says so, naming the command_id; sent again with it once the registry is
    back, the command is done once, though the registry received it three times. A call
    whose first attempts time out while the registry is down is answered once it returns."""
    stack.containers.pop("cadre_registry").kill()
    with (
        agency(stack, "org", timeout=1.0, attempts=2) as org,
        pytest.raises(youwei.Timeout) as timed_out,
    ):
        org.cadre_registry.register_unit({"name": "无人应答"})
    command_id = timed_out.value.command_id
    start(stack, container_factory_module, CadreRegistryService)
    with agency(stack, "org") as org:
        unit = org.cadre_registry.register_unit({"command_id": command_id, "name": "无人应答"})
        assert org.cadre_registry.get_unit(unit)["name"] == "无人应答"

    stack.containers.pop("cadre_registry").kill()
    command_id = str(uuid.uuid4())
    with agency(stack, "org", timeout=1.0, attempts=15) as org:
        sent = eventlet.spawn(
            org.cadre_registry.register_unit, {"command_id": command_id, "name": "重发"}
        )
        eventlet.sleep(2.5)  # two attempts time out meanwhile; the rest wait for the restart
        start(stack, container_factory_module, CadreRegistryService)
        unit = sent.wait()
    records = stored(stack.database, REGISTRY_LOG, "CommandRecord.Recorded")
    assert [r["result"] for r in records if str(r["command_id"]) == command_id] == [unit]
    assert len({str(r["command_id"]) for r in records}) == len(records)  # each once
