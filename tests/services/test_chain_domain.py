"""The implementation chain's rules (DOMAIN.md, 落实链条), on the task plan alone, each on
its days: quantified targets and milestones set and changed with a reason; reports
corrected by later ones, never erased; a disputed value does not count; a milestone past
its due day and unmet becomes overdue once; a task is concluded once every target is due,
each target met on time, late or missed; a major decision followed its procedure only with
every step dated no later than the decision."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest

from schemas.errors import RuleViolation
from services.inspections.chain import MajorDecision, TaskPlan

pytestmark = pytest.mark.plain

D = date.fromisoformat


def target(value: float = 1000, due: str = "2026-06-30", on: str = "2026-03-01") -> dict:
    return {
        "indicator": "新增城镇就业",
        "unit": "人",
        "target_value": value,
        "due_on": D(due),
        "reason": "市委常委会分解",
        "set_on": D(on),
    }


def report(target_id: str, value: float, on: str, corrects: str | None = None) -> dict:
    frontline = [
        {"place": "大营街镇", "whom": "返乡务工人员", "problem_solved": "岗位对接", "on": D(on)}
    ]
    return {
        "target_id": target_id,
        "value": value,
        "reported_on": D(on),
        "evidence": ["人社局台账 2026-03"],
        "frontline": frontline,
        "corrects": corrects,
    }


def milestone(target_id: str, value: float, due: str, on: str = "2026-03-01") -> dict:
    return {
        "target_id": target_id,
        "title": "一季度过四成",
        "value": value,
        "due_on": D(due),
        "reason": "节点分解",
        "set_on": D(on),
    }


@pytest.fixture
def plan() -> TaskPlan:
    return TaskPlan(uuid4())


def test_targets_and_milestones_are_quantified_and_changed_with_a_reason(plan) -> None:
    first = plan.set_target(None, target())
    assert plan.set_target(first, {**target(1200), "set_on": D("2026-03-10")}) == first
    assert plan.targets[first]["target_value"] == 1200
    changes = [e for e in plan.collect_events() if isinstance(e, TaskPlan.TargetSet)]
    assert [e.changed for e in changes] == [False, True]  # never silently
    with pytest.raises(RuleViolation, match=r"inspections\.date_order"):
        plan.set_target(first, {**target(), "set_on": D("2026-03-09")})
    with pytest.raises(RuleViolation, match=r"inspections\.milestone_within_target"):
        plan.set_milestone(None, milestone(first, 400, "2026-07-01"))
    with pytest.raises(RuleViolation, match=r"inspections\.unknown_target"):
        plan.set_milestone(None, milestone(str(uuid4()), 400, "2026-04-30"))


def test_a_disputed_value_does_not_count_and_a_correction_replaces_never_erases(plan) -> None:
    goal = plan.set_target(None, target(1000))
    node = plan.set_milestone(None, milestone(goal, 400, "2026-04-30"))
    claimed = plan.report(report(goal, 450, "2026-04-20"))
    plan.review(claimed, False, "台账与社保数据不符", D("2026-04-22"))
    assert plan.met_on(plan.milestones[node]) is None  # disputed: not counted
    with pytest.raises(RuleViolation, match=r"inspections\.report_reviewed"):
        plan.review(claimed, True, None, D("2026-04-23"))
    low = plan.report(report(goal, 380, "2026-04-25"))
    fixed = plan.report(report(goal, 410, "2026-04-26", corrects=low))
    assert set(plan.reports) == {claimed, low, fixed}  # all kept
    assert plan.reports[low]["corrected_by"] == fixed
    assert [r["report_id"] for r in plan.counted(goal)] == [fixed]
    assert plan.met_on(plan.milestones[node]) == D("2026-04-26")
    with pytest.raises(RuleViolation, match=r"inspections\.report_corrected"):
        plan.report(report(goal, 420, "2026-04-27", corrects=low))
    with pytest.raises(RuleViolation, match=r"inspections\.date_order"):
        plan.review(fixed, True, None, D("2026-04-25"))


def test_a_milestone_past_its_due_day_and_unmet_becomes_overdue_once(plan) -> None:
    goal = plan.set_target(None, target(1000))
    node = plan.set_milestone(None, milestone(goal, 400, "2026-04-30"))
    plan.report(report(goal, 300, "2026-04-28"))
    assert plan.overdue_milestones(D("2026-04-30")) == []  # on its due day: not late yet
    assert plan.overdue_milestones(D("2026-05-01")) == [node]
    plan.mark_overdue(node, D("2026-05-01"))
    assert plan.overdue_milestones(D("2026-05-02")) == []
    plan.report(report(goal, 450, "2026-05-03"))  # late: the overdue stays on record
    assert plan.milestones[node]["overdue_on"] == D("2026-05-01")
    with pytest.raises(RuleViolation, match=r"inspections\.milestone_overdue"):
        plan.set_milestone(node, milestone(goal, 300, "2026-04-30", on="2026-05-04"))


def test_a_task_is_concluded_once_every_target_is_due(plan) -> None:
    on_time = plan.set_target(None, target(1000, "2026-06-30"))
    late = plan.set_target(None, {**target(50, "2026-09-30"), "indicator": "培训", "unit": "场"})
    plan.report(report(on_time, 1000, "2026-06-30"))
    plan.report(report(late, 20, "2026-09-30"))
    assert not plan.conclude(D("2026-09-30")), "a target is due that day"
    assert plan.outcome(plan.targets[late], D("2026-10-01")) == "missed"
    plan.report(report(late, 60, "2026-10-01"))
    assert plan.outcome(plan.targets[late], D("2026-10-02")) == "met_late"
    assert plan.conclude(D("2026-10-02")) and not plan.conclude(D("2026-10-03"))
    [concluded] = [e for e in plan.collect_events() if isinstance(e, TaskPlan.TargetsConcluded)]
    assert concluded.outcomes == {on_time: "met_on_time", late: "met_late"}
    assert not concluded.all_met_on_time
    with pytest.raises(RuleViolation, match=r"inspections\.targets_concluded"):
        plan.set_target(None, target(1, "2026-12-31", on="2026-10-05"))


def test_every_target_met_on_time_is_said_at_the_conclusion(plan) -> None:
    goal = plan.set_target(None, target(1000, "2026-06-30"))
    plan.report(report(goal, 1100, "2026-06-15"))
    assert plan.conclude(D("2026-07-01"))
    [concluded] = [e for e in plan.collect_events() if isinstance(e, TaskPlan.TargetsConcluded)]
    assert concluded.all_met_on_time and concluded.on == D("2026-07-01")


def test_a_major_decision_followed_its_procedure_only_with_every_step_before_it() -> None:
    steps = [
        {"step": "collective_deliberation", "done_on": D("2026-02-20")},
        {"step": "risk_assessment", "done_on": D("2026-02-10")},
        {"step": "legality_review", "done_on": D("2026-02-15")},
    ]
    followed = MajorDecision("就业攻坚行动", D("2026-02-25"), steps, [uuid4()], [])
    assert followed.missing_steps() == []
    late_review = [*steps[:2], {"step": "legality_review", "done_on": D("2026-03-01")}]
    assert MajorDecision("x", D("2026-02-25"), late_review, [], []).missing_steps() == [
        "legality_review"
    ]
    assert MajorDecision("x", D("2026-02-25"), steps[:1], [], []).missing_steps() == [
        "risk_assessment",
        "legality_review",
    ]


@pytest.mark.parametrize("schema", ["SetTaskTarget", "SetTaskMilestone"])
def test_a_target_or_milestone_is_due_on_a_day_to_come_and_its_value_is_a_number(schema) -> None:
    """2026-12-08: a target set due in the past was recorded (and counted as missed at once,
    against its owner); ``"100"`` was stored as 100.0 (numbers have their type)."""
    from schemas.common import load
    from schemas.errors import InvalidCommand
    from schemas.inspections import chain

    contract = getattr(chain, schema)
    value = "target_value" if schema == "SetTaskTarget" else "value"
    payload = {"command_id": str(uuid4()), "actor": {"agency": "督查室", "person": "王"},
               "task_id": str(uuid4()), "target_id": str(uuid4()), "indicator": "新建公路",
               "title": "年中", "unit": "公里", value: 100, "due_on": "2026-06-30",
               "reason": "年度目标", "set_on": "2026-03-01"}  # fmt: skip
    if schema == "SetTaskTarget":
        payload.pop("title")
    else:
        payload.pop("indicator")
        payload.pop("unit")
    assert load(contract, payload)[value] == 100
    assert load(contract, {**payload, "due_on": "2026-03-01"})["due_on"] == date(2026, 3, 1)
    for wrong, field in (({"due_on": "2026-02-28"}, "due_on"), ({value: "100"}, value),
                         ({value: True}, value)):  # fmt: skip
        with pytest.raises(InvalidCommand) as refused:
            load(contract, {**payload, **wrong})
        assert field in refused.value.errors
