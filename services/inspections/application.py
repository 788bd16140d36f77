"""The inspections application: inspections, findings, rectification letters and the
deadline timer. Payloads arrive validated by ``schemas.inspections``; the service has
already checked the units and cadres they name against the registry. Lists are answered
from views of this log (``events.readmodels.views``)."""

from __future__ import annotations

from datetime import date
from typing import Any, TypeVar
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, DomainEvent
from pymongo.client_session import ClientSession

from events.log.commands import CommandApplication, Decision
from events.readmodels.views import LogView, paged
from schemas.common import label
from schemas.errors import Conflict
from schemas.inspections.reference import (
    CADRE_TYPES,
    CATEGORIES,
    EXPOSURES,
    INSPECTION_KINDS,
    LETTER_STATUSES,
    SITUATIONS,
    TEAM_ROLES,
)
from services.inspections.chain import MajorDecision, TaskPlan
from services.inspections.chain_application import PlansView, TaskChains
from services.inspections.domain import Finding, Inspection, RectificationLetter

A = TypeVar("A", bound=Aggregate)
DEADLINE_TIMER = UUID("5a0e2c7d-8b13-4f49-a6d2-e3c1b7f09a54")
NAMES = {Inspection: "inspection", Finding: "finding", RectificationLetter: "letter",
         TaskPlan: "task plan", MajorDecision: "major decision"}  # fmt: skip


class FindingsView(LogView):
    name = "inspections_findings_view"
    indexes = (("unit_id", "found_on"), ("cadre_id", "found_on"), ("situation",), ("found_on",))

    def apply(self, event: DomainEvent, session: ClientSession) -> None:
        if isinstance(event, Finding.Recorded):
            self.documents.insert_one(
                {
                    "_id": event.originator_id,
                    "finding_id": str(event.originator_id),
                    "inspection_id": str(event.inspection_id),
                    "unit_id": str(event.unit_id),
                    "cadre_id": str(event.cadre_id) if event.cadre_id else None,
                    "situation": event.situation,
                    "category": SITUATIONS[event.situation][2],
                    "typical": event.typical,
                    "found_on": event.found_on.isoformat(),
                },
                session=session,
            )


class LettersView(LogView):
    """Letters by unit and status; the deadline timer reads the open ones by deadline."""

    name = "inspections_letters_view"
    indexes = (("status", "deadline"), ("unit_id",))

    def apply(self, event: DomainEvent, session: ClientSession) -> None:
        key = {"_id": event.originator_id}
        if isinstance(event, RectificationLetter.Issued):
            document = {
                **key,
                "letter_id": str(event.originator_id),
                "unit_id": str(event.unit_id),
                "issued_on": event.issued_on.isoformat(),
                "deadline": event.deadline.isoformat(),
                "status": "awaiting_report",
                "overdue": False,
            }
            self.documents.insert_one(document, session=session)
        elif isinstance(event, RectificationLetter.Reported):
            self.documents.update_one(key, {"$set": {"status": "reported"}}, session=session)
        elif isinstance(event, RectificationLetter.Reviewed):
            status = "accepted" if event.accepted else "awaiting_report"
            self.documents.update_one(key, {"$set": {"status": status}}, session=session)
        elif isinstance(event, RectificationLetter.BecameOverdue):
            self.documents.update_one(key, {"$set": {"overdue": True}}, session=session)


