"""The accountability service over real RabbitMQ, beside the registry, inspections and
evaluations it asks about cadres, units and the bases of cases, on SecantusDB."""

from __future__ import annotations

from datetime import date

import pytest
from nameko.exceptions import RemoteError

from events.audit.verify import verify_log
from services.accountability.service import AccountabilityService
from services.cadre_registry.service import CadreRegistryService
from services.evaluations.service import EvaluationsService
from services.inspections.service import InspectionsService
from tests.services.support import FixedClock, command, invalid_fields, running_services
from tests.services.test_inspections_rpc import TEAM, wait_for

pytestmark = pytest.mark.nameko
LOG = "accountability_events"
NOWHERE = "8a5e0000-0000-4000-8000-000000000000"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(date(2026, 12, 31))  # after every day the tests name


@pytest.fixture
def cluster(container_factory, rabbit_config, mongodb_uri, clock):
    services = [CadreRegistryService, EvaluationsService, InspectionsService,
                AccountabilityService]  # fmt: skip
    with running_services(
        services, container_factory, rabbit_config, mongodb_uri, clock=clock,
        INSPECTIONS_DEADLINE_CHECK_SECONDS=0.2,
    ) as running:  # fmt: skip
        yield running


@pytest.fixture
def city(cluster) -> dict[str, str]:
    rpc, _ = cluster
    unit = rpc.cadre_registry.register_unit(command(name="市政务服务中心"))["unit_id"]

    def cadre(name: str) -> str:
        return rpc.cadre_registry.register_cadre(
            command(name=name, gender="female", birth_date="1979-03-03", unit_id=unit,
                    post="副主任", rank="county_division", post_kind="leadership",
                    effective_date="2025-01-01")
        )["cadre_id"]  # fmt: skip

    return {"unit": unit, "cadre": cadre("周敏"), "colleague": cadre("陈静")}


def finding(rpc, unit: str, cadre: str | None) -> str:
    inspection = rpc.inspections.open_inspection(
        command(kind="undercover_visit", title="窗口暗访", started_on="2026-05-06", team=TEAM)
    )["inspection_id"]
    return rpc.inspections.record_finding(
        command(inspection_id=inspection, unit_id=unit, cadre_id=cadre,
                situation="absent_from_post", description="上班时间窗口无人",
                found_on="2026-05-06")
    )["finding_id"]  # fmt: skip


def open_case(rpc, cadre: str, basis: list, **fields) -> str:
    return rpc.accountability.open_case(
        command(cadre_id=cadre, basis=basis, summary="窗口无人值守",
                occurred_on="2026-05-06", opened_on="2026-05-12", **fields)
    )["case_id"]  # fmt: skip


#: The discipline commission's statements tolerance for reform needs (三个区分开来).
STATED = {
    "no_personal_gain": {"holds": True, "basis": "经查银行流水，未发现谋取私利"},
    "no_prohibition_broken": {"holds": True, "basis": "未违反明令禁止的规定"},
}
FOLLOWED = [
    {"step": "risk_assessment", "done_on": "2026-02-20"},
    {"step": "legality_review", "done_on": "2026-02-24"},
    {"step": "collective_deliberation", "done_on": "2026-02-26"},
]


def started_by_decision(rpc, effort: str, procedure: list = FOLLOWED, **fields) -> str:
    """The major decision that started ``effort`` (by default before it, procedure
    followed), as the inspections service records it."""
    fields = {"decided_on": "2026-02-27", "reform_effort_ids": [effort], **fields}
    return rpc.inspections.record_major_decision(
        command(title="关于实施审批制度改革的决定", procedure=procedure, **fields)
    )["decision_id"]


