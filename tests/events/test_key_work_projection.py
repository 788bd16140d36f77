"""The key work's projection (``services.records.keywork``) on a real SecantusDB: in batches
of any size it gives the documents of applying the events one at a time, and whichever log
arrives first (the chain's events before the registry's, or after) it gives the same shares;
a disputed or corrected report does not count, a liaison task is kept but never key work."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from services.records.keywork import KeyWork, public_share, share_id
from tests.events import test_projection_batches as batches
from tests.events.support import FreshDatabase
from tests.events.test_projection_batches import event


def a_share_year() -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, str]]:
    """The registry's events and the chain's: a city leader's key-work share and a liaison
    task, a target and a milestone, four reports (one disputed, one corrected), an overdue
    milestone; the leader transferred, then erased."""
    ids = {name: str(uuid4()) for name in ("unit", "unit2", "leader", "other", "share",
                                            "liaison", "plan", "plan2", "goal", "node",
                                            "r1", "r2", "r3", "r4")}  # fmt: skip
    registry = [
        event("cadre_registry", "unit_registered", ids["unit"], name="市人民政府"),
        event(
            "cadre_registry",
            "cadre_registered",
            ids["leader"],
            name="王建国",
            unit_id=ids["unit"],
            post="副市长",
            effective_date="2025-01-01",
        ),
        event(
            "cadre_registry",
            "cadre_registered",
            ids["other"],
            name="刘洋",
            unit_id=ids["unit"],
            post="副主任",
            effective_date="2025-01-01",
        ),
        event(
            "cadre_registry",
            "responsibility_assigned",
            ids["share"],
            kind="key_work_share",
            title="优化营商环境",
            owner_id=ids["leader"],
            effective_date="2026-02-01",
        ),
        event(
            "cadre_registry",
            "responsibility_assigned",
            ids["liaison"],
            kind="liaison_task",
            title="联系大营街镇",
            owner_id=ids["other"],
            effective_date="2026-02-01",
        ),
        event("cadre_registry", "unit_registered", ids["unit2"], name="市发展和改革委员会"),
        event(
            "cadre_registry",
            "cadre_transferred",
            ids["leader"],
            unit_id=ids["unit2"],
            post="主任",
            effective_date="2026-04-01",
            reason="工作需要",
        ),
        event(
            "cadre_registry", "cadre_personal_data_erased", ids["leader"], erased_on="2026-09-01"
        ),
    ]
    goal = {
        "indicator": "新增市场主体",
        "unit": "户",
        "target_value": 100,
        "due_on": "2026-12-31",
        "reason": "分解",
        "set_on": "2026-03-01",
    }
    node = {
        "target_id": ids["goal"],
        "title": "过半",
        "value": 50,
        "due_on": "2026-06-30",
        "reason": "分解",
        "set_on": "2026-03-01",
    }

    def reported(report: str, value: float, on: str, corrects: str | None = None) -> dict:
        return event(
            "inspections",
            "task_plan_progress_reported",
            ids["plan"],
            report_id=ids[report],
            target_id=ids["goal"],
            value=value,
            reported_on=on,
            frontline=[],
            corrects=corrects and ids[corrects],
        )

    chain = [
        event("inspections", "task_plan_started", ids["plan"], task_id=ids["share"]),
        event("inspections", "task_plan_target_set", ids["plan"], target_id=ids["goal"],
              changed=False, details=goal),
        event("inspections", "task_plan_target_set", ids["plan"], target_id=ids["goal"],
              changed=True, details={**goal, "target_value": 120}),
        event("inspections", "task_plan_milestone_set", ids["plan"], milestone_id=ids["node"],
              changed=False, details=node),
        event("inspections", "task_plan_started", ids["plan2"], task_id=ids["liaison"]),
        event("inspections", "task_plan_target_set", ids["plan2"], target_id=str(uuid4()),
              changed=False, details=goal),
        reported("r1", 90, "2026-05-01"),
        event("inspections", "task_plan_report_reviewed", ids["plan"], report_id=ids["r1"],
              verified=False, on="2026-05-03"),
        reported("r2", 30, "2026-05-10"),
        reported("r3", 40, "2026-06-10", corrects="r2"),
        event("inspections", "task_plan_report_reviewed", ids["plan"], report_id=ids["r3"],
              verified=True, on="2026-06-12"),
        event("inspections", "task_plan_milestone_became_overdue", ids["plan"],
              task_id=ids["share"], milestone_id=ids["node"], on="2026-07-01"),
        reported("r4", 70, "2026-08-01"),
    ]  # fmt: skip
    return registry, chain, ids


class TestKeyWork(FreshDatabase):
    generation = batches.TestBatches.generation
    one_at_a_time = batches.TestBatches.one_at_a_time
    in_batches = batches.TestBatches.in_batches

    def test_batches_and_either_log_first_give_the_same_shares(self) -> None:
        registry, chain, ids = a_share_year()
        expected = self.one_at_a_time(KeyWork(), registry + chain)
        for number, (events, size) in enumerate(
            ((registry + chain, 100), (registry + chain, 3), (chain + registry, 100),
             (chain + registry, 2)), start=2):  # fmt: skip
            assert self.in_batches(KeyWork(), events, size, number) == expected, (number, size)

        shares = {d["_id"]: d for d in expected["shares"]}
        assert set(shares) == {ids["share"], ids["liaison"]}
        assert shares[ids["liaison"]]["kind"] == "liaison_task"
        share = public_share(shares[ids["share"]], "2026-09-15")
        assert share["share_id"] == share_id(ids["share"]) != ids["share"]
        # erased, and the unit and post held now
        shown = (share["owner_name"], share["unit"], share["post"])
        assert shown == (None, "市发展和改革委员会", "主任")
        [target] = share["targets"]
        assert target["target_value"] == 120 and target["reached"] == 70
        assert target["progress"] == [{"on": "2026-06-10", "value": 40},
                                      {"on": "2026-08-01", "value": 70}]  # fmt: skip
        assert target["outcome"]["code"] == "in_progress" and target["percent"] == 58.3
        [milestone] = target["milestones"]
        assert (milestone["overdue_on"], milestone["met_on"]) == ("2026-07-01", None)
        cadres = {c["_id"]: c for c in expected["cadres"]}
        assert cadres[ids["leader"]]["name"] is None and cadres[ids["other"]]["name"] == "刘洋"
