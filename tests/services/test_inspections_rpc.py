"""The inspections service over real RabbitMQ, beside the cadre registry it checks units
and cadres with, on SecantusDB; the service's clock is the test's."""

from __future__ import annotations

import time
from datetime import date

import pytest
from nameko.exceptions import RemoteError

from events.audit.verify import verify_log
from services.cadre_registry.service import CadreRegistryService
from services.inspections.service import InspectionsService
from tests.services.support import FixedClock, command, invalid_fields, running_services

pytestmark = pytest.mark.nameko
LOG = "inspections_events"
TEAM = [{"name": "李纪检", "role": "commission"}, {"name": "王记者", "role": "media"},
        {"name": "赵代表", "role": "npc_deputy"}]  # fmt: skip
FILM = {"reference": "暗访片 2026-05 第3段", "sha256": "0f" * 32}


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(date(2026, 5, 10))


@pytest.fixture
def cluster(container_factory, rabbit_config, mongodb_uri, clock):
    services = [CadreRegistryService, InspectionsService]
    with running_services(
        services, container_factory, rabbit_config, mongodb_uri, clock=clock,
        INSPECTIONS_DEADLINE_CHECK_SECONDS=0.2,
    ) as running:  # fmt: skip
        yield running


@pytest.fixture
def unit_and_cadre(cluster) -> tuple[str, str]:
    rpc, _ = cluster
    unit = rpc.cadre_registry.register_unit(command(name="市政务服务中心"))["unit_id"]
    cadre = rpc.cadre_registry.register_cadre(
        command(name="刘洋", gender="male", birth_date="1980-04-04", unit_id=unit, post="主任",
                rank="county_division", post_kind="leadership", effective_date="2025-01-01")
    )["cadre_id"]  # fmt: skip
    return unit, cadre


def visit(rpc) -> str:
    return rpc.inspections.open_inspection(
        command(kind="undercover_visit", title="政务服务窗口暗访", started_on="2026-05-06",
                team=TEAM)
    )["inspection_id"]  # fmt: skip


def find(rpc, inspection, unit, cadre=None, situation="absent_from_post", on="2026-05-06"):
    return rpc.inspections.record_finding(
        command(inspection_id=inspection, unit_id=unit, cadre_id=cadre, situation=situation,
                cadre_type="dozing", description="工作时间窗口无人", evidence=[FILM],
                typical=True, found_on=on)
    )["finding_id"]  # fmt: skip


def wait_for(condition, seconds: float = 20.0):
    deadline = time.monotonic() + seconds
    while not (result := condition()):
        assert time.monotonic() < deadline, "the condition did not come true in time"
        time.sleep(0.1)
    return result


def test_a_visit_records_findings_that_are_exposed_and_listed(
    cluster, unit_and_cadre, clock
) -> None:
    rpc, database = cluster
    clock.date = date(2026, 6, 30)  # after every day the visits name
    unit, cadre = unit_and_cadre
    inspection = visit(rpc)
    first = find(rpc, inspection, unit, cadre)
    find(rpc, inspection, unit, situation="procrastination", on="2026-05-07")
    other_visit = rpc.inspections.open_inspection(
        command(kind="supervision_check", title="督查", started_on="2026-06-01", team=TEAM[:1])
    )["inspection_id"]
    find(rpc, other_visit, unit, cadre, situation="passes_the_buck", on="2026-06-02")

    shown = rpc.inspections.get_inspection({"inspection_id": inspection})
    assert shown["kind"] == {"code": "undercover_visit", "zh": "暗访", "en": "undercover visit"}
    assert [m["role"]["zh"] for m in shown["team"]] == ["纪检监察", "新闻媒体", "人大代表"]
    assert shown["findings"] == 2

    exposed = rpc.inspections.expose_finding(
        command(finding_id=first, exposure="undercover_film", exposed_on="2026-05-20")
    )
    assert exposed["exposures"] == [
        {"exposure": {"code": "undercover_film", "zh": "暗访片/电教片",
                      "en": "undercover or educational film"}, "exposed_on": "2026-05-20"}
    ]  # fmt: skip
    finding = rpc.inspections.get_finding({"finding_id": first})
    assert finding["situation"]["zh"] == "在编不在岗，履职不到位"
    assert finding["category"]["zh"] == "混" and finding["cadre_type"]["zh"] == "打盹型"
    assert finding["evidence"] == [FILM] and finding["typical"] is True

    def listed(**query) -> list[str]:
        return [f["situation"]["code"] for f in rpc.inspections.list_findings(query)["findings"]]

    assert listed(unit_id=unit) == ["absent_from_post", "procrastination", "passes_the_buck"]
    assert listed(cadre_id=cadre) == ["absent_from_post", "passes_the_buck"]
    assert listed(category="laxity") == ["passes_the_buck"]
    assert listed(situation="procrastination") == ["procrastination"]
    assert listed(found_from="2026-05-07", found_to="2026-05-31") == ["procrastination"]
    assert listed(inspection_id=other_visit) == ["passes_the_buck"]
    page = rpc.inspections.list_findings({"unit_id": unit, "page": 2, "page_size": 2})
    assert page["total"] == 3 and [f["found_on"] for f in page["findings"]] == ["2026-06-02"]
    assert verify_log(database, LOG).ok