def test_one_whole_case_reads_back_as_the_ordered_events_of_the_logs(cluster, city, clock) -> None:
    """Finding in an undercover visit, letter, overdue, case, statement, admonishment,
    appeal revoked: the story, from the logs alone."""
    rpc, database = cluster
    clock.date = date(2026, 5, 12)  # before the letter's deadline
    found = finding(rpc, city["unit"], None)  # about the unit: no case opens by itself
    letter = rpc.inspections.issue_rectification_letter(
        command(unit_id=city["unit"], finding_ids=[found], requirements="限期整改",
                issued_on="2026-05-10", deadline="2026-06-10")
    )["letter_id"]  # fmt: skip
    with pytest.raises(RemoteError) as error:
        open_case(rpc, city["cadre"], [{"kind": "overdue_letter", "letter_id": letter}])
    assert error.value.value.startswith("accountability.basis_letter_overdue")

    clock.date = date(2026, 6, 11)
    wait_for(lambda: rpc.inspections.get_rectification_letter({"letter_id": letter})["overdue"])
    clock.date = date(2026, 7, 1)
    case = rpc.accountability.open_case(
        command(cadre_id=city["cadre"], summary="暗访发现窗口无人，整改逾期",
                basis=[{"kind": "finding", "finding_id": found},
                       {"kind": "overdue_letter", "letter_id": letter}],
                occurred_on="2026-05-06", opened_on="2026-06-12")
    )["case_id"]  # fmt: skip
    rpc.accountability.record_statement(
        command(case_id=case, statement="当日外出参加培训", made_on="2026-06-15")
    )
    decision = rpc.accountability.impose_measure(
        command(case_id=case, measure="admonishment", reason="窗口无人值守，整改逾期",
                decided_on="2026-06-20")
    )["decision_id"]  # fmt: skip
    rpc.accountability.file_appeal(
        command(case_id=case, decision_id=decision, grounds="有培训通知为证", filed_on="2026-06-22")
    )
    decided = rpc.accountability.decide_appeal(
        command(case_id=case, decision_id=decision, outcome="revoked", reason="申诉理由成立",
                decided_on="2026-07-01")
    )["case"]  # fmt: skip
    assert decided["decisions"][0]["status"]["code"] == "revoked"
    assert decided["decisions"][0]["appeal"]["outcome"]["zh"] == "撤销"

    def story(log: str) -> list[str]:
        """Each event of the log, in log order, as Aggregate.Event (topic after ':')."""
        topics = [d["topic"] for d in database[log].find({}, {"topic": 1}).sort("position", 1)]
        return [t.split(":")[1] for t in topics if not t.endswith("CommandRecord.Recorded")]

    assert story("inspections_events") == [
        "Inspection.Opened", "Finding.Recorded", "RectificationLetter.Issued",
        "RectificationLetter.BecameOverdue",
    ]  # fmt: skip
    assert story(LOG) == [
        "Case.Opened", "Case.StatementRecorded", "Case.Decided", "Case.AppealFiled",
        "Case.AppealDecided",
    ]  # fmt: skip
    assert verify_log(database, "inspections_events").ok and verify_log(database, LOG).ok


def test_measures_handling_publication_and_closing(cluster, city) -> None:
    rpc, database = cluster
    case = open_case(rpc, city["cadre"], [{"kind": "report", "reference": "12345热线 第88号"}])
    with pytest.raises(RemoteError) as error:
        rpc.accountability.publish_result(
            command(case_id=case, summary="公告", published_on="2026-05-20")
        )
    assert error.value.value.startswith("accountability.publish_after_decision")

    accountability = rpc.accountability.impose_measure(
        command(case_id=case, measure="accountability", form="circulated_criticism",
                reason="履职不到位", decided_on="2026-05-20")
    )  # fmt: skip
    shown = accountability["case"]["decisions"][0]
    assert shown["kind"]["zh"] == "问责" and shown["form"]["zh"] == "通报"
    adjustment = rpc.accountability.decide_handling(
        command(case_id=case, handling="post_adjustment", post="科员", reason="不适宜担任现职",
                decided_on="2026-05-21")
    )["decision_id"]  # fmt: skip
    rpc.accountability.file_appeal(
        command(case_id=case, decision_id=adjustment, grounds="处理过重", filed_on="2026-05-22")
    )
    changed = rpc.accountability.decide_appeal(
        command(case_id=case, decision_id=adjustment, outcome="changed", reason="改为转任",
                decided_on="2026-05-25",
                changed_to={"kind": "transfer", "unit_id": city["unit"], "post": "科员"})
    )["case"]["decisions"][1]  # fmt: skip
    assert changed["kind"]["code"] == "transfer" and changed["status"]["code"] == "changed"
    assert changed["was"][0]["kind"]["code"] == "post_adjustment"

    published = rpc.accountability.publish_result(
        command(case_id=case, summary="对周敏同志通报问责并转任", published_on="2026-05-26")
    )
    assert published["case"]["publications"][0]["withdrawn_on"] is None
    assert rpc.accountability.list_cases({"published": True})["total"] == 1
    rpc.accountability.withdraw_publication(
        command(case_id=case, reason="涉及个人隐私", withdrawn_on="2026-06-01")
    )
    assert rpc.accountability.list_cases({"published": True})["total"] == 0

    closed = rpc.accountability.close_case(
        command(case_id=case, conclusion="办结", closed_on="2026-06-02")
    )["case"]
    assert closed["status"]["zh"] == "已办结"
    with pytest.raises(RemoteError) as error:
        rpc.accountability.impose_measure(
            command(case_id=case, measure="talk", reason="x", decided_on="2026-06-03")
        )
    assert error.value.value.startswith("accountability.case_closed")
    shown = rpc.accountability.get_case({"case_id": case})
    # the same case, but a command's result (kept in the log) names no report's reference
    assert shown["basis"][0]["reference"] == "12345热线 第88号"
    assert closed["basis"][0]["reference"] is None
    assert {**shown, "basis": closed["basis"]} == closed
    assert verify_log(database, LOG).ok


