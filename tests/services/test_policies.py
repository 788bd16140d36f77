"""The four services acting on each other's events over real RabbitMQ and SecantusDB:
each log relayed to the broker, each policy applied once, whatever the bus repeats."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest

from events.mongodb import MongoDBDatastore
from events.published import LogReader
from services.accountability.service import AccountabilityService
from services.cadre_registry.service import CadreRegistryService
from services.evaluations.service import EvaluationsService
from services.inspections.service import InspectionsService
from tests.services.support import FixedClock, command, running_services
from tests.services.test_inspections_rpc import TEAM, wait_for

pytestmark = pytest.mark.nameko


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(date(2026, 5, 12))


@pytest.fixture
def cluster(container_factory, rabbit_config, mongodb_uri, clock):
    services = [CadreRegistryService, EvaluationsService, InspectionsService,
                AccountabilityService]  # fmt: skip
    with running_services(
        services, container_factory, rabbit_config, mongodb_uri, clock=clock,
        INSPECTIONS_DEADLINE_CHECK_SECONDS=0.2, EVENT_RETRY_DELAYS=[0.2, 0.5],
    ) as running:  # fmt: skip
        yield running


@pytest.fixture
def city(cluster) -> dict[str, str]:
    rpc, _ = cluster
    unit = rpc.cadre_registry.register_unit(command(name="市政务服务中心"))["unit_id"]
    cadre = rpc.cadre_registry.register_cadre(
        command(name="周敏", gender="female", birth_date="1979-03-03", unit_id=unit,
                post="副主任", rank="county_division", post_kind="leadership",
                effective_date="2025-01-01")
    )["cadre_id"]  # fmt: skip
    return {"unit": unit, "cadre": cadre}


def test_a_finding_goes_through_to_the_registry_and_back_on_appeal(
    cluster, city, mongodb_uri
) -> None:
    """Finding about a cadre → a case (accountability) → dismissal decided → the registry
    dismisses → the dismissal revoked on appeal → the registry reinstates; each once."""
    rpc, database = cluster
    visit = rpc.inspections.open_inspection(
        command(kind="undercover_visit", title="窗口暗访", started_on="2026-05-06", team=TEAM)
    )["inspection_id"]
    recorded = command(inspection_id=visit, unit_id=city["unit"], cadre_id=city["cadre"],
                       situation="absent_from_post", description="上班时间窗口无人",
                       found_on="2026-05-06")  # fmt: skip
    finding = rpc.inspections.record_finding(recorded)["finding_id"]

    def cases() -> list[dict]:
        return rpc.accountability.list_cases({"cadre_id": city["cadre"]})["cases"]

    [case] = wait_for(cases)
    assert case["basis"] == [{"kind": {"code": "finding", "zh": "督查暗访发现问题",
                                       "en": "a finding of an inspection"},
                              "finding_id": finding}]  # fmt: skip
    assert case["opened_on"] == "2026-05-12" and case["occurred_on"] == "2026-05-06"

    decision = rpc.accountability.decide_handling(
        command(case_id=case["case_id"], handling="dismissal", reason="在编不在岗",
                decided_on="2026-05-20")
    )["decision_id"]  # fmt: skip

    def status() -> str:
        return rpc.cadre_registry.get_cadre({"cadre_id": city["cadre"]})["status"]["code"]

    wait_for(lambda: status() == "dismissed")
    rpc.accountability.file_appeal(
        command(case_id=case["case_id"], decision_id=decision, grounds="有病假证明",
                filed_on="2026-05-21")
    )  # fmt: skip
    rpc.accountability.decide_appeal(
        command(case_id=case["case_id"], decision_id=decision, outcome="revoked",
                reason="申诉理由成立", decided_on="2026-06-01")
    )  # fmt: skip
    wait_for(lambda: status() == "in_post")
    cadre = rpc.cadre_registry.get_cadre({"cadre_id": city["cadre"]})
    assert [h["change"]["code"] for h in cadre["history"]] == [
        "registered", "dismissed", "reinstated"]  # fmt: skip
    assert (cadre["post"], cadre["unit_id"]) == ("副主任", city["unit"])

    # the cause is on record: the case's event carries the finding's correlation
    reader = LogReader(MongoDBDatastore(mongodb_uri, database.name), "accountability")
    opened = next(e for e in reader.public_events(0, reader.head()) if e["type"] == "case_opened")
    assert opened["correlation_id"] == recorded["command_id"]
    assert opened["data"]["basis"] == [{"kind": "finding", "finding_id": finding}]
    reader.recorder.datastore.close()

    # every relay publishes everything again; later events go through after the repeats
    database["relay_leases"].update_many({}, {"$set": {"position": 0}})
    other = rpc.cadre_registry.register_cadre(
        command(name="陈静", gender="female", birth_date="1980-01-01", unit_id=city["unit"],
                post="科长", rank="township_section", post_kind="leadership",
                effective_date="2025-01-01")
    )["cadre_id"]  # fmt: skip
    rpc.inspections.record_finding({**recorded, "command_id": str(uuid4()), "cadre_id": other})
    [later] = wait_for(lambda: rpc.accountability.list_cases({"cadre_id": other})["cases"])
    rpc.accountability.decide_handling(
        command(case_id=later["case_id"], handling="off_post_training", reason="离岗培训",
                decided_on="2026-05-20")
    )  # fmt: skip
    wait_for(lambda: rpc.cadre_registry.get_cadre({"cadre_id": other})["status"]["code"]
             == "off_post_training")  # fmt: skip
    assert len(cases()) == 1
    cadre = rpc.cadre_registry.get_cadre({"cadre_id": city["cadre"]})
    assert len(cadre["history"]) == 3 and cadre["status"]["code"] == "in_post"