def test_a_letter_not_accepted_by_its_deadline_becomes_overdue_by_itself(
    cluster, unit_and_cadre, clock
) -> None:
    rpc, _ = cluster
    unit, cadre = unit_and_cadre
    finding = find(rpc, visit(rpc), unit, cadre)
    late = rpc.inspections.issue_rectification_letter(
        command(unit_id=unit, finding_ids=[finding], requirements="一个月内整改到位",
                issued_on="2026-05-10", deadline="2026-06-10")
    )["letter_id"]  # fmt: skip
    on_time = rpc.inspections.issue_rectification_letter(
        command(unit_id=unit, finding_ids=[finding], requirements="建立窗口值守制度",
                issued_on="2026-05-10", deadline="2026-06-10")
    )["letter_id"]  # fmt: skip
    clock.date = date(2026, 6, 6)  # reports and reviews are recorded by their day
    rpc.inspections.report_rectification(
        command(letter_id=on_time, report="已建立值守制度", reported_on="2026-06-01")
    )
    reviewed = rpc.inspections.review_rectification(
        command(letter_id=on_time, accepted=True, reason="验收合格", reviewed_on="2026-06-05")
    )
    assert reviewed["status"]["code"] == "accepted"
    rpc.inspections.report_rectification(
        command(letter_id=late, report="正在整改", reported_on="2026-06-02")
    )
    rejected = rpc.inspections.review_rectification(
        command(letter_id=late, accepted=False, reason="整改不到位", reviewed_on="2026-06-06")
    )
    assert rejected["status"]["code"] == "awaiting_report" and not rejected["overdue"]

    clock.date = date(2026, 6, 10)  # the deadline itself: not late yet
    time.sleep(1.0)  # several timer rounds
    assert rpc.inspections.get_rectification_letter({"letter_id": late})["overdue"] is False

    clock.date = date(2026, 6, 11)
    overdue = wait_for(
        lambda: (
            (letter := rpc.inspections.get_rectification_letter({"letter_id": late}))["overdue"]
            and letter
        )
    )
    assert overdue["overdue_on"] == "2026-06-11"
    assert rpc.inspections.get_rectification_letter({"letter_id": on_time})["overdue"] is False
    listed = rpc.inspections.list_rectification_letters({"unit_id": unit, "overdue": True})
    assert [letter["letter_id"] for letter in listed["letters"]] == [late]


def test_letters_and_findings_follow_the_rules(cluster, unit_and_cadre) -> None:
    rpc, database = cluster
    unit, _ = unit_and_cadre
    other_unit = rpc.cadre_registry.register_unit(command(name="市住建局"))["unit_id"]
    inspection = visit(rpc)
    ours, theirs = find(rpc, inspection, unit), find(rpc, inspection, other_unit)
    stored = database[LOG].count_documents({})

    def refused(method, rule, **fields):
        with pytest.raises(RemoteError) as error:
            getattr(rpc.inspections, method)(command(**fields))
        assert error.value.exc_type == "RuleViolation", error.value
        assert error.value.value.startswith(rule), error.value.value

    refused("issue_rectification_letter", "inspections.letter_findings_of_unit", unit_id=unit,
            finding_ids=[ours, theirs], requirements="整改", issued_on="2026-05-10",
            deadline="2026-06-10")  # fmt: skip
    refused("issue_rectification_letter", "inspections.deadline_after_issue", unit_id=unit,
            finding_ids=[ours], requirements="整改", issued_on="2026-05-10",
            deadline="2026-05-10")  # fmt: skip
    refused("record_finding", "inspections.date_in_order", inspection_id=inspection,
            unit_id=unit, situation="no_drive", description="x", found_on="2026-05-01")  # fmt: skip
    refused("open_inspection", "inspections.mixed_team", kind="undercover_visit", title="暗访",
            started_on="2026-05-01", team=TEAM[1:])  # fmt: skip
    refused("expose_finding", "inspections.date_in_order", finding_id=ours, exposure="media",
            exposed_on="2026-05-01")  # fmt: skip

    for method, fields, named in [
        ("record_finding", {"inspection_id": inspection, "unit_id": NOWHERE,
                            "situation": "no_drive", "description": "x",
                            "found_on": "2026-05-08"}, "unit_id"),
        ("record_finding", {"inspection_id": inspection, "unit_id": unit, "cadre_id": NOWHERE,
                            "situation": "no_drive", "description": "x",
                            "found_on": "2026-05-08"}, "cadre_id"),
        ("record_finding", {"inspection_id": NOWHERE, "unit_id": unit, "situation": "no_drive",
                            "description": "x", "found_on": "2026-05-08"}, "inspection_id"),
        ("issue_rectification_letter", {"unit_id": unit, "finding_ids": [ours, NOWHERE],
                                        "requirements": "整改", "issued_on": "2026-05-10",
                                        "deadline": "2026-06-10"}, "finding_ids"),
        ("report_rectification", {"letter_id": NOWHERE, "report": "x",
                                  "reported_on": "2026-05-10"}, "letter_id"),
        ("expose_finding", {"finding_id": ours, "exposure": "billboard",
                            "exposed_on": "2026-05-10"}, "exposure"),
    ]:  # fmt: skip
        with pytest.raises(RemoteError) as error:
            getattr(rpc.inspections, method)(command(**fields))
        assert named in invalid_fields(error.value), (method, error.value.value)
    for query in ("get_inspection", "get_finding", "get_rectification_letter"):
        key = query.removeprefix("get_").replace("rectification_", "") + "_id"
        with pytest.raises(RemoteError) as error:
            getattr(rpc.inspections, query)({key: NOWHERE})
        assert error.value.exc_type == "NotFound"
    assert database[LOG].count_documents({}) == stored


NOWHERE = "8a5e0000-0000-4000-8000-000000000000"