def test_tolerance_for_reform_and_commendation(cluster, city) -> None:
    rpc, _ = cluster
    effort = rpc.accountability.register_reform_effort(
        command(unit_id=city["unit"], title="“最多跑一次”审批改革",
                risk_assessment="流程再造，风险可控", risk_level="medium",
                participants=[city["cadre"]], registered_on="2026-03-01", starts_on="2026-03-01")
    )["reform_effort_id"]  # fmt: skip
    shown = rpc.accountability.get_reform_effort({"reform_effort_id": effort})
    assert shown["risk_level"]["zh"] == "中" and shown["participants"] == [city["cadre"]]

    inside = open_case(rpc, city["cadre"], [{"kind": "report", "reference": "举报1"}])
    outside = open_case(rpc, city["colleague"], [{"kind": "report", "reference": "举报2"}])
    decision = started_by_decision(rpc, effort)
    exempted = rpc.accountability.grant_exemption(
        command(case_id=inside, reform_effort_id=effort, outcome="exempted",
                reasons="改革探索中出现的失误，未谋私利", granted_on="2026-05-15",
                decision_id=decision, **STATED)
    )["case"]  # fmt: skip
    assert exempted["exemption"]["outcome"]["zh"] == "免责"
    with pytest.raises(RemoteError) as error:
        rpc.accountability.impose_measure(
            command(case_id=inside, measure="talk", reason="x", decided_on="2026-05-16")
        )
    assert error.value.value.startswith("accountability.exempted_takes_no_sanction")
    with pytest.raises(RemoteError) as error:
        rpc.accountability.grant_exemption(
            command(case_id=outside, reform_effort_id=effort, outcome="exempted", reasons="x",
                    granted_on="2026-05-15", decision_id=decision, **STATED)
        )  # fmt: skip
    assert error.value.value.startswith("accountability.exemption_within_reform")
    assert rpc.accountability.list_cases({"exempted": True})["total"] == 1

    commended = rpc.accountability.commend(
        command(cadre_id=city["colleague"], kind="promotion_recommendation",
                reason="连续三年考核优秀", commended_on="2026-12-20")
    )["commendation_id"]  # fmt: skip
    shown = rpc.accountability.get_commendation({"commendation_id": commended})
    assert shown["kind"]["zh"] == "提拔使用" and shown["cadre_id"] == city["colleague"]


