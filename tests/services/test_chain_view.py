"""The implementation chain, visible (issue 27, items 4 and 7; DOMAIN.md "The
implementation chain"): ``records.task_chain`` answers one task's whole chain in order, each
step with its day and its event; the personnel file shows it, and what the cadre's tasks
achieved in the year beside the grade (the grade unchanged); ``audit history`` follows it to
the task's owner, also one who took the task over. Real RabbitMQ and SecantusDB."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest
from nameko.exceptions import RemoteError

from events.audit.history import history
from services.accountability.service import AccountabilityService
from services.cadre_registry.service import CadreRegistryService
from services.evaluations.service import EvaluationsService
from services.inspections.service import InspectionsService
from services.records.service import RecordsService
from tests.services.support import FixedClock, command, invalid_fields, running_services
from tests.services.test_implementation_chain import report, target, task_of
from tests.services.test_inspections_rpc import TEAM, wait_for
from tests.services.test_policies import rate_year

pytestmark = pytest.mark.nameko
SERVICES = [CadreRegistryService, EvaluationsService, InspectionsService, AccountabilityService,
            RecordsService]  # fmt: skip


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(date(2026, 3, 1))


@pytest.fixture
def cluster(container_factory, rabbit_config, mongodb_uri, web_port, clock):
    with running_services(
        SERVICES, container_factory, rabbit_config, mongodb_uri, clock=clock,
        INSPECTIONS_DEADLINE_CHECK_SECONDS=0.2, EVENT_RETRY_DELAYS=[0.2, 0.5],
        PROJECTIONS_POLL_SECONDS=0.2, WEB_SERVER_ADDRESS=f"127.0.0.1:{web_port}",
    ) as running:  # fmt: skip
        yield running


def cadre(rpc, unit: str, name: str) -> str:
    return rpc.cadre_registry.register_cadre(
        command(name=name, gender="female", birth_date="1979-03-03", unit_id=unit,
                post="副主任", rank="county_division", post_kind="leadership",
                effective_date="2025-01-01")
    )["cadre_id"]  # fmt: skip


def a_year_of_one_task(rpc, clock, owner: str, unit: str) -> dict[str, str]:
    """Decision, targets (one changed), a milestone missed (a case), reports (one disputed,
    one corrected, one verified), a letter naming the task left overdue (a case), the
    targets met on time (a commendation proposed, then published)."""
    task = task_of(rpc, owner)
    decision = rpc.inspections.record_major_decision(
        command(title="就业攻坚行动方案", decided_on="2026-02-25", task_ids=[task],
                procedure=[{"step": "collective_deliberation", "done_on": "2026-02-20"}])
    )["decision_id"]  # fmt: skip
    goal = target(rpc, task, 1000, "2026-04-30")
    target(rpc, task, 1000, "2026-04-30", target_id=goal)
    rpc.inspections.set_task_milestone(
        command(task_id=task, target_id=goal, title="3月底过四成", value=400,
                due_on="2026-03-31", reason="节点分解", set_on="2026-03-01")
    )  # fmt: skip
    clock.date = date(2026, 3, 31)
    report(rpc, task, goal, 300, "2026-03-31")
    clock.date = date(2026, 4, 1)  # the milestone becomes overdue: a case that day
    wait_for(lambda: rpc.accountability.list_cases({"cadre_id": owner})["cases"])
    clock.date = date(2026, 4, 2)
    visit = rpc.inspections.open_inspection(
        command(kind="supervision_check", title="督查", started_on="2026-04-01", team=TEAM[:1])
    )["inspection_id"]
    finding = rpc.inspections.record_finding(
        command(inspection_id=visit, unit_id=unit, situation="procrastination",
                description="就业台账拖拉", found_on="2026-04-01")
    )["finding_id"]  # fmt: skip
    letter = rpc.inspections.issue_rectification_letter(
        command(unit_id=unit, finding_ids=[finding], task_id=task, requirements="限期整改",
                issued_on="2026-04-02", deadline="2026-04-20")
    )["letter_id"]  # fmt: skip
    clock.date = date(2026, 4, 20)
    claimed = report(rpc, task, goal, 900, "2026-04-10")
    rpc.inspections.dispute_progress_report(
        command(task_id=task, report_id=claimed, reason="台账不符", disputed_on="2026-04-12")
    )
    first = report(rpc, task, goal, 1000, "2026-04-20")
    clock.date = date(2026, 4, 21)  # the letter becomes overdue: a case that day
    wait_for(lambda: len(rpc.accountability.list_cases({"cadre_id": owner})["cases"]) == 2)
    clock.date = date(2026, 4, 28)
    fixed = report(rpc, task, goal, 1020, "2026-04-28", corrects=first)
    rpc.inspections.verify_progress_report(
        command(task_id=task, report_id=fixed, verified_on="2026-04-28")
    )
    clock.date = date(2026, 5, 1)

    def proposed() -> list[dict]:
        return rpc.accountability.list_commendations({"cadre_id": owner})["commendations"]

    [commendation] = wait_for(proposed)
    rpc.accountability.publish_commendation(
        command(commendation_id=commendation["commendation_id"], citation="就业攻坚按期完成",
                published_on="2026-05-01")
    )  # fmt: skip
    return {"task": task, "decision": decision, "letter": letter, "goal": goal}


def test_a_tasks_chain_in_order_with_its_events_in_the_file_and_the_history(cluster, clock) -> None:
    rpc, database = cluster
    unit = rpc.cadre_registry.register_unit(command(name="市人社局"))["unit_id"]
    owner = cadre(rpc, unit, "周敏")
    made = a_year_of_one_task(rpc, clock, owner, unit)
    task = made["task"]

    def chain() -> dict:
        return rpc.records.task_chain({"task_id": task})

    wait_for(lambda: chain()["steps"][-1]["type"] == "commendation_published")
    steps = chain()["steps"]
    kinds = [s["type"] for s in steps]
    assert kinds == [
        "responsibility_assigned",  # 2026-01-01
        "major_decision_recorded",  # 02-25
        "task_plan_started", "task_plan_target_set", "task_plan_target_set",
        "task_plan_milestone_set",  # 03-01
        "task_plan_progress_reported",  # 03-31
        "task_plan_milestone_became_overdue", "case_opened",  # 04-01: the deadline check
        "rectification_letter_issued",  # 04-02
        "task_plan_progress_reported",  # 04-10 (disputed on 04-12)
        "task_plan_report_reviewed",
        "task_plan_progress_reported",  # 04-20, corrected on 04-28
        "rectification_letter_became_overdue", "case_opened",  # 04-21: the letter's case
        "task_plan_progress_reported", "task_plan_report_reviewed",  # 04-28
        "task_plan_targets_concluded", "commendation_commended",  # 05-01
        "commendation_published",
    ], kinds  # fmt: skip
    days = [s["on"] for s in steps]
    assert days == sorted(days) and days[0] == "2026-01-01" and days[-1] == "2026-05-01"
    assert steps[1]["originator_id"] == made["decision"]
    assert steps[9]["originator_id"] == made["letter"]
    assert steps[14]["data"]["basis"][0]["letter_id"] == made["letter"]
    assert steps[8]["data"]["basis"][0]["task_id"] == task
    assert (
        steps[12]["data"]["value"] == 1000
        and steps[15]["data"]["corrects"] == (steps[12]["data"]["report_id"])
    )
    assert steps[11]["data"]["verified"] is False and "reason" not in steps[11]["data"]
    assert steps[17]["data"]["outcomes"] == {made["goal"]: "met_on_time"}
    assert steps[18]["data"]["task_id"] == task
    # each step cites its event as audit history does: log:position and the event's id
    cited = {e["event_id"]: f"{e['source']}:{e['position']}" for e in history(database, owner)}
    for step in steps:
        assert cited[step["event_id"]] == step["cites"], step
        assert step["log"] == database[step["log"]].name
    # the owner's history holds the whole chain (the plan, the letter, the decision)
    assert {s["event_id"] for s in steps} <= set(cited)

    before = rpc.records.task_chain({"task_id": task, "as_of": "2026-03-31"})["steps"]
    assert [s["type"] for s in before] == kinds[:7]
    file = rpc.records.personnel_file({"cadre_id": owner})
    [shown] = file["task_chains"]
    assert shown["task_id"] == task and [s["event_id"] for s in shown["steps"]] == [
        s["event_id"] for s in steps
    ]
    [year] = file["achievements"]
    assert (year["year"], year["met_on_time"], year["met_late"], year["missed"]) == (2026, 1, 0, 0)
    assert year["tasks"][0]["cites"] == steps[17]["cites"]
    as_of_april = rpc.records.personnel_file({"cadre_id": owner, "as_of": "2026-04-30"})
    assert as_of_april["achievements"] == [] and len(as_of_april["task_chains"][0]["steps"]) == 17

    # bad input and unknown tasks change nothing and say why
    with pytest.raises(RemoteError) as raised:
        rpc.records.task_chain({"task_id": "not-a-task"})
    assert list(invalid_fields(raised.value)) == ["task_id"]
    with pytest.raises(RemoteError) as raised:
        rpc.records.task_chain({"task_id": str(uuid4())})
    assert raised.value.exc_type == "NotFound"


def test_the_years_achievements_beside_the_grade_and_a_new_owners_history(cluster, clock):
    """What a task achieved counts for its owner on the day it was concluded; the grade is
    the grading rules' alone. The owner who took the task over has its chain in their
    history, the steps before they took it included."""
    rpc, database = cluster
    unit = rpc.cadre_registry.register_unit(command(name="市发改委"))["unit_id"]
    first, second = cadre(rpc, unit, "吴敏"), cadre(rpc, unit, "郑华")
    task = task_of(rpc, first, "重点项目开工")
    goal = target(rpc, task, 10, "2026-04-30")
    clock.date = date(2026, 3, 20)
    report(rpc, task, goal, 4, "2026-03-20")
    rpc.cadre_registry.assign_responsibility(
        command(task_id=task, owner_id=second, effective_date="2026-03-20")
    )
    clock.date = date(2026, 5, 1)  # not reached by its due day: missed
    wait_for(lambda: rpc.inspections.get_task_plan({"task_id": task})["concluded_on"])
    clock.date = date(2026, 12, 15)
    for who in (first, second):
        rate_year(rpc, who, 2026, "competent", "satisfied")
        rpc.evaluations.conclude_annual_assessment(command(cadre_id=who, year=2026))

    def file_of(who: str) -> dict:
        return rpc.records.personnel_file({"cadre_id": who, "as_of": "2026-12-31"})

    wait_for(lambda: file_of(second)["grades"] and file_of(first)["grades"])
    [graded] = file_of(second)["grades"]

    def assessed_of(who: str) -> dict:
        return rpc.evaluations.get_assessment({"cadre_id": who, "year": 2026})

    wait_for(lambda: assessed_of(second)["tasks_achieved"]["missed"])
    assessed = assessed_of(second)
    assert graded["grade"] == assessed["grade"]  # a missed target changes no grade
    assert assessed["tasks_achieved"] == {"met_on_time": 0, "met_late": 0, "missed": 1}
    earlier = assessed_of(first)
    assert earlier["tasks_achieved"] == {"met_on_time": 0, "met_late": 0, "missed": 0}
    assert (
        earlier["grade"] == assessed["grade"]
        and earlier["final_score"] == (assessed["final_score"])
    )
    assert graded["tasks_achieved"] == {"met_on_time": 0, "met_late": 0, "missed": 1}
    [before] = file_of(first)["grades"]
    assert before["tasks_achieved"] == {"met_on_time": 0, "met_late": 0, "missed": 0}
    assert before["grade"] == graded["grade"]
    [year] = file_of(second)["achievements"]
    assert year["tasks"][0]["title"] == "重点项目开工"

    kinds = [e["type"] for e in history(database, second)]
    assert kinds.count("task_plan_progress_reported") == 1, kinds
    assert "task_plan_targets_concluded" in kinds and "task_plan_target_set" in kinds
