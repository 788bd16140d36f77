"""Inspections, findings and rectification letters, with their rules. Pure code: dates are
passed in (the service's clock decides "today"), so tests are exact."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from schemas.errors import RuleViolation
from schemas.inspections.reference import category_of

OUTSIDE_ROLES = {"media", "npc_deputy", "cppcc_member", "conduct_supervisor", "special_supervisor"}


class Inspection(Aggregate):
    """An inspection (暗访, 巡视, 督查, 责任制检查) and its team."""

    @classmethod
    def open(
        cls, kind: str, title: str, started_on: date, team: list[dict[str, str]]
    ) -> Inspection:
        roles = {member["role"] for member in team}
        if kind == "undercover_visit" and not ("commission" in roles and roles & OUTSIDE_ROLES):
            raise RuleViolation(
                "inspections.mixed_team",
                "an undercover visit's team has the commission and at least one member from "
                "outside it (media, deputies, CPPCC members, supervisors)",
            )
        return cls(kind, title, started_on, team)

    @event("Opened")
    def __init__(self, kind: str, title: str, started_on: date, team: list[dict[str, str]]) -> None:
        self.kind = kind
        self.title = title
        self.started_on = started_on
        self.team = team


def in_order(earlier: date, later: date, what: str) -> None:
    if later < earlier:
        raise RuleViolation("inspections.date_in_order", f"{later} is before {what} ({earlier})")


class Finding(Aggregate):
    """A finding of inaction against a unit (and maybe a cadre), classified by exactly one
    of the 16 situations; its category follows. Evidence is referenced, with digests."""

    @classmethod
    def record(cls, inspection: Inspection, **details: Any) -> Finding:
        in_order(inspection.started_on, details["found_on"], "the inspection's start")
        return cls(inspection_id=inspection.id, **details)

    @event("Recorded")
    def __init__(
        self,
        inspection_id: UUID,
        unit_id: UUID,
        cadre_id: UUID | None,
        situation: str,
        cadre_type: str | None,
        description: str,
        evidence: list[dict[str, str]],
        typical: bool,
        found_on: date,
    ) -> None:
        self.inspection_id = inspection_id
        self.unit_id = unit_id
        self.cadre_id = cadre_id
        self.situation = situation
        self.category = category_of(situation)
        self.cadre_type = cadre_type
        self.description = description
        self.evidence = evidence
        self.typical = typical
        self.found_on = found_on
        self.exposures: list[dict[str, Any]] = []

    def expose(self, kind: str, on: date) -> None:
        if any(exposure["kind"] == kind for exposure in self.exposures):
            raise RuleViolation(
                "inspections.exposed_once", f"this finding was already exposed by {kind}"
            )
        in_order(self.found_on, on, "the finding")
        self._exposed(kind, on)

    @event("Exposed")
    def _exposed(self, kind: str, on: date) -> None:
        self.exposures.append({"kind": kind, "on": on})


class RectificationLetter(Aggregate):
    """A rectification recommendation letter (整改建议书): the unit reports, the inspectors
    accept or reject the report; a letter not accepted by its deadline becomes overdue."""

    @classmethod
    def issue(
        cls,
        unit_id: UUID,
        findings: list[Finding],
        requirements: str,
        issued_on: date,
        deadline: date,
        task_id: UUID | None = None,
    ) -> RectificationLetter:
        others = [str(f.id) for f in findings if f.unit_id != unit_id]
        if others:
            raise RuleViolation(
                "inspections.letter_findings_of_unit",
                f"findings {', '.join(others)} are not of the unit the letter goes to",
            )
        for finding in findings:
            in_order(finding.found_on, issued_on, f"finding {finding.id}")
        if deadline <= issued_on:
            raise RuleViolation(
                "inspections.deadline_after_issue", f"deadline {deadline} is not after {issued_on}"
            )
        return cls(unit_id, [f.id for f in findings], requirements, issued_on, deadline, task_id)

    @event("Issued")
    def __init__(
        self,
        unit_id: UUID,
        finding_ids: list[UUID],
        requirements: str,
        issued_on: date,
        deadline: date,
        task_id: UUID | None,
    ) -> None:
        self.unit_id = unit_id
        self.task_id = task_id
        self.finding_ids = finding_ids
        self.requirements = requirements
        self.issued_on = issued_on
        self.deadline = deadline
        self.status = "awaiting_report"
        self.overdue = False
        self.overdue_on: date | None = None
        self.reports: list[dict[str, Any]] = []

    def report(self, text: str, on: date) -> None:
        if self.status != "awaiting_report":
            raise RuleViolation("inspections.report_awaited", f"the letter is {self.status}")
        in_order(self.reports[-1]["reviewed_on"] if self.reports else self.issued_on, on,
                 "the letter's last step")  # fmt: skip
        self._reported(text, on)

    def review(self, accepted: bool, reason: str, on: date) -> None:
        if self.status != "reported":
            raise RuleViolation("inspections.review_after_report", f"the letter is {self.status}")
        in_order(self.reports[-1]["on"], on, "the report")
        self._reviewed(accepted, reason, on)

    def mark_overdue(self, today: date) -> bool:
        """The deadline timer: record that the letter is overdue, once, if it is."""
        if self.overdue or self.status == "accepted" or today <= self.deadline:
            return False
        self._became_overdue(today)
        return True

    @event("Reported")
    def _reported(self, text: str, on: date) -> None:
        self.status = "reported"
        self.reports.append({"text": text, "on": on, "accepted": None})

    @event("Reviewed")
    def _reviewed(self, accepted: bool, reason: str, on: date) -> None:
        self.status = "accepted" if accepted else "awaiting_report"
        self.reports[-1].update(accepted=accepted, reason=reason, reviewed_on=on)

    @event("BecameOverdue")
    def _became_overdue(self, on: date) -> None:
        self.overdue = True
        self.overdue_on = on
