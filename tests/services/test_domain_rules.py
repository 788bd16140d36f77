"""The rules of shared/DOMAIN.md that issue 15 found wrong, over real RabbitMQ and SecantusDB
with all five services: two ``incompetent`` years mean dismissal from the civil service (辞退);
a decision changed on appeal restricts as its new kind from the original decision's day;
nothing is dated after the city's today, and a year is assessed only once its assessment
period has opened; a handling changed on appeal is applied by the registry; the tasks of a
cadre who leaves the post need a new owner, visibly, until they have one."""

from __future__ import annotations

from datetime import date

import pytest
from nameko.exceptions import RemoteError

from tests.services.support import command, invalid_fields
from tests.services.test_inspections_rpc import TEAM, wait_for
from tests.services.test_policies import rate_year
from tests.services.whole_city import clock, cluster, refused

pytestmark = pytest.mark.nameko
__all__ = ["clock", "cluster"]  # the fixtures, imported


@pytest.fixture
def city(cluster) -> dict[str, str]:
    rpc, _ = cluster
    registry = rpc.cadre_registry
    hall = registry.register_unit(command(name="市政务服务中心"))["unit_id"]
    bureau = registry.register_unit(command(name="市交通运输局"))["unit_id"]

    def cadre(name: str, rank: str = "county_division", unit: str = hall) -> str:
        return registry.register_cadre(
            command(name=name, gender="female", birth_date="1979-03-03", unit_id=unit,
                    post="副主任", rank=rank, post_kind="leadership",
                    effective_date="2024-01-01")
        )["cadre_id"]  # fmt: skip

    return {"hall": hall, "bureau": bureau, "cadre": cadre("周敏"), "colleague": cadre("陈静"),
            "leader": cadre("张华", "city_level", bureau)}  # fmt: skip


def liaison_task(rpc, owner: str, title: str = "联系大营街镇") -> str:
    return rpc.cadre_registry.assign_responsibility(
        command(kind="liaison_task", title=title, owner_id=owner, effective_date="2025-01-01")
    )["task_id"]


def report_case(rpc, cadre: str, occurred: str, opened: str) -> str:
    return rpc.accountability.open_case(
        command(cadre_id=cadre, basis=[{"kind": "report", "reference": "12345热线 第7号"}],
                summary="群众反映办事推诿", occurred_on=occurred, opened_on=opened)
    )["case_id"]  # fmt: skip


def status(rpc, cadre: str) -> str:
    return rpc.cadre_registry.get_cadre({"cadre_id": cadre})["status"]["code"]


