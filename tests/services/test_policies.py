"""The four services acting on each other's events over real RabbitMQ and SecantusDB:
each log relayed to the broker, each policy applied once, whatever the bus repeats."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest

from events.log.datastore import MongoDBDatastore
from events.log.published import LogReader
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
    cluster, city, mongodb_uri, clock
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
    clock.date = date(2026, 6, 1)  # the steps that follow are recorded by their day

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
                decided_on="2026-06-01")
    )  # fmt: skip
    wait_for(lambda: rpc.cadre_registry.get_cadre({"cadre_id": other})["status"]["code"]
             == "off_post_training")  # fmt: skip
    assert len(cases()) == 1
    cadre = rpc.cadre_registry.get_cadre({"cadre_id": city["cadre"]})
    assert len(cadre["history"]) == 3 and cadre["status"]["code"] == "in_post"


def test_an_overdue_letter_calls_the_owner_of_its_task_to_account(cluster, city, clock) -> None:
    rpc, _ = cluster
    task = rpc.cadre_registry.assign_responsibility(
        command(kind="liaison_task", title="联系政务服务中心窗口作风整治", owner_id=city["cadre"],
                effective_date="2026-01-01")
    )["task_id"]  # fmt: skip
    visit = rpc.inspections.open_inspection(
        command(kind="supervision_check", title="督查", started_on="2026-05-06", team=TEAM[:1])
    )["inspection_id"]
    finding = rpc.inspections.record_finding(
        command(inspection_id=visit, unit_id=city["unit"], situation="procrastination",
                description="审批拖拉", found_on="2026-05-06")
    )["finding_id"]  # fmt: skip
    letter = rpc.inspections.issue_rectification_letter(
        command(unit_id=city["unit"], finding_ids=[finding], task_id=task, requirements="限期整改",
                issued_on="2026-05-10", deadline="2026-06-10")
    )["letter_id"]  # fmt: skip
    clock.date = date(2026, 6, 11)
    [case] = wait_for(lambda: rpc.accountability.list_cases({"cadre_id": city["cadre"]})["cases"])
    assert case["basis"][0]["kind"]["code"] == "overdue_letter"
    assert case["basis"][0]["letter_id"] == letter
    assert (case["occurred_on"], case["opened_on"]) == ("2026-06-11", "2026-06-11")


def rate_year(rpc, cadre: str, year: int, official: str, public: str) -> None:
    for n in range(5):
        rpc.evaluations.submit_rating(
            command(cadre_id=cadre, channel="democratic_appraisal", period=f"{year}-12",
                    value=official, rater_ref=f"ballot-{year}-{n}")
        )  # fmt: skip
    for n in range(20):
        rpc.evaluations.submit_rating(
            command(cadre_id=cadre, channel="phone_spot_check", period=f"{year}-11",
                    value=public, rater_ref=f"phone-{year}-{n}")
        )  # fmt: skip


def test_assessments_open_a_case_or_propose_a_commendation(
    cluster, city, mongodb_uri, clock
) -> None:
    rpc, database = cluster
    clock.date = date(2026, 12, 15)  # the 2026 assessment period is open
    rate_year(rpc, city["cadre"], 2026, "incompetent", "dissatisfied")
    graded = rpc.evaluations.conclude_annual_assessment(command(cadre_id=city["cadre"], year=2026))
    assert graded["grade"]["code"] == "incompetent"
    [case] = wait_for(lambda: rpc.accountability.list_cases({"cadre_id": city["cadre"]})["cases"])
    assert case["basis"][0] == {"kind": {"code": "assessment", "zh": "年度考核结果",
                                         "en": "an annual assessment"}, "year": 2026}  # fmt: skip
    assert "拟降职" in case["summary"]

    star = rpc.cadre_registry.register_cadre(
        command(name="李明", gender="male", birth_date="1982-02-02", unit_id=city["unit"],
                post="科长", rank="township_section", post_kind="leadership",
                effective_date="2023-01-01")
    )["cadre_id"]  # fmt: skip
    reader = LogReader(MongoDBDatastore(mongodb_uri, database.name), "accountability")

    def commended() -> list[dict]:
        return [
            e
            for e in reader.public_events(0, reader.head())
            if e["type"] == "commendation_commended" and e["data"]["cadre_id"] == star
        ]

    for year in (2024, 2025, 2026):
        rate_year(rpc, star, year, "excellent", "satisfied")
        rpc.evaluations.conclude_annual_assessment(command(cadre_id=star, year=year))
    [commendation] = wait_for(commended)
    # the third-class merit (记三等功) as its own kind, citing its rule and version
    assert commendation["data"]["kind"] == "third_class_merit"
    assert (commendation["data"]["rule"], commendation["data"]["rules_version"],
            commendation["data"]["source"]) == (
        "excellent_three_years_merit", "2026.1", "公务员奖励规定")  # fmt: skip
    [listed] = rpc.accountability.list_commendations({"cadre_id": star})["commendations"]
    assert listed["commendation_id"] == commendation["originator_id"]
    assert listed["kind"] == {"code": "third_class_merit", "zh": "记三等功",
                              "en": "third-class merit"}  # fmt: skip
    assert "2024–2026年度考核连续3年优秀" in listed["reason"] and not listed["published"]
    assert rpc.accountability.list_cases({"cadre_id": star})["total"] == 0

    # a fourth excellent year is not a second merit: the run counts afresh after three (as
    # the personnel file counts); the policy decides in log order, so once the next
    # assessment's case is open, the fourth year was decided
    clock.date = date(2027, 12, 15)
    for cadre, grade, public in ((star, "excellent", "satisfied"),
                                 (city["cadre"], "incompetent", "dissatisfied")):  # fmt: skip
        rate_year(rpc, cadre, 2027, grade, public)
        rpc.evaluations.conclude_annual_assessment(command(cadre_id=cadre, year=2027))
    wait_for(lambda: rpc.accountability.list_cases({"cadre_id": city["cadre"]})["total"] == 2)
    assert len(commended()) == 1
    reader.recorder.datastore.close()


def test_an_admonishment_caps_the_grade_of_its_year_until_revoked(cluster, city, clock) -> None:
    rpc, database = cluster
    clock.date = date(2026, 12, 15)  # the 2026 assessment period is open
    case = rpc.accountability.open_case(
        command(cadre_id=city["cadre"], basis=[{"kind": "report", "reference": "举报"}],
                summary="x", occurred_on="2026-03-01", opened_on="2026-03-02")
    )["case_id"]  # fmt: skip
    revoked = rpc.accountability.impose_measure(
        command(case_id=case, measure="admonishment", reason="x", decided_on="2026-03-10")
    )["decision_id"]
    rpc.accountability.file_appeal(
        command(case_id=case, decision_id=revoked, grounds="x", filed_on="2026-03-11")
    )
    rpc.accountability.decide_appeal(
        command(case_id=case, decision_id=revoked, outcome="revoked", reason="x",
                decided_on="2026-03-20")
    )  # fmt: skip
    rpc.accountability.impose_measure(
        command(case_id=case, measure="accountability", form="circulated_criticism", reason="x",
                decided_on="2026-04-01")
    )  # fmt: skip
    sanctions = "services.evaluations.domain:CadreSanctions."

    def recorded() -> int:
        return database["evaluations_events"].count_documents(
            {"topic": {"$in": [f"{sanctions}Recorded", f"{sanctions}Revoked"]}}
        )

    wait_for(lambda: recorded() == 3)
    rate_year(rpc, city["cadre"], 2026, "excellent", "satisfied")
    graded = rpc.evaluations.conclude_annual_assessment(command(cadre_id=city["cadre"], year=2026))
    assert (graded["grade"]["code"], graded["vetoes"]) == ("competent", ["sanctioned_in_year"])
    assert graded["rules_version"] == "2026.3"
