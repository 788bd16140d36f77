"""The implementation chain's commands, queries and deadline check, as a part of the
inspections application (``Inspections`` inherits ``TaskChains``). The service has already
checked that the task named exists in the registry."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import DomainEvent
from pymongo.client_session import ClientSession

from events.log.commands import Decision
from events.readmodels.views import LogView
from schemas.common import label
from schemas.errors import Conflict
from schemas.inspections.chain import PROCEDURE_STEPS, TARGET_OUTCOMES
from services.inspections.chain import MajorDecision, TaskPlan

CHAIN_TIMER = UUID("0f6f0d0e-2a9b-4b5e-9a53-6d1c7e3b8a21")
TARGET_DETAILS = ("indicator", "unit", "target_value", "due_on", "reason", "set_on")
MILESTONE_DETAILS = ("target_id", "title", "value", "due_on", "reason", "set_on")


class PlansView(LogView):
    """Task plans still open, and the first day they are due (the deadline check reads
    those due before today)."""

    name = "inspections_task_plans_view"
    indexes = (("open", "first_due"),)

    def apply(self, event: DomainEvent, session: ClientSession) -> None:
        key = {"_id": event.originator_id}
        if isinstance(event, TaskPlan.Started):
            document = {**key, "task_id": str(event.task_id), "open": True, "first_due": None}
            self.documents.insert_one(document, session=session)
        elif isinstance(event, TaskPlan.TargetSet | TaskPlan.MilestoneSet):
            due = event.details["due_on"].isoformat()
            current = self.documents.find_one(key, session=session) or {}
            first = min(filter(None, (current.get("first_due"), due)))
            self.documents.update_one(key, {"$set": {"first_due": first}}, session=session)
        elif isinstance(event, TaskPlan.TargetsConcluded):
            self.documents.update_one(key, {"$set": {"open": False}}, session=session)


class TaskChains:
    """Commands and queries of task plans and major decisions (mixed into ``Inspections``)."""

    def _plan(self, task_id: UUID) -> tuple[TaskPlan, list[TaskPlan]]:
        """The task's plan, started now if it has none (then it is among what to save)."""
        plan = self.find(TaskPlan.create_id(task_id), TaskPlan)
        if plan is None:
            plan = TaskPlan(task_id)
        return plan, [plan]

    def set_task_target(self, command: dict[str, Any]) -> dict[str, Any]:
        def decide() -> Decision:
            plan, changed = self._plan(command["task_id"])
            details = {key: command[key] for key in TARGET_DETAILS}
            target_id = plan.set_target(command["target_id"], details)
            return changed, {"task_id": str(plan.task_id), "target_id": target_id}

        return self.execute("set_task_target", command, decide)

    def set_task_milestone(self, command: dict[str, Any]) -> dict[str, Any]:
        def decide() -> Decision:
            plan, changed = self._plan(command["task_id"])
            details = {key: command[key] for key in MILESTONE_DETAILS}
            milestone_id = plan.set_milestone(command["milestone_id"], details)
            return changed, {"task_id": str(plan.task_id), "milestone_id": milestone_id}

        return self.execute("set_task_milestone", command, decide)

    def report_progress(self, command: dict[str, Any]) -> dict[str, Any]:
        def decide() -> Decision:
            plan, changed = self._plan(command["task_id"])
            report_id = plan.report(command)
            return changed, {"task_id": str(plan.task_id), "report_id": report_id}

        return self.execute("report_progress", command, decide)

    def verify_progress_report(self, command: dict[str, Any]) -> dict[str, Any]:
        return self._review(
            command, "verify_progress_report", True, None, command.get("verified_on")
        )

    def dispute_progress_report(self, command: dict[str, Any]) -> dict[str, Any]:
        return self._review(
            command,
            "dispute_progress_report",
            False,
            command.get("reason"),
            command.get("disputed_on"),
        )

    def _review(
        self, command: dict[str, Any], name: str, verified: bool, reason: str | None, on: date
    ) -> dict[str, Any]:
        def decide() -> Decision:
            plan, changed = self._plan(command["task_id"])
            plan.review(command["report_id"], verified, reason, on)
            return changed, {
                "report_id": str(command["report_id"]),
                "outcome": "verified" if verified else "disputed",
            }

        return self.execute(name, command, decide)

    def record_major_decision(self, command: dict[str, Any]) -> dict[str, Any]:
        def decide() -> Decision:
            decision = MajorDecision(
                command["title"],
                command["decided_on"],
                command["procedure"],
                command["task_ids"],
                command["reform_effort_ids"],
            )
            return [decision], {
                "decision_id": str(decision.id),
                "missing_steps": decision.missing_steps(),
            }

        return self.execute("record_major_decision", command, decide)

    def check_task_deadlines(self, today: date) -> list[str]:
        """The deadline check: every milestone past its due day and unmet becomes overdue,
        once; a task whose every target's due day has passed is concluded (what each target
        achieved), once. Returns the events recorded, as ``kind:task_id``."""
        self.plans_view.catch_up()
        due = self.plans_view.documents.find(
            {"open": True, "first_due": {"$lt": today.isoformat()}}, {"_id": True}
        )
        recorded = []
        for document in list(due):
            command = {
                "command_id": uuid5(CHAIN_TIMER, f"{document['_id']}:{today}"),
                "actor": {"agency": "youwei Inspections", "person": "deadline check"},
                "plan_id": document["_id"],
                "today": today.isoformat(),
            }

            def decide(plan_id=document["_id"]) -> Decision:
                plan = self.repository.get(plan_id)
                marked = [f"milestone_overdue:{m}" for m in plan.overdue_milestones(today)]
                for milestone_id in plan.overdue_milestones(today):
                    plan.mark_overdue(milestone_id, today)
                if plan.conclude(today):
                    marked.append(f"targets_concluded:{plan.task_id}")
                return ([plan] if marked else []), {"recorded": marked}

            try:
                recorded += self.execute("check_task_deadlines", command, decide)["recorded"]
            except Conflict:
                continue  # changed meanwhile: the next round decides again
        return recorded

    # --- queries -------------------------------------------------------------------------

    def get_task_plan(self, query: dict[str, Any], today: date) -> dict[str, Any]:
        plan = self.find(TaskPlan.create_id(query["task_id"]), TaskPlan)
        if plan is None:
            return {
                "task_id": str(query["task_id"]),
                "targets": [],
                "milestones": [],
                "reports": [],
                "concluded_on": None,
            }
        return plan_view(plan, today)

    def get_major_decision(self, query: dict[str, Any]) -> dict[str, Any]:
        return decision_view(self._found(MajorDecision, query["decision_id"]))


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def plan_view(plan: TaskPlan, today: date) -> dict[str, Any]:
    """A task's targets (with what each achieved by ``today``), milestones and reports."""
    targets = []
    for t in plan.targets.values():
        counted = plan.counted(t["target_id"])
        targets.append(
            {
                "target_id": t["target_id"],
                "indicator": t["indicator"],
                "unit": t["unit"],
                "target_value": t["target_value"],
                "due_on": _day(t["due_on"]),
                "set_on": _day(t["set_on"]),
                "reason": t["reason"],
                "reached": max((r["value"] for r in counted), default=None),
                "outcome": label(TARGET_OUTCOMES, plan.outcome(t, today)),
            }
        )
    milestones = [
        {
            "milestone_id": m["milestone_id"],
            "target_id": m["target_id"],
            "title": m["title"],
            "value": m["value"],
            "due_on": _day(m["due_on"]),
            "set_on": _day(m["set_on"]),
            "reason": m["reason"],
            "met_on": _day(plan.met_on(m)),
            "overdue_on": _day(m["overdue_on"]),
        }
        for m in plan.milestones.values()
    ]
    reports = [
        {
            "report_id": r["report_id"],
            "target_id": r["target_id"],
            "value": r["value"],
            "reported_on": _day(r["reported_on"]),
            "evidence": r["evidence"],
            "frontline": [{**f, "on": _day(f["on"])} for f in r["frontline"]],
            "corrects": r["corrects"],
            "corrected_by": r["corrected_by"],
            "review": r["review"] and {**r["review"], "on": _day(r["review"]["on"])},
        }
        for r in plan.reports.values()
    ]
    return {
        "task_id": str(plan.task_id),
        "targets": targets,
        "milestones": milestones,
        "reports": reports,
        "concluded_on": _day(plan.concluded_on),
    }


def decision_view(decision: MajorDecision) -> dict[str, Any]:
    missing = decision.missing_steps()
    return {
        "decision_id": str(decision.id),
        "title": decision.title,
        "decided_on": _day(decision.decided_on),
        "procedure": [
            {"step": label(PROCEDURE_STEPS, s["step"]), "done_on": _day(s["done_on"])}
            for s in decision.procedure
        ],
        "followed_procedure": not missing,
        "missing_steps": [label(PROCEDURE_STEPS, step) for step in missing],
        "task_ids": [str(t) for t in decision.task_ids],
        "reform_effort_ids": [str(r) for r in decision.reform_effort_ids],
    }