def test_two_incompetent_years_running_mean_dismissal_from_the_civil_service(cluster, city) -> None:
    rpc, _ = cluster
    cadre = city["cadre"]
    task = liaison_task(rpc, cadre)
    for year in (2025, 2026):
        rate_year(rpc, cadre, year, "incompetent", "dissatisfied")
        graded = rpc.evaluations.conclude_annual_assessment(command(cadre_id=cadre, year=year))
        assert graded["grade"]["code"] == "incompetent"
        assert graded["concluded_on"] == "2026-12-15"  # the city's today

    def cases() -> list[dict]:
        return rpc.accountability.list_cases({"cadre_id": cadre, "basis": "assessment"})["cases"]

    first, second = sorted(wait_for(lambda: len(cases()) == 2 and cases()),
                           key=lambda case: case["basis"][0]["year"])  # fmt: skip
    assert first["basis"][0]["year"] == 2025 and "拟降职" in first["summary"]
    assert first["proposal"]["handling"]["code"] == "demotion"
    assert second["basis"][0]["year"] == 2026
    assert "拟辞退" in second["summary"] and "降职" not in second["summary"]
    assert second["proposal"] == {
        "handling": {"code": "dismissal_from_service", "zh": "辞退",
                     "en": "dismissal from the civil service"},
        "rule": "incompetent_twice_dismissal", "rules_version": "2026.1",
        "source": "公务员考核规定",
    }  # fmt: skip
    # dated by the day the service opened it, not the end of the year assessed
    assert (second["occurred_on"], second["opened_on"]) == ("2026-12-15", "2026-12-15")

    # the personnel file says what the case proposes: the same rule, the same version
    def consequences() -> list[dict]:
        file = rpc.records.personnel_file({"cadre_id": cadre, "as_of": "2026-12-31"})
        return [c for c in file["consequences"] if c["year"] == 2026]

    found = wait_for(lambda: len(consequences()) == 2 and consequences())
    assert {(c["rule"], c["rules_version"]) for c in found} == {
        ("incompetent_demotion", "2026.1"), ("incompetent_twice_dismissal", "2026.1")}  # fmt: skip
    assert "辞退" in next(c for c in found if c["rule"] == second["proposal"]["rule"])[
        "consequence"]["zh"]  # fmt: skip

    # decided: the registry takes the cadre out of the civil service, not only out of a post
    rpc.accountability.decide_handling(
        command(case_id=second["case_id"], handling="dismissal_from_service",
                reason="连续两年年度考核不称职，依据《公务员辞退规定》予以辞退",
                decided_on="2026-12-15")
    )  # fmt: skip
    wait_for(lambda: status(rpc, cadre) == "dismissed_from_service")
    registered = rpc.cadre_registry.get_cadre({"cadre_id": cadre})
    assert registered["status"] == {"code": "dismissed_from_service", "zh": "辞退",
                                    "en": "dismissed from the civil service"}  # fmt: skip
    assert registered["unit_id"] is None and registered["history"][-1]["change"]["zh"] == "辞退"
    assert rpc.cadre_registry.get_unit({"unit_id": city["hall"]})["cadres"] == 1
    # their liaison task needs a new owner
    [vacant] = rpc.cadre_registry.tasks_needing_owner({})["tasks"]
    assert vacant["task_id"] == task and vacant["vacant"]["change"]["code"] == (
        "dismissed_from_service"
    )

    def posting() -> dict:
        file = rpc.records.personnel_file({"cadre_id": cadre, "as_of": "2026-12-15"})
        return file["posting"]

    held = wait_for(lambda: posting()["status"]["code"] == "dismissed_from_service" and posting())
    assert held["unit"] is None and held["since"] == "2026-12-15"
    # once out of the service, they cannot be dismissed from it again
    refused(lambda: rpc.cadre_registry.dismiss_from_service(
        command(cadre_id=cadre, effective_date="2026-12-15", reason="again")),
        "registry.cadre_not_serving")  # fmt: skip


def test_a_decision_changed_on_appeal_restricts_from_the_original_decisions_day(
    cluster, city, clock
) -> None:
    rpc, _ = cluster
    cadre = city["cadre"]
    clock.date = date(2026, 12, 31)
    case = report_case(rpc, cadre, "2026-05-20", "2026-05-25")
    decision = rpc.accountability.impose_measure(
        command(case_id=case, measure="accountability", form="organizational_handling",
                reason="推诿扯皮", decided_on="2026-06-01")
    )["decision_id"]  # fmt: skip
    rpc.accountability.file_appeal(
        command(case_id=case, decision_id=decision, grounds="处理过重", filed_on="2026-06-10")
    )
    rpc.accountability.decide_appeal(
        command(case_id=case, decision_id=decision, outcome="changed", reason="变更为诫勉",
                decided_on="2026-07-01", changed_to={"kind": "admonishment"})
    )  # fmt: skip

    def restrictions() -> list[dict]:
        file = rpc.records.personnel_file({"cadre_id": cadre, "as_of": "2026-12-31"})
        return file["restrictions"]

    [restriction] = wait_for(restrictions)
    assert restriction["rule"] == "admonishment" and restriction["decision_id"] == decision
    assert (restriction["starts"], restriction["ends"]) == ("2026-06-01", "2026-12-01")
    assert rpc.records.eligible_for_promotion({"cadre_id": cadre, "on": "2026-12-15"})["eligible"]
    during = rpc.records.eligible_for_promotion({"cadre_id": cadre, "on": "2026-11-30"})
    assert not during["eligible"] and "until 2026-12-01" in during["reasons"][0]


