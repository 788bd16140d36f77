"""The ``inspections`` nameko service: validate (schemas), check the units and cadres named
against the registry (RPC to ``cadre_registry``), call the application, return.

The deadline timer runs every ``INSPECTIONS_DEADLINE_CHECK_SECONDS`` (default one hour)
and marks the letters past their deadline as overdue, by the service's clock
(``events.runtime.clock``). docs/rpc.md lists the methods.
"""

from __future__ import annotations

from typing import Any

from events.audit.checkpoints import CheckpointSigner
from events.bus.relay import RelayExtension
from events.identity.agency import Access, AgencyRpcProxy, rpc
from events.observability.dependency import Observability
from events.runtime.clock import CityClock, Clock, every, not_after_today
from events.runtime.dependency import ApplicationDependency
from events.runtime.remote import require
from schemas import inspections as contract
from schemas.common import load
from schemas.errors import EXPECTED, RuleViolation
from schemas.inspections import chain
from services.inspections.application import Inspections

#: Each command's dates of what happened: none may be after the city's today (a letter's
#: ``deadline`` is a day to come, and is not one of them).
FACT_DATES: dict[type, tuple[str, ...]] = {
    contract.OpenInspection: ("started_on",),
    contract.RecordFinding: ("found_on",),
    contract.IssueRectificationLetter: ("issued_on",),
    contract.ReportRectification: ("reported_on",),
    contract.ReviewRectification: ("reviewed_on",),
    contract.ExposeFinding: ("exposed_on",),
    chain.SetTaskTarget: ("set_on",),
    chain.SetTaskMilestone: ("set_on",),
    chain.ReportProgress: ("reported_on",),
    chain.VerifyProgressReport: ("verified_on",),
    chain.DisputeProgressReport: ("disputed_on",),
    chain.RecordMajorDecision: ("decided_on",),
}


