"""What docs/operations.md says to watch, over the real stack: a policy consumer's lag and
position, parked messages counted, a signing key that is refused showing as a checkpoint
that grows old (the YouweiCheckpointStale alert). Three services in one
process with its metrics server, on a RabbitMQ vhost and a database of the module's own."""

from __future__ import annotations

import pytest
from kombu import Connection

from events.audit.checkpoints import CHECKPOINTS, Keys, load_private_key, new_private_key_pem
from services.accountability.service import AccountabilityService
from services.cadre_registry.service import CadreRegistryService
from services.inspections.service import InspectionsService
from tests.scenario import wait_for
from tests.services.support import command, running_services
from tests.services.test_inspections_rpc import TEAM
from tests.test_observability import samples, value
from youwei.ports import free_port
from youwei.stack import PROJECT_ROOT

pytestmark = pytest.mark.nameko


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """The key the services are given, retired by a rotation to another one as soon as they
    run, so that every later signing round is refused (SigningKeyError)."""
    directory = tmp_path_factory.mktemp("keys")
    refused, successor = directory / "refused.pem", directory / "successor.pem"
    refused.write_bytes(new_private_key_pem())
    successor.write_bytes(new_private_key_pem())
    return refused, successor


@pytest.fixture(scope="module")
def watched(container_factory_module, rabbit_config_module, mongodb_uri, keys):
    address = f"127.0.0.1:{free_port()}"
    refused, successor = keys
    with running_services(
        [CadreRegistryService, InspectionsService, AccountabilityService],
        container_factory_module, rabbit_config_module, mongodb_uri,
        METRICS_ADDRESS=address, METRICS_SAMPLE_SECONDS=0.2, EVENT_RETRY_DELAYS=[0.2],
        AUDIT_SIGNING_KEY_FILE=str(refused), AUDIT_CHECKPOINT_SECONDS=0.2,
    ) as (rpc, database):  # fmt: skip
        Keys(database).rotate(load_private_key(refused), load_private_key(successor))
        yield rpc, f"http://{address}", database, rabbit_config_module


def test_a_policy_consumers_position_follows_its_upstream_log(watched) -> None:
    rpc, base, database, _ = watched
    unit = rpc.cadre_registry.register_unit(command(name="市水务局"))["unit_id"]
    cadre = rpc.cadre_registry.register_cadre(
        command(name="甲", gender="male", birth_date="1970-01-01", unit_id=unit, post="局长",
                rank="county_division", post_kind="leadership", effective_date="2025-01-01")
    )["cadre_id"]  # fmt: skip
    visit = rpc.inspections.open_inspection(
        command(kind="undercover_visit", title="暗访", started_on="2026-03-02", team=TEAM)
    )["inspection_id"]
    rpc.inspections.record_finding(
        command(inspection_id=visit, unit_id=unit, cadre_id=cadre, situation="absent_from_post",
                description="窗口无人", found_on="2026-03-02")
    )  # fmt: skip
    finding = database["inspections_events"].find_one(
        {"topic": "services.inspections.domain:Finding.Recorded"}, sort=[("position", -1)]
    )["position"]
    labels = {"service": "accountability", "policy": "case_for_finding", "source": "inspections"}

    def caught_up() -> dict | None:
        found = samples(base)
        position = value(found, "youwei_consumer_position", **labels)
        return found if position >= finding else None

    found = wait_for(caught_up, 30, "the policy's position reaches the finding")
    # a policy tracks on past the events it decides on, to the log's head when it goes there
    head = database["log_heads"].find_one({"_id": "inspections_events"})["position"]
    assert finding <= value(found, "youwei_consumer_position", **labels) <= head
    assert ("youwei_consumer_lag_events", tuple(sorted(labels.items()))) in found
    assert value(found, "youwei_consumer_lag_events", **labels) == 0


def test_a_parked_message_is_counted(watched) -> None:
    _, base, _, rabbit = watched
    queue = "evt-inspections-finding_recorded--accountability.finding_recorded"
    before = value(samples(base), "youwei_event_parks_total", service="accountability",
                   queue=queue, reason="malformed")  # fmt: skip
    with Connection(rabbit["AMQP_URI"]) as connection:
        producer = connection.Producer()
        producer.publish(
            b"not json",
            exchange="",
            routing_key=queue,
            content_type="application/json",
            content_encoding="utf-8",
        )

    def counted() -> float | None:
        now = value(samples(base), "youwei_event_parks_total", service="accountability",
                    queue=queue, reason="malformed")  # fmt: skip
        return now if now > before else None

    assert wait_for(counted, 30, "the park is counted") == before + 1


def test_a_refused_signing_key_shows_as_a_checkpoint_growing_old(watched) -> None:
    _, base, database, _ = watched
    labels = {"service": "inspections", "log": "inspections_events"}
    signed = database[CHECKPOINTS].count_documents({})
    first = wait_for(lambda: value(samples(base), "youwei_unsigned_event_age_seconds", **labels),
                     30, "the checkpoint age is reported")  # fmt: skip
    later = wait_for(
        lambda: (age := value(samples(base), "youwei_unsigned_event_age_seconds", **labels)) > first
        and age,
        30, "the age grows",
    )  # fmt: skip
    assert later > first
    assert database[CHECKPOINTS].count_documents({}) == signed  # nothing signed meanwhile
    rules = (PROJECT_ROOT / "k8s" / "monitoring" / "prometheusrule.yaml").read_text()
    assert "max by (log) (youwei_unsigned_event_age_seconds) > 900" in rules