def test_nothing_is_dated_after_the_citys_today(cluster, city, clock) -> None:
    rpc, database = cluster
    clock.date = date(2026, 5, 10)
    cadre = city["cadre"]

    def logs() -> dict[str, int]:
        names = ("accountability_events", "inspections_events", "evaluations_events")
        return {name: database[name].count_documents({}) for name in names}

    before = logs()
    refused(lambda: report_case(rpc, cadre, "2026-05-06", "2026-05-11"),
            "accountability.not_after_today")  # fmt: skip
    visit = command(kind="undercover_visit", title="窗口暗访", started_on="2026-05-11", team=TEAM)
    refused(lambda: rpc.inspections.open_inspection(visit), "inspections.not_after_today")
    message = refused(
        lambda: rpc.evaluations.conclude_annual_assessment(command(cadre_id=cadre, year=2025,
                                                                   concluded_on="2026-05-11")),
        "evaluations.not_after_today",
    )  # fmt: skip
    assert "concluded_on 2026-05-11 is after the city's today (2026-05-10)" in message
    assert logs() == before  # refused, nothing recorded

    inspection = rpc.inspections.open_inspection({**visit, "started_on": "2026-05-06"})
    found = command(inspection_id=inspection["inspection_id"], unit_id=city["hall"],
                    cadre_id=None, situation="absent_from_post", description="窗口无人",
                    found_on="2026-05-11")  # fmt: skip
    refused(lambda: rpc.inspections.record_finding(found), "inspections.not_after_today")
    case = report_case(rpc, cadre, "2026-05-06", "2026-05-10")
    decide = command(case_id=case, measure="talk", reason="x", decided_on="2026-05-11")
    refused(lambda: rpc.accountability.impose_measure(decide), "accountability.not_after_today")
    talk = rpc.accountability.impose_measure({**decide, "decided_on": "2026-05-10"})
    publish = command(case_id=case, summary="约谈", published_on="2026-05-11")
    refused(lambda: rpc.accountability.publish_result(publish), "accountability.not_after_today")
    appeal = command(case_id=case, decision_id=talk["decision_id"], grounds="x",
                     filed_on="2026-05-11")  # fmt: skip
    refused(lambda: rpc.accountability.file_appeal(appeal), "accountability.not_after_today")
    rpc.accountability.file_appeal({**appeal, "filed_on": "2026-05-10"})
    upheld = command(case_id=case, decision_id=talk["decision_id"], outcome="upheld",
                     reason="x", decided_on="2026-05-11")  # fmt: skip
    refused(lambda: rpc.accountability.decide_appeal(upheld), "accountability.not_after_today")

    # a year is assessed once its assessment period (rules 2026.3: from 1 December) opens
    conclude = command(cadre_id=cadre, year=2026)
    message = refused(lambda: rpc.evaluations.conclude_annual_assessment(conclude),
                      "evaluations.assessment_period")  # fmt: skip
    assert "the 2026 assessment period opens on 2026-12-01 (rules 2026.3)" in message
    clock.date = date(2026, 12, 1)  # December's ratings once December has begun
    rate_year(rpc, cadre, 2026, "excellent", "satisfied")
    refused(lambda: rpc.evaluations.conclude_annual_assessment(
        {**conclude, "concluded_on": "2026-11-30"}), "evaluations.assessment_period")  # fmt: skip
    graded = rpc.evaluations.conclude_annual_assessment(conclude)
    assert (graded["concluded_on"], graded["rules_version"]) == ("2026-12-01", "2026.3")


def test_a_handling_changed_on_appeal_is_applied_in_place_of_the_original(cluster, city) -> None:
    rpc, _ = cluster
    cadre = city["cadre"]
    case = report_case(rpc, cadre, "2026-05-06", "2026-05-12")
    decision = rpc.accountability.decide_handling(
        command(case_id=case, handling="dismissal", reason="在编不在岗", decided_on="2026-05-20")
    )["decision_id"]
    wait_for(lambda: status(rpc, cadre) == "dismissed")
    rpc.accountability.file_appeal(
        command(case_id=case, decision_id=decision, grounds="处理过重", filed_on="2026-05-21")
    )
    changed = command(case_id=case, decision_id=decision, outcome="changed", reason="改为转任",
                      decided_on="2026-06-01", changed_to={"kind": "transfer"})  # fmt: skip
    with pytest.raises(RemoteError) as raised:  # a transfer names where to
        rpc.accountability.decide_appeal(changed)
    assert invalid_fields(raised.value) == {"changed_to": {
        "post": ["required with the handling transfer"],
        "unit_id": ["required with the handling transfer"]}}  # fmt: skip
    target = {"kind": "transfer", "unit_id": city["bureau"], "post": "四级调研员"}
    result = rpc.accountability.decide_appeal({**changed, "changed_to": target})
    assert result["case"]["decisions"][0]["target"]["post"] == "四级调研员"

    def history() -> list[dict]:
        return rpc.cadre_registry.get_cadre({"cadre_id": cadre})["history"]

    entries = wait_for(lambda: len(history()) == 4 and history())
    assert [e["change"]["code"] for e in entries] == [
        "registered", "dismissed", "reinstated", "transferred"]  # fmt: skip
    reinstated, transferred = entries[2:]
    assert (reinstated["unit_id"], reinstated["post"]) == (city["hall"], "副主任")
    assert (transferred["unit_id"], transferred["post"]) == (city["bureau"], "四级调研员")
    for entry in (reinstated, transferred):  # the cause: the appeal's change of the decision
        assert entry["effective_date"] == "2026-06-01"
        assert f"decision {decision} changed on appeal to transfer" in entry["reason"]
    assert status(rpc, cadre) == "in_post"
    assert rpc.cadre_registry.get_unit({"unit_id": city["bureau"]})["cadres"] == 2