class InspectionsService:
    name = "inspections"
    observability = Observability()
    access = Access()
    inspections: Inspections = ApplicationDependency(Inspections)
    cadre_registry = AgencyRpcProxy("cadre_registry")
    accountability = AgencyRpcProxy("accountability")
    clock: CityClock = Clock()
    relay = RelayExtension()
    checkpoints = CheckpointSigner()

    @rpc(expected_exceptions=EXPECTED)
    def open_inspection(self, command: Any) -> dict[str, Any]:
        return self.inspections.open_inspection(self._load(contract.OpenInspection, command))

    @rpc(expected_exceptions=EXPECTED)
    def record_finding(self, command: Any) -> dict[str, Any]:
        payload = self._load(contract.RecordFinding, command)
        self._require_unit(payload)
        if payload["cadre_id"] is not None:
            query = {"cadre_id": str(payload["cadre_id"])}
            require(self.cadre_registry.get_cadre, query, "cadre_id")
        return self.inspections.record_finding(payload)

    @rpc(expected_exceptions=EXPECTED)
    def issue_rectification_letter(self, command: Any) -> dict[str, Any]:
        payload = self._load(contract.IssueRectificationLetter, command)
        self._require_unit(payload)
        if payload["task_id"] is not None:
            query = {"task_id": str(payload["task_id"])}
            require(self.cadre_registry.owner_of, query, "task_id")
        return self.inspections.issue_rectification_letter(payload)

    @rpc(expected_exceptions=EXPECTED)
    def report_rectification(self, command: Any) -> dict[str, Any]:
        payload = self._load(contract.ReportRectification, command)
        return self.inspections.report_rectification(payload)

    @rpc(expected_exceptions=EXPECTED)
    def review_rectification(self, command: Any) -> dict[str, Any]:
        payload = self._load(contract.ReviewRectification, command)
        return self.inspections.review_rectification(payload)

    @rpc(expected_exceptions=EXPECTED)
    def expose_finding(self, command: Any) -> dict[str, Any]:
        return self.inspections.expose_finding(self._load(contract.ExposeFinding, command))

    @rpc(expected_exceptions=EXPECTED)
    def get_inspection(self, query: Any) -> dict[str, Any]:
        return self.inspections.get_inspection(load(contract.GetInspection, query))

    @rpc(expected_exceptions=EXPECTED)
    def get_finding(self, query: Any) -> dict[str, Any]:
        return self.inspections.get_finding(load(contract.GetFinding, query))

    @rpc(expected_exceptions=EXPECTED)
    def get_rectification_letter(self, query: Any) -> dict[str, Any]:
        return self.inspections.get_rectification_letter(
            load(contract.GetRectificationLetter, query)
        )

    @rpc(expected_exceptions=EXPECTED)
    def list_findings(self, query: Any) -> dict[str, Any]:
        return self.inspections.list_findings(load(contract.ListFindings, query))

    @rpc(expected_exceptions=EXPECTED)
    def list_rectification_letters(self, query: Any) -> dict[str, Any]:
        return self.inspections.list_rectification_letters(
            load(contract.ListRectificationLetters, query)
        )

    # --- the implementation chain (schemas.inspections.chain) ------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def set_task_target(self, command: Any) -> dict[str, Any]:
        return self.inspections.set_task_target(self._task_command(chain.SetTaskTarget, command))

    @rpc(expected_exceptions=EXPECTED)
    def set_task_milestone(self, command: Any) -> dict[str, Any]:
        payload = self._task_command(chain.SetTaskMilestone, command)
        return self.inspections.set_task_milestone(payload)

    @rpc(expected_exceptions=EXPECTED)
    def report_progress(self, command: Any) -> dict[str, Any]:
        payload = self._task_command(chain.ReportProgress, command)
        for index, work in enumerate(payload["frontline"]):
            rule = "inspections.not_after_today"
            not_after_today(self.clock.today(), work, ("on",), rule)
            if work["on"] > payload["reported_on"]:
                raise RuleViolation(
                    "inspections.date_order",
                    f"frontline {index}: on "
                    f"{work['on']} is after reported_on {payload['reported_on']}",
                )
        return self.inspections.report_progress(payload)

    @rpc(expected_exceptions=EXPECTED)
    def verify_progress_report(self, command: Any) -> dict[str, Any]:
        payload = self._task_command(chain.VerifyProgressReport, command)
        return self.inspections.verify_progress_report(payload)

    @rpc(expected_exceptions=EXPECTED)
    def dispute_progress_report(self, command: Any) -> dict[str, Any]:
        payload = self._task_command(chain.DisputeProgressReport, command)
        return self.inspections.dispute_progress_report(payload)

    @rpc(expected_exceptions=EXPECTED)
    def record_major_decision(self, command: Any) -> dict[str, Any]:
        payload = self._load(chain.RecordMajorDecision, command)
        for index, task_id in enumerate(payload["task_ids"]):
            require(self.cadre_registry.owner_of, {"task_id": str(task_id)}, f"task_ids.{index}")
        for index, effort_id in enumerate(payload["reform_effort_ids"]):
            query = {"reform_effort_id": str(effort_id)}
            require(self.accountability.get_reform_effort, query, f"reform_effort_ids.{index}")
        return self.inspections.record_major_decision(payload)

    @rpc(expected_exceptions=EXPECTED)
    def get_task_plan(self, query: Any) -> dict[str, Any]:
        return self.inspections.get_task_plan(load(chain.GetTaskPlan, query), self.clock.today())

    @rpc(expected_exceptions=EXPECTED)
    def get_major_decision(self, query: Any) -> dict[str, Any]:
        return self.inspections.get_major_decision(load(chain.GetMajorDecision, query))

    @every("INSPECTIONS_DEADLINE_CHECK_SECONDS", 3600, eager=True)
    def check_task_deadlines(self) -> list[str]:
        """The deadline timer of tasks: milestones past due and unmet become overdue; tasks
        whose every target is due are concluded."""
        return self.inspections.check_task_deadlines(self.clock.today())

    def _task_command(self, schema: type, command: Any) -> dict[str, Any]:
        """A command about a task: the registry must know the task."""
        payload = self._load(schema, command)
        require(self.cadre_registry.owner_of, {"task_id": str(payload["task_id"])}, "task_id")
        return payload

    @every("INSPECTIONS_DEADLINE_CHECK_SECONDS", 3600, eager=True)
    def check_deadlines(self) -> list[str]:
        """The deadline timer: letters not accepted by their deadline become overdue."""
        return self.inspections.mark_overdue_letters(self.clock.today())

    def _load(self, schema: type, command: Any) -> dict[str, Any]:
        payload = load(schema, command)
        rule, today = "inspections.not_after_today", self.clock.today()
        not_after_today(today, payload, FACT_DATES[schema], rule)
        for step in payload.get("procedure", ()):  # a major decision's steps: facts too
            not_after_today(today, step, ("done_on",), rule)
        return payload

    def _require_unit(self, payload: dict[str, Any]) -> None:
        require(self.cadre_registry.get_unit, {"unit_id": str(payload["unit_id"])}, "unit_id")