def test_cases_are_listed_by_filters_and_pages(cluster, city) -> None:
    rpc, _ = cluster
    report = [{"kind": "report", "reference": "举报"}]
    cases = [
        open_case(
            rpc,
            city["cadre"],
            report,
        )
        for _ in range(3)
    ]
    other = rpc.accountability.open_case(
        command(cadre_id=city["colleague"], basis=[{"kind": "finding",
                "finding_id": finding(rpc, city["unit"], None)}], summary="单位问题",
                occurred_on="2026-05-06", opened_on="2026-06-01")
    )["case_id"]  # fmt: skip
    rpc.accountability.impose_measure(
        command(case_id=cases[1], measure="talk", reason="x", decided_on="2026-05-20")
    )
    rpc.accountability.decide_handling(
        command(case_id=other, handling="dismissal", reason="x", decided_on="2026-06-02")
    )

    def listed(**query) -> list[str]:
        return [c["case_id"] for c in rpc.accountability.list_cases(query)["cases"]]

    assert listed(cadre_id=city["cadre"]) == sorted(cases)
    assert listed(measure="talk") == [cases[1]]
    assert listed(handling="dismissal") == [other]
    assert listed(basis="finding") == [other]
    assert listed(opened_from="2026-05-13") == [other]
    assert listed(status="closed") == []
    page = rpc.accountability.list_cases({"page": 2, "page_size": 3})
    assert page["total"] == 4 and [c["case_id"] for c in page["cases"]] == [other]


def test_what_a_command_names_must_exist_and_refusals_leave_no_trace(cluster, city) -> None:
    rpc, database = cluster
    unit_finding = finding(rpc, city["unit"], city["colleague"])
    wait_for(lambda: rpc.accountability.list_cases({"cadre_id": city["colleague"]})["total"])
    case = open_case(rpc, city["cadre"], [{"kind": "report", "reference": "举报"}])
    stored = database[LOG].count_documents({})
    for method, fields, named in [
        ("open_case", {"cadre_id": NOWHERE, "basis": [{"kind": "report", "reference": "r"}],
                       "summary": "x", "occurred_on": "2026-05-06",
                       "opened_on": "2026-05-12"}, "cadre_id"),
        ("open_case", {"cadre_id": city["cadre"], "basis": [{"kind": "finding",
                       "finding_id": NOWHERE}], "summary": "x", "occurred_on": "2026-05-06",
                       "opened_on": "2026-05-12"}, "basis"),
        ("open_case", {"cadre_id": city["cadre"], "basis": [{"kind": "assessment",
                       "year": 2025}], "summary": "x", "occurred_on": "2026-05-06",
                       "opened_on": "2026-05-12"}, "basis"),
        ("open_case", {"cadre_id": city["cadre"], "basis": [{"kind": "assessment",
                       "finding_id": NOWHERE}], "summary": "x", "occurred_on": "2026-05-06",
                       "opened_on": "2026-05-12"}, "basis"),
        ("impose_measure", {"case_id": case, "measure": "accountability", "reason": "x",
                            "decided_on": "2026-05-20"}, "form"),
        ("impose_measure", {"case_id": NOWHERE, "measure": "talk", "reason": "x",
                            "decided_on": "2026-05-20"}, "case_id"),
        ("file_appeal", {"case_id": case, "decision_id": NOWHERE, "grounds": "x",
                         "filed_on": "2026-05-20"}, "decision_id"),
        ("grant_exemption", {"case_id": case, "reform_effort_id": NOWHERE,
                             "outcome": "exempted", "reasons": "x",
                             "granted_on": "2026-05-20"}, "reform_effort_id"),
        ("register_reform_effort", {"unit_id": city["unit"], "title": "t",
                                    "risk_assessment": "r", "risk_level": "low",
                                    "participants": [city["cadre"], NOWHERE],
                                    "registered_on": "2026-01-01",
                                    "starts_on": "2026-01-01"}, "participants"),
        ("commend", {"cadre_id": NOWHERE, "kind": "commendation", "reason": "x",
                     "commended_on": "2026-05-20"}, "cadre_id"),
    ]:  # fmt: skip
        with pytest.raises(RemoteError) as error:
            getattr(rpc.accountability, method)(command(**fields))
        assert named in invalid_fields(error.value), (method, error.value.value)
    with pytest.raises(RemoteError) as error:
        open_case(rpc, city["cadre"], [{"kind": "finding", "finding_id": unit_finding}])
    assert error.value.value.startswith("accountability.basis_about_cadre")
    for query, key in [("get_case", "case_id"), ("get_reform_effort", "reform_effort_id"),
                       ("get_commendation", "commendation_id")]:  # fmt: skip
        with pytest.raises(RemoteError) as error:
            getattr(rpc.accountability, query)({key: NOWHERE})
        assert error.value.exc_type == "NotFound"
    assert database[LOG].count_documents({}) == stored