def test_the_tasks_of_a_cadre_who_leaves_the_post_need_a_new_owner(cluster, city) -> None:
    rpc, _ = cluster
    registry = rpc.cadre_registry
    cadre, colleague, leader = city["cadre"], city["colleague"], city["leader"]
    liaison = liaison_task(rpc, cadre)
    share = registry.assign_responsibility(
        command(kind="key_work_share", title="营商环境：审批提速", owner_id=leader,
                effective_date="2025-01-01")
    )["task_id"]  # fmt: skip
    kept = liaison_task(rpc, colleague, "联系研和街道")
    assert registry.tasks_needing_owner({})["total"] == 0

    registry.dismiss(command(cadre_id=cadre, effective_date="2026-03-01", reason="为官不为"))
    registry.transfer(command(cadre_id=leader, unit_id=city["hall"], post="市人大常委会副主任",
                              effective_date="2026-04-01"))  # fmt: skip
    # a post change in the same unit at the same rank keeps the task
    registry.change_to_non_leadership(
        command(cadre_id=colleague, post="二级调研员", effective_date="2026-04-01",
                reason="调整使用")
    )  # fmt: skip
    needing = registry.tasks_needing_owner({})
    assert needing["total"] == 2
    assert [t["task_id"] for t in needing["tasks"]] == [liaison, share]  # oldest first
    first = needing["tasks"][0]
    assert first["needs_owner"] and first["owner_id"] == cadre
    assert first["vacant"]["change"]["code"] == "dismissed"
    assert (first["vacant"]["since"], first["vacant"]["reason"]) == ("2026-03-01", "为官不为")
    assert registry.tasks_needing_owner({"kind": "key_work_share"})["tasks"][0]["task_id"] == share
    assert registry.responsibilities_of({"cadre_id": cadre})["tasks"] == []
    assert [t["task_id"] for t in registry.responsibilities_of({"cadre_id": colleague})["tasks"]
            ] == [kept]  # fmt: skip

    # reassigned: no longer needing an owner, held by the new one
    successor = registry.register_cadre(
        command(name="李强", gender="male", birth_date="1980-01-01", unit_id=city["hall"],
                post="副主任", rank="county_division", post_kind="leadership",
                effective_date="2026-01-01")
    )["cadre_id"]  # fmt: skip
    registry.assign_responsibility(
        command(task_id=liaison, owner_id=successor, effective_date="2026-03-02")
    )
    owner = registry.owner_of({"task_id": liaison})
    assert owner["owner"]["cadre_id"] == successor and not owner["needs_owner"]
    assert [t["task_id"] for t in registry.tasks_needing_owner({})["tasks"]] == [share]
    with pytest.raises(RemoteError) as raised:
        registry.tasks_needing_owner({"kind": "errand"})
    assert list(invalid_fields(raised.value)) == ["kind"]

    # the personnel file of who left shows the task leaving them
    def left() -> list[dict]:
        file = rpc.records.personnel_file({"cadre_id": cadre, "as_of": "2026-12-15"})
        return [r for r in file["responsibilities"] if r["change"]["code"] == "owner_left"]

    [entry] = wait_for(left)
    assert entry["responsibility_id"] == liaison and not entry["holds"]
    assert entry["effective_date"] == "2026-03-01"
