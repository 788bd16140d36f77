"""The implementation chain of one task (落实链条, DOMAIN.md): its quantified targets and
milestones (decision), the owner's progress reports (execution), and the supervision
office's verification of them (supervision); and major decisions with their dated
procedure. Pure code: dates are passed in, so tests are exact.

A target is reached when a counted report of it gives a value at least its target value; a
milestone is met when a counted report of its target reached the milestone's value on or
before its due day. A report counts unless it was disputed or corrected by a later one.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from eventsourcing.domain import Aggregate, event

from schemas.errors import RuleViolation
from schemas.inspections.chain import PROCEDURE_STEPS

NAMESPACE = uuid5(NAMESPACE_URL, "youwei:inspections:task-plan")


def not_before(earlier: date, later: date, what: str, field: str) -> None:
    if later < earlier:
        raise RuleViolation(
            "inspections.date_order", f"{field} {later} is before {what} ({earlier})"
        )


class TaskPlan(Aggregate):
    """One task's chain: targets, milestones, reports and their verification."""

    @staticmethod
    def create_id(task_id: UUID) -> UUID:
        return uuid5(NAMESPACE, str(task_id))

    @event("Started")
    def __init__(self, task_id: UUID) -> None:
        self.task_id = task_id
        self.targets: dict[str, dict[str, Any]] = {}
        self.milestones: dict[str, dict[str, Any]] = {}
        self.reports: dict[str, dict[str, Any]] = {}

    # --- decision ------------------------------------------------------------------------

    def set_target(self, target_id: UUID | None, details: dict[str, Any]) -> str:
        """A new target (``target_id`` None), or a change of one, with its reason; not
        once the task's targets are concluded."""
        if self.concluded_on is not None:
            raise RuleViolation(
                "inspections.targets_concluded",
                f"the task's targets were concluded on {self.concluded_on}",
            )
        if target_id is not None:
            target = self._target(target_id, "target_id")
            not_before(target["set_on"], details["set_on"], "the target's last setting", "set_on")
        new_id = str(target_id or uuid4())
        self._target_set(new_id, target_id is not None, details)
        return new_id

    def set_milestone(self, milestone_id: UUID | None, details: dict[str, Any]) -> str:
        target = self._target(details["target_id"], "target_id")
        if details["due_on"] > target["due_on"]:
            raise RuleViolation(
                "inspections.milestone_within_target",
                f"due_on {details['due_on']} is after the target's due day ({target['due_on']})",
            )
        if milestone_id is not None:
            milestone = self._milestone(milestone_id)
            if milestone["overdue_on"] is not None:
                raise RuleViolation(
                    "inspections.milestone_overdue",
                    f"milestone {milestone_id} became overdue on {milestone['overdue_on']}: "
                    "what it asked stays on record",
                )
            not_before(
                milestone["set_on"], details["set_on"], "the milestone's last setting", "set_on"
            )
        new_id = str(milestone_id or uuid4())
        self._milestone_set(new_id, milestone_id is not None, details)
        return new_id

    @event("TargetSet")
    def _target_set(self, target_id: str, changed: bool, details: dict[str, Any]) -> None:
        self.targets[target_id] = {**details, "target_id": target_id}

    @event("MilestoneSet")
    def _milestone_set(self, milestone_id: str, changed: bool, details: dict[str, Any]) -> None:
        self.milestones[milestone_id] = {
            **details,
            "target_id": str(details["target_id"]),
            "milestone_id": milestone_id,
            "overdue_on": None,
        }

    # --- execution -----------------------------------------------------------------------

    def report(self, details: dict[str, Any]) -> str:
        target = self._target(details["target_id"], "target_id")
        not_before(target["set_on"], details["reported_on"], "the target's setting", "reported_on")
        corrects = details.get("corrects")
        if corrects is not None:
            earlier = self._report(corrects, "corrects")
            if earlier["corrected_by"] is not None:
                raise RuleViolation(
                    "inspections.report_corrected",
                    f"report {corrects} was already corrected by {earlier['corrected_by']}",
                )
            if earlier["target_id"] != str(details["target_id"]):
                raise RuleViolation(
                    "inspections.correction_of_same_target",
                    f"report {corrects} is of another target",
                )
            not_before(
                earlier["reported_on"],
                details["reported_on"],
                "the report corrected",
                "reported_on",
            )
        report_id = str(uuid4())
        self._reported(
            report_id,
            str(details["target_id"]),
            details["value"],
            details["reported_on"],
            details["evidence"],
            details["frontline"],
            str(corrects) if corrects else None,
        )
        return report_id

    @event("ProgressReported")
    def _reported(
        self,
        report_id: str,
        target_id: str,
        value: float,
        reported_on: date,
        evidence: list[str],
        frontline: list[dict[str, Any]],
        corrects: str | None,
    ) -> None:
        self.reports[report_id] = {
            "report_id": report_id,
            "target_id": target_id,
            "value": value,
            "reported_on": reported_on,
            "evidence": evidence,
            "frontline": frontline,
            "corrects": corrects,
            "corrected_by": None,
            "review": None,
        }
        if corrects:
            self.reports[corrects]["corrected_by"] = report_id

    # --- supervision ---------------------------------------------------------------------

    def review(self, report_id: UUID, verified: bool, reason: str | None, on: date) -> None:
        report = self._report(report_id, "report_id")
        if report["review"] is not None:
            raise RuleViolation(
                "inspections.report_reviewed",
                f"report {report_id} was already {report['review']['outcome']} on "
                f"{report['review']['on']}",
            )
        not_before(
            report["reported_on"], on, "the report", "verified_on" if verified else "disputed_on"
        )
        self._reviewed(str(report_id), verified, reason, on)

    @event("ReportReviewed")
    def _reviewed(self, report_id: str, verified: bool, reason: str | None, on: date) -> None:
        outcome = "verified" if verified else "disputed"
        self.reports[report_id]["review"] = {"outcome": outcome, "reason": reason, "on": on}

    # --- the deadline check --------------------------------------------------------------

    def overdue_milestones(self, today: date) -> list[str]:
        """Milestones past their due day, unmet and not yet marked overdue."""
        return [
            m_id
            for m_id, m in self.milestones.items()
            if m["overdue_on"] is None and m["due_on"] < today and self.met_on(m) is None
        ]

    def mark_overdue(self, milestone_id: str, today: date) -> None:
        self._milestone_overdue(milestone_id, self.task_id, today)

    @event("MilestoneBecameOverdue")
    def _milestone_overdue(self, milestone_id: str, task_id: UUID, on: date) -> None:
        self.milestones[milestone_id]["overdue_on"] = on

    def conclude(self, today: date) -> bool:
        """Once every target's due day has passed: record what each achieved, once."""
        if self.concluded_on is not None or not self.targets:
            return False
        if any(t["due_on"] >= today for t in self.targets.values()):
            return False
        outcomes = {t_id: self.outcome(t, today) for t_id, t in self.targets.items()}
        self._concluded(
            self.task_id, outcomes, all(o == "met_on_time" for o in outcomes.values()), today
        )
        return True

    concluded_on: date | None = None

    @event("TargetsConcluded")
    def _concluded(
        self, task_id: UUID, outcomes: dict[str, str], all_met_on_time: bool, on: date
    ) -> None:
        self.concluded_on = on

    # --- reading -------------------------------------------------------------------------

    def counted(self, target_id: str) -> list[dict[str, Any]]:
        """The reports of a target that count, in the order reported."""
        return [
            r
            for r in self.reports.values()
            if r["target_id"] == target_id
            and r["corrected_by"] is None
            and (r["review"] is None or r["review"]["outcome"] == "verified")
        ]

    def reached_on(self, target_id: str, value: float) -> date | None:
        days = [r["reported_on"] for r in self.counted(target_id) if r["value"] >= value]
        return min(days) if days else None

    def met_on(self, milestone: dict[str, Any]) -> date | None:
        day = self.reached_on(milestone["target_id"], milestone["value"])
        return day if day is not None and day <= milestone["due_on"] else None

    def outcome(self, target: dict[str, Any], today: date) -> str:
        """``met_on_time``, ``met_late``, ``missed`` (due before today, not reached) or
        ``in_progress``."""
        day = self.reached_on(target["target_id"], target["target_value"])
        if day is not None:
            return "met_on_time" if day <= target["due_on"] else "met_late"
        return "missed" if target["due_on"] < today else "in_progress"

    def _target(self, target_id: Any, field: str) -> dict[str, Any]:
        if str(target_id) not in self.targets:
            raise RuleViolation(
                "inspections.unknown_target", f"{field}: no target {target_id} of this task"
            )
        return self.targets[str(target_id)]

    def _milestone(self, milestone_id: Any) -> dict[str, Any]:
        if str(milestone_id) not in self.milestones:
            raise RuleViolation(
                "inspections.unknown_milestone",
                f"milestone_id: no milestone {milestone_id} of this task",
            )
        return self.milestones[str(milestone_id)]

    def _report(self, report_id: Any, field: str) -> dict[str, Any]:
        if str(report_id) not in self.reports:
            raise RuleViolation(
                "inspections.unknown_report", f"{field}: no report {report_id} of this task"
            )
        return self.reports[str(report_id)]


class MajorDecision(Aggregate):
    """A major decision (重大决策) with its procedure (科学民主依法决策), each step dated
    (纪实监督), and the tasks and reform efforts it started."""

    @event("Recorded")
    def __init__(
        self,
        title: str,
        decided_on: date,
        procedure: list[dict[str, Any]],
        task_ids: list[UUID],
        reform_effort_ids: list[UUID],
    ) -> None:
        self.title = title
        self.decided_on = decided_on
        self.procedure = procedure
        self.task_ids = task_ids
        self.reform_effort_ids = reform_effort_ids

    def missing_steps(self) -> list[str]:
        """The procedure's steps not followed: not recorded, or done only after the
        decision was taken. None missing: the decision followed its procedure."""
        done = {s["step"] for s in self.procedure if s["done_on"] <= self.decided_on}
        return [step for step in PROCEDURE_STEPS if step not in done]
