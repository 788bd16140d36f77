"""The implementation chain (落实链条, DOMAIN.md) over real RabbitMQ and SecantusDB: a task's
targets and milestones (decision), the owner's reports (execution), verified or disputed
(supervision), and at the deadline check a case for an overdue milestone or a commendation
proposed for every target met on time (reward or punishment), each on its day."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest
from nameko.exceptions import RemoteError

from tests.services.support import command, invalid_fields
from tests.services.test_inspections_rpc import wait_for
from tests.services.test_policies import city, clock, cluster
from tests.services.whole_city import refused

pytestmark = pytest.mark.nameko
__all__ = ["city", "clock", "cluster"]  # the fixtures, imported


def invalid(call) -> dict:
    with pytest.raises(RemoteError) as raised:
        call()
    return invalid_fields(raised.value)


def task_of(rpc, owner: str, title: str = "城镇新增就业攻坚") -> str:
    return rpc.cadre_registry.assign_responsibility(
        command(kind="liaison_task", title=title, owner_id=owner, effective_date="2026-01-01")
    )["task_id"]


def target(rpc, task: str, value: float, due: str, **more) -> str:
    return rpc.inspections.set_task_target(
        command(
            task_id=task,
            indicator="城镇新增就业",
            unit="人",
            target_value=value,
            due_on=due,
            reason="市委常委会决策分解",
            set_on="2026-03-01",
            **more,
        )
    )["target_id"]


def report(rpc, task: str, goal: str, value: float, on: str, **more) -> str:
    visit = {"place": "大营街镇", "whom": "返乡务工人员", "problem_solved": "岗位对接", "on": on}
    return rpc.inspections.report_progress(
        command(
            task_id=task,
            target_id=goal,
            value=value,
            reported_on=on,
            evidence=["人社局就业台账"],
            frontline=[visit],
            **more,
        )
    )["report_id"]


def test_a_tasks_chain_from_targets_to_reports_verified_and_disputed(cluster, city, clock) -> None:
    rpc, database = cluster
    clock.date = date(2026, 3, 1)
    task = task_of(rpc, city["cadre"])
    goal = target(rpc, task, 1000, "2026-06-30")
    changed = target(rpc, task, 1200, "2026-06-30", target_id=goal)
    assert changed == goal
    node = rpc.inspections.set_task_milestone(
        command(
            task_id=task,
            target_id=goal,
            title="4月底过四成",
            value=480,
            due_on="2026-04-30",
            reason="节点分解",
            set_on="2026-03-01",
        )
    )["milestone_id"]

    clock.date = date(2026, 4, 25)
    claimed = report(rpc, task, goal, 500, "2026-04-20")
    rpc.inspections.dispute_progress_report(
        command(
            task_id=task, report_id=claimed, reason="台账与社保数据不符", disputed_on="2026-04-22"
        )
    )
    honest = report(rpc, task, goal, 450, "2026-04-23")
    rpc.inspections.verify_progress_report(
        command(task_id=task, report_id=honest, verified_on="2026-04-24")
    )
    fixed = report(rpc, task, goal, 490, "2026-04-25", corrects=honest)

    plan = rpc.inspections.get_task_plan({"task_id": task})
    [shown] = plan["targets"]
    assert (shown["target_value"], shown["reached"], shown["outcome"]["code"]) == (
        1200,
        490,
        "in_progress",
    )
    [milestone] = plan["milestones"]
    assert milestone["met_on"] == "2026-04-25"  # by the correction, not the disputed 500
    reports = {r["report_id"]: r for r in plan["reports"]}
    assert reports[claimed]["review"]["outcome"] == "disputed"
    assert reports[honest]["corrected_by"] == fixed and len(reports) == 3

    # what changes nothing: a report of a task the registry does not know, dated ahead
    logged = database["inspections_events"].count_documents({})
    unknown = str(uuid4())
    assert "task_id" in invalid(lambda: report(rpc, unknown, goal, 1, "2026-04-25"))
    refused(lambda: report(rpc, task, goal, 600, "2026-04-26"), "inspections.not_after_today")
    refused(
        lambda: rpc.inspections.verify_progress_report(
            command(task_id=task, report_id=claimed, verified_on="2026-04-25")
        ),
        "inspections.report_reviewed",
    )
    assert database["inspections_events"].count_documents({}) == logged
    assert node == milestone["milestone_id"]


def test_an_overdue_milestone_opens_a_case_against_the_owner_that_day(cluster, city, clock):
    rpc, _ = cluster
    clock.date = date(2026, 3, 1)
    task = task_of(rpc, city["cadre"])
    goal = target(rpc, task, 1000, "2026-06-30")
    rpc.inspections.set_task_milestone(
        command(
            task_id=task,
            target_id=goal,
            title="4月底过四成",
            value=400,
            due_on="2026-04-30",
            reason="节点分解",
            set_on="2026-03-01",
        )
    )
    clock.date = date(2026, 4, 30)
    report(rpc, task, goal, 390, "2026-04-30")
    clock.date = date(2026, 5, 1)
    [case] = wait_for(lambda: rpc.accountability.list_cases({"cadre_id": city["cadre"]})["cases"])
    assert case["basis"][0]["kind"]["code"] == "overdue_milestone"
    assert case["basis"][0]["task_id"] == task
    assert (case["occurred_on"], case["opened_on"]) == ("2026-05-01", "2026-05-01")
    assert case["proposal"]["rule"] == "milestone_overdue_case"
    assert case["proposal"]["rules_version"] == "2026.1"
    plan = rpc.inspections.get_task_plan({"task_id": task})
    assert plan["milestones"][0]["overdue_on"] == "2026-05-01"


def test_every_target_met_on_time_proposes_a_commendation_of_the_owner(cluster, city, clock):
    rpc, _ = cluster
    clock.date = date(2026, 3, 1)
    task = task_of(rpc, city["cadre"])
    goal = target(rpc, task, 1000, "2026-04-30")
    missed_task = task_of(rpc, city["cadre"], "联系大营街镇")
    target(rpc, missed_task, 50, "2026-04-30")
    clock.date = date(2026, 4, 28)
    report(rpc, task, goal, 1020, "2026-04-28")
    clock.date = date(2026, 5, 1)

    def proposed() -> list[dict]:
        return rpc.accountability.list_commendations({"cadre_id": city["cadre"]})["commendations"]

    [commendation] = wait_for(proposed)
    assert commendation["kind"]["code"] == "commendation"
    assert commendation["commended_on"] == "2026-05-01"
    assert commendation["rule"] == "targets_met_on_time_commendation"
    assert commendation["rules_version"] == "2026.1"
    missed = rpc.inspections.get_task_plan({"task_id": missed_task})
    assert missed["concluded_on"] == "2026-05-01"
    assert missed["targets"][0]["outcome"]["code"] == "missed"
    assert len(proposed()) == 1  # the missed task proposes nothing


def test_a_major_decision_is_recorded_with_its_dated_procedure(cluster, city, clock) -> None:
    rpc, _ = cluster
    clock.date = date(2026, 3, 1)
    task = task_of(rpc, city["cadre"])
    steps = [
        {"step": "collective_deliberation", "done_on": "2026-02-20"},
        {"step": "risk_assessment", "done_on": "2026-02-10"},
    ]
    decision = rpc.inspections.record_major_decision(
        command(title="就业攻坚行动方案", decided_on="2026-02-25", procedure=steps, task_ids=[task])
    )
    assert decision["missing_steps"] == ["legality_review"]
    shown = rpc.inspections.get_major_decision({"decision_id": decision["decision_id"]})
    assert not shown["followed_procedure"] and shown["task_ids"] == [task]
    assert [s["step"]["code"] for s in shown["procedure"]] == [
        "collective_deliberation",
        "risk_assessment",
    ]
    nowhere = [str(uuid4())]
    assert "reform_effort_ids.0" in invalid(
        lambda: rpc.inspections.record_major_decision(
            command(title="x", decided_on="2026-02-25", procedure=steps,
                    reform_effort_ids=nowhere)
        )
    )  # fmt: skip
    assert "task_ids.0" in invalid(
        lambda: rpc.inspections.record_major_decision(
            command(title="x", decided_on="2026-02-25", procedure=steps, task_ids=[str(uuid4())])
        )
    )
    # 2026-12-08: a procedure step dated after the city's today is a fact not yet happened
    ahead = [*steps, {"step": "legality_review", "done_on": "2026-03-20"}]
    refused(lambda: rpc.inspections.record_major_decision(
        command(title="x", decided_on="2026-02-25", procedure=ahead, task_ids=[task])),
        "inspections.not_after_today")  # fmt: skip