class Inspections(TaskChains, CommandApplication):
    name = "Inspections"
    names = NAMES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.findings_view = FindingsView(self)
        self.letters_view = LettersView(self)
        self.plans_view = PlansView(self)

    # --- commands ------------------------------------------------------------------------

    def open_inspection(self, command: dict[str, Any]) -> dict[str, Any]:
        def decide() -> Decision:
            inspection = Inspection.open(
                command["kind"], command["title"], command["started_on"], command["team"]
            )
            return [inspection], {"inspection_id": str(inspection.id)}

        return self.execute("open_inspection", command, decide)

    def record_finding(self, command: dict[str, Any]) -> dict[str, Any]:
        def decide() -> Decision:
            inspection = self._referenced(Inspection, command["inspection_id"], "inspection_id")
            finding = Finding.record(
                inspection,
                **{key: command[key] for key in FINDING_DETAILS},
            )
            return [finding], {"finding_id": str(finding.id)}

        return self.execute("record_finding", command, decide)

    def issue_rectification_letter(self, command: dict[str, Any]) -> dict[str, Any]:
        def decide() -> Decision:
            findings = [
                self._referenced(Finding, finding_id, "finding_ids")
                for finding_id in command["finding_ids"]
            ]
            letter = RectificationLetter.issue(
                command["unit_id"],
                findings,
                command["requirements"],
                command["issued_on"],
                command["deadline"],
                command["task_id"],
            )
            return [letter], {"letter_id": str(letter.id)}

        return self.execute("issue_rectification_letter", command, decide)

    def report_rectification(self, command: dict[str, Any]) -> dict[str, Any]:
        return self._change_letter(
            "report_rectification",
            command,
            lambda letter: letter.report(command["report"], command["reported_on"]),
        )

    def review_rectification(self, command: dict[str, Any]) -> dict[str, Any]:
        return self._change_letter(
            "review_rectification",
            command,
            lambda letter: letter.review(
                command["accepted"], command["reason"], command["reviewed_on"]
            ),
        )

    def _change_letter(self, name: str, command: dict[str, Any], change) -> dict[str, Any]:
        def decide() -> Decision:
            letter = self._referenced(RectificationLetter, command["letter_id"], "letter_id")
            change(letter)
            return [letter], letter_view(letter)

        return self.execute(name, command, decide)

    def expose_finding(self, command: dict[str, Any]) -> dict[str, Any]:
        def decide() -> Decision:
            finding = self._referenced(Finding, command["finding_id"], "finding_id")
            finding.expose(command["exposure"], command["exposed_on"])
            return [finding], finding_view(finding)

        return self.execute("expose_finding", command, decide)

    def mark_overdue_letters(self, today: date) -> list[str]:
        """The deadline timer: every letter past its deadline and not accepted becomes
        overdue, once. Returns the letters marked now."""
        self.letters_view.catch_up()
        due = self.letters_view.documents.find(
            {
                "status": {"$ne": "accepted"},
                "overdue": False,
                "deadline": {"$lt": today.isoformat()},
            },
            {"_id": True},
        )
        marked = []
        for document in due:
            command = {
                "command_id": uuid5(DEADLINE_TIMER, str(document["_id"])),
                "actor": {"agency": "youwei Inspections", "person": "deadline timer"},
                "letter_id": document["_id"],
            }

            def decide(letter_id=document["_id"]) -> Decision:
                letter = self.repository.get(letter_id)
                if not letter.mark_overdue(today):
                    return [], {"letter_id": str(letter_id), "overdue": letter.overdue}
                return [letter], {"letter_id": str(letter_id), "overdue": True}

            try:
                if self.execute("mark_overdue", command, decide)["overdue"]:
                    marked.append(str(document["_id"]))
            except Conflict:
                continue  # changed meanwhile (a report, another replica's timer): next round
        return marked

    # --- queries -------------------------------------------------------------------------

    def get_inspection(self, query: dict[str, Any]) -> dict[str, Any]:
        inspection = self._found(Inspection, query["inspection_id"])
        self.findings_view.catch_up()
        findings = self.findings_view.documents.count_documents(
            {"inspection_id": str(inspection.id)}
        )
        return {**inspection_view(inspection), "findings": findings}

    def get_finding(self, query: dict[str, Any]) -> dict[str, Any]:
        return finding_view(self._found(Finding, query["finding_id"]))

    def get_rectification_letter(self, query: dict[str, Any]) -> dict[str, Any]:
        return letter_view(self._found(RectificationLetter, query["letter_id"]))

    def list_findings(self, query: dict[str, Any]) -> dict[str, Any]:
        match: dict[str, Any] = {
            key: str(query[key]) if key.endswith("_id") else query[key]
            for key in ("inspection_id", "unit_id", "cadre_id", "category", "situation", "typical")
            if key in query
        }
        period = {}
        if "found_from" in query:
            period["$gte"] = query["found_from"].isoformat()
        if "found_to" in query:
            period["$lte"] = query["found_to"].isoformat()
        if period:
            match["found_on"] = period
        total, documents = self.findings_view.page(
            match, [("found_on", 1), ("finding_id", 1)], query["page"], query["page_size"]
        )
        findings = [self.repository.get(UUID(d["finding_id"])) for d in documents]
        return paged(query, total, "findings", [finding_view(f) for f in findings])

    def list_rectification_letters(self, query: dict[str, Any]) -> dict[str, Any]:
        match = {
            key: str(query[key]) if key == "unit_id" else query[key]
            for key in ("unit_id", "status", "overdue")
            if key in query
        }
        total, documents = self.letters_view.page(
            match, [("deadline", 1), ("letter_id", 1)], query["page"], query["page_size"]
        )
        letters = [self.repository.get(UUID(d["letter_id"])) for d in documents]
        return paged(query, total, "letters", [letter_view(letter) for letter in letters])


FINDING_DETAILS = (
    "unit_id", "cadre_id", "situation", "cadre_type", "description", "evidence", "typical",
    "found_on",
)  # fmt: skip


def inspection_view(inspection: Inspection) -> dict[str, Any]:
    return {
        "inspection_id": str(inspection.id),
        "kind": label(INSPECTION_KINDS, inspection.kind),
        "title": inspection.title,
        "started_on": inspection.started_on.isoformat(),
        "team": [
            {"name": member["name"], "role": label(TEAM_ROLES, member["role"])}
            for member in inspection.team
        ],
    }


def finding_view(finding: Finding) -> dict[str, Any]:
    return {
        "finding_id": str(finding.id),
        "inspection_id": str(finding.inspection_id),
        "unit_id": str(finding.unit_id),
        "cadre_id": str(finding.cadre_id) if finding.cadre_id else None,
        "situation": label(SITUATIONS, finding.situation),
        "category": label(CATEGORIES, finding.category),
        "cadre_type": label(CADRE_TYPES, finding.cadre_type) if finding.cadre_type else None,
        "description": finding.description,
        "evidence": finding.evidence,
        "typical": finding.typical,
        "found_on": finding.found_on.isoformat(),
        "exposures": [
            {"exposure": label(EXPOSURES, e["kind"]), "exposed_on": e["on"].isoformat()}
            for e in finding.exposures
        ],
    }


def letter_view(letter: RectificationLetter) -> dict[str, Any]:
    return {
        "letter_id": str(letter.id),
        "unit_id": str(letter.unit_id),
        "task_id": str(letter.task_id) if letter.task_id else None,
        "finding_ids": [str(f) for f in letter.finding_ids],
        "requirements": letter.requirements,
        "issued_on": letter.issued_on.isoformat(),
        "deadline": letter.deadline.isoformat(),
        "status": label(LETTER_STATUSES, letter.status),
        "overdue": letter.overdue,
        "overdue_on": letter.overdue_on.isoformat() if letter.overdue_on else None,
        "reports": [
            {
                "report": r["text"],
                "reported_on": r["on"].isoformat(),
                "accepted": r["accepted"],
                "reason": r.get("reason"),
                "reviewed_on": r["reviewed_on"].isoformat() if "reviewed_on" in r else None,
            }
            for r in letter.reports
        ],
    }
