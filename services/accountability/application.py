"""The accountability application: cases, their decisions and appeals, tolerance for
reform, commendations and publication. Payloads arrive validated by
``schemas.accountability``; the service has already asked the other services about the
cadres, units and bases they name. ``list_cases`` is answered from a view of this log."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate, DomainEvent
from pymongo.client_session import ClientSession

from events.identity.personal import subject_of
from events.log.commands import CommandApplication, Decision
from events.readmodels.views import LogView, paged
from schemas.accountability.reference import (
    ACCOUNTABILITY_FORMS,
    APPEAL_OUTCOMES,
    BASES,
    CASE_STATUSES,
    COMMENDATIONS,
    CONSEQUENCE_COMMENDATIONS,
    CONSEQUENCE_HANDLINGS,
    DECISION_STATUSES,
    EXEMPTION_RULES,
    EXEMPTIONS,
    HANDLINGS,
    MEASURES,
    RISK_LEVELS,
)
from schemas.cadre_registry.reference import RANKS
from schemas.common import label
from schemas.inspections.reference import SITUATIONS
from schemas.records.reference import CONSEQUENCE_RULES, CURRENT_RESTRICTION_RULES
from services.accountability.domain import (
    Case,
    Commendation,
    ReformEffort,
    proposed_consequence,
)

A = TypeVar("A", bound=Aggregate)
#: Whose key (``events.identity.personal``) keys the hashes of reports' references in
#: commands' digests.
REPORT_REFERENCE_KEY = "accountability:report-references"
NAMES = {Case: "case", ReformEffort: "reform effort", Commendation: "commendation"}


class CasesView(LogView):
    """One document per case, as the case stands after each of its events."""

    name = "accountability_cases_view"
    indexes = (("cadre_id", "opened_on"), ("status", "opened_on"), ("opened_on",))

    def apply(self, event: DomainEvent, session: ClientSession) -> None:
        if not isinstance(event, Case.Event):
            return
        case = self.application.repository.get(
            event.originator_id, version=event.originator_version
        )
        in_force = case.in_force()
        document = {
            "case_id": str(case.id),
            "cadre_id": str(case.cadre_id),
            "status": case.status,
            "basis": sorted({item["kind"] for item in case.basis}),
            "measures": sorted({d["kind"] for d in in_force if d["type"] == "measure"}),
            "handlings": sorted({d["kind"] for d in in_force if d["type"] == "handling"}),
            "published": any(p["withdrawn_on"] is None for p in case.publications),
            "exempted": case.exemption is not None,
            "opened_on": case.opened_on.isoformat(),
        }
        self.documents.replace_one({"_id": case.id}, document, upsert=True, session=session)


class CommendationsView(LogView):
    """One document per commendation, as it stands after each of its events."""

    name = "accountability_commendations_view"
    indexes = (("cadre_id", "commended_on"), ("kind", "commended_on"), ("commended_on",))

    def apply(self, event: DomainEvent, session: ClientSession) -> None:
        if not isinstance(event, Commendation.Event):
            return
        commendation = self.application.repository.get(
            event.originator_id, version=event.originator_version
        )
        document = {
            "commendation_id": str(commendation.id),
            "cadre_id": str(commendation.cadre_id),
            "kind": commendation.kind,
            "published": commendation.in_view() is not None,
            "commended_on": commendation.commended_on.isoformat(),
        }
        self.documents.replace_one({"_id": commendation.id}, document, upsert=True, session=session)


class Accountability(CommandApplication):
    name = "Accountability"
    names = NAMES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cases_view = CasesView(self)
        self.commendations_view = CommendationsView(self)

    # --- commands ------------------------------------------------------------------------

    def open_case(self, command: dict[str, Any], facts: list[dict[str, Any]]) -> dict[str, Any]:
        """``facts``: what the other services returned for each basis item, in order. A
        report's raw reference goes only into the case's sealed ``reports``: the command's
        digest (which tells a retry from a reused ``command_id``) is taken over a keyed hash
        of it, which no one without the service's key can test guesses against."""
        basis = command["basis"]

        def decide() -> Decision:
            case = Case.open(
                command["cadre_id"],
                basis,
                facts,
                command["summary"],
                command["occurred_on"],
                command["opened_on"],
            )
            return [case], {"case_id": str(case.id)}

        digested = [
            {**item, "reference": self._keyed_reference(item["reference"])}
            if item["kind"] == "report"
            else item
            for item in basis
        ]
        return self.execute("open_case", {**command, "basis": digested}, decide)

    def _keyed_reference(self, reference: str) -> str:
        """HMAC-SHA256 of a report's reference under the service's key for them, kept with
        the personal keys (outside the log), made on first use."""
        key = self.personal_keys.key_to_seal(subject_of(REPORT_REFERENCE_KEY))
        return hmac.new(key, reference.encode(), hashlib.sha256).hexdigest()

    def record_statement(self, command: dict[str, Any]) -> dict[str, Any]:
        return self._change_case(
            "record_statement",
            command,
            lambda case: case.record_statement(command["statement"], command["made_on"]),
        )

    def impose_measure(self, command: dict[str, Any]) -> dict[str, Any]:
        return self._change_case(
            "impose_measure",
            command,
            lambda case: {
                "decision_id": str(
                    case.impose_measure(
                        command["measure"], command["form"], command["reason"],
                        command["decided_on"],
                    )
                )
            },
        )  # fmt: skip

    def decide_handling(self, command: dict[str, Any]) -> dict[str, Any]:
        return self._change_case(
            "decide_handling",
            command,
            lambda case: {
                "decision_id": str(
                    case.decide_handling(
                        command["handling"],
                        {key: command.get(key) for key in ("unit_id", "post", "rank")},
                        command["reason"],
                        command["decided_on"],
                    )
                )
            },
        )

    def grant_exemption(
        self, command: dict[str, Any], decision: dict[str, Any] | None
    ) -> dict[str, Any]:
        """``decision``: the major decision named, as the inspections service answered it
        (``get_major_decision``), or None when the command names none."""
        facts = decision and {
            "decision_id": UUID(decision["decision_id"]),
            "decided_on": date.fromisoformat(decision["decided_on"]),
            "reform_effort_ids": decision["reform_effort_ids"],
            "missing_steps": [step["code"] for step in decision["missing_steps"]],
        }
        statements = {key: command[key] for key in ("no_personal_gain", "no_prohibition_broken")}

        def change(case: Case) -> None:
            effort = self._referenced(ReformEffort, command["reform_effort_id"], "reform_effort_id")
            case.grant_exemption(
                effort, command["outcome"], command["reasons"], command["granted_on"], facts,
                statements,
            )  # fmt: skip

        return self._change_case("grant_exemption", command, change)

    def file_appeal(self, command: dict[str, Any]) -> dict[str, Any]:
        return self._change_case(
            "file_appeal",
            command,
            lambda case: case.file_appeal(
                command["decision_id"], command["grounds"], command["filed_on"]
            ),
        )

    def decide_appeal(self, command: dict[str, Any]) -> dict[str, Any]:
        return self._change_case(
            "decide_appeal",
            command,
            lambda case: case.decide_appeal(
                command["decision_id"],
                command["outcome"],
                command["reason"],
                command["decided_on"],
                command["changed_to"],
            ),
        )

    def publish_result(self, command: dict[str, Any]) -> dict[str, Any]:
        return self._change_case(
            "publish_result",
            command,
            lambda case: {
                "publication_id": str(
                    case.publish_result(command["summary"], command["published_on"])
                )
            },
        )

    def withdraw_publication(self, command: dict[str, Any]) -> dict[str, Any]:
        return self._change_case(
            "withdraw_publication",
            command,
            lambda case: case.withdraw_publication(command["reason"], command["withdrawn_on"]),
        )

    def close_case(self, command: dict[str, Any]) -> dict[str, Any]:
        return self._change_case(
            "close_case",
            command,
            lambda case: case.close(command["conclusion"], command["closed_on"]),
        )

    def _change_case(self, name: str, command: dict[str, Any], change) -> dict[str, Any]:
        """Apply ``change`` to the case; the result is what ``change`` returned (if a dict)
        beside the case as it now stands."""

        def decide() -> Decision:
            case = self._referenced(Case, command["case_id"], "case_id")
            outcome = change(case)
            # a result is kept in the command's record in the log: no report's reference
            return [case], {**(outcome or {}), "case": case_view(case, references=False)}

        return self.execute(name, command, decide)

    def register_reform_effort(self, command: dict[str, Any]) -> dict[str, Any]:
        def decide() -> Decision:
            effort = ReformEffort.register(**{key: command[key] for key in EFFORT_DETAILS})
            return [effort], {"reform_effort_id": str(effort.id)}

        return self.execute("register_reform_effort", command, decide)

    def commend(self, command: dict[str, Any]) -> dict[str, Any]:
        def decide() -> Decision:
            commendation = Commendation(
                command["cadre_id"], command["kind"], command["reason"], command["commended_on"]
            )
            return [commendation], {"commendation_id": str(commendation.id)}

        return self.execute("commend", command, decide)

    def publish_commendation(self, command: dict[str, Any]) -> dict[str, Any]:
        return self._change_commendation(
            "publish_commendation",
            command,
            lambda commendation: commendation.publish(command["citation"], command["published_on"]),
        )

    def withdraw_commendation_publication(self, command: dict[str, Any]) -> dict[str, Any]:
        return self._change_commendation(
            "withdraw_commendation_publication",
            command,
            lambda commendation: commendation.withdraw_publication(
                command["reason"], command["withdrawn_on"]
            ),
        )

    def _change_commendation(self, name: str, command: dict[str, Any], change) -> dict[str, Any]:
        def decide() -> Decision:
            commendation = self._referenced(
                Commendation, command["commendation_id"], "commendation_id"
            )
            change(commendation)
            return [commendation], {"commendation": commendation_view(commendation)}

        return self.execute(name, command, decide)

    # --- policies (reactions to the other services' events) -------------------------------

    def case_for_finding(self, upstream: dict[str, Any], today: date) -> Decision:
        """A finding about a cadre opens a case about them."""
        data = upstream["data"]
        if not data["cadre_id"]:
            return [], {"ignored": "a finding about a unit, not a cadre"}
        found_on = date.fromisoformat(data["found_on"])
        zh, en = SITUATIONS[data["situation"]][:2]
        case = Case.open(
            UUID(data["cadre_id"]),
            [{"kind": "finding", "finding_id": UUID(upstream["originator_id"])}],
            [{"cadre_id": data["cadre_id"]}],
            f"督查暗访发现：{zh} (finding: {en})",
            found_on,
            max(found_on, today),
        )
        return [case], {"case_id": str(case.id)}

    def case_for_overdue_letter(
        self, upstream: dict[str, Any], owner_id: UUID | None, today: date
    ) -> Decision:
        """A rectification letter overdue calls the owner of its task to account."""
        if owner_id is None:
            return [], {"ignored": "the letter names no task, so no owner to call to account"}
        overdue_on = date.fromisoformat(upstream["data"]["on"])
        case = Case.open(
            owner_id,
            [{"kind": "overdue_letter", "letter_id": UUID(upstream["originator_id"])}],
            [{"overdue": True}],
            "整改建议书逾期未整改到位 (rectification letter overdue)",
            overdue_on,
            max(overdue_on, today),
        )
        return [case], {"case_id": str(case.id)}

    def assessment_consequences(
        self,
        upstream: dict[str, Any],
        earlier_grades: list[str | None],
        today: date,
        run: int = 1,
    ) -> Decision:
        """An ``incompetent`` grade opens a case proposing what the consequence rules say
        (``CONSEQUENCE_RULES``, current version): demotion, or in the second year running
        (``run``: how many years running, this one included) dismissal from the civil
        service (辞退); every third ``excellent`` year running (as the personnel file
        counts: ``proposed_consequence``) records a third-class merit (记三等功) citing
        its rule and version. Both are dated by the day they are made (``today``), what
        the case is about by the day the assessment was concluded. ``earlier_grades`` is
        no longer read (``run`` says it), kept for callers that pass it."""
        data = upstream["data"]
        cadre_id, year, grade = UUID(data["cadre_id"]), data["year"], data["outcome"]["grade"]
        concluded = data.get("concluded_on")
        occurred = date.fromisoformat(concluded) if concluded else min(date(year, 12, 31), today)
        if grade == "incompetent":
            version = CURRENT_RESTRICTION_RULES
            rules = CONSEQUENCE_RULES[version]
            name = proposed_consequence(grade, run, rules) or "incompetent_demotion"
            handling = CONSEQUENCE_HANDLINGS[name]
            zh, en = HANDLINGS[handling]
            years = f"{year - run + 1}–{year}年度连续{run}年" if run > 1 else f"{year}年度"
            running = f" {run} years running" if run > 1 else ""
            proposal = {"handling": handling, "rule": name, "rules_version": version,
                        "source": rules[name]["source"]}  # fmt: skip
            case = Case.open(
                cadre_id, [{"kind": "assessment", "year": year}], [{}],
                f"{years}考核不称职，拟{zh} (graded incompetent{running}: {en} proposed; "
                f"rule {name}, rules {version})",
                occurred, max(occurred, today), proposal,
            )  # fmt: skip
            return [case], {"case_id": str(case.id), "proposed": handling}
        version = CURRENT_RESTRICTION_RULES
        rules = CONSEQUENCE_RULES[version]
        name = proposed_consequence(grade, run, rules)
        if name in CONSEQUENCE_COMMENDATIONS:
            kind = CONSEQUENCE_COMMENDATIONS[name]
            zh, en = COMMENDATIONS[kind]
            years = rules[name]["years_running"]
            commendation = Commendation(
                cadre_id, kind,
                f"{year - years + 1}–{year}年度考核连续{years}年优秀，{zh} "
                f"({years} excellent years running: {en}; rule {name}, rules {version})",
                max(occurred, today), name, version, rules[name]["source"],
            )  # fmt: skip
            return [commendation], {"commendation_id": str(commendation.id), "proposed": kind}
        return [], {"ignored": f"grade {grade}"}

    # --- queries -------------------------------------------------------------------------

    def get_case(self, query: dict[str, Any]) -> dict[str, Any]:
        return case_view(self._found(Case, query["case_id"]))

    def get_reform_effort(self, query: dict[str, Any]) -> dict[str, Any]:
        return effort_view(self._found(ReformEffort, query["reform_effort_id"]))

    def get_commendation(self, query: dict[str, Any]) -> dict[str, Any]:
        return commendation_view(self._found(Commendation, query["commendation_id"]))

    def list_commendations(self, query: dict[str, Any]) -> dict[str, Any]:
        match: dict[str, Any] = {
            key: str(query[key]) if key == "cadre_id" else query[key]
            for key in ("cadre_id", "kind", "published")
            if key in query
        }
        period = {}
        if "commended_from" in query:
            period["$gte"] = query["commended_from"].isoformat()
        if "commended_to" in query:
            period["$lte"] = query["commended_to"].isoformat()
        if period:
            match["commended_on"] = period
        total, documents = self.commendations_view.page(
            match, [("commended_on", 1), ("commendation_id", 1)], query["page"],
            query["page_size"],
        )  # fmt: skip
        found = [
            commendation_view(self.repository.get(UUID(d["commendation_id"]))) for d in documents
        ]
        return paged(query, total, "commendations", found)

    def list_cases(self, query: dict[str, Any]) -> dict[str, Any]:
        match: dict[str, Any] = {
            key: str(query[key]) if key == "cadre_id" else query[key]
            for key in ("cadre_id", "status", "basis", "published", "exempted")
            if key in query
        }
        match.update({f"{key}s": query[key] for key in ("measure", "handling") if key in query})
        period = {}
        if "opened_from" in query:
            period["$gte"] = query["opened_from"].isoformat()
        if "opened_to" in query:
            period["$lte"] = query["opened_to"].isoformat()
        if period:
            match["opened_on"] = period
        total, documents = self.cases_view.page(
            match, [("opened_on", 1), ("case_id", 1)], query["page"], query["page_size"]
        )
        cases = [case_view(self.repository.get(UUID(d["case_id"]))) for d in documents]
        return paged(query, total, "cases", cases)


EFFORT_DETAILS = (
    "unit_id", "title", "risk_assessment", "risk_level", "participants", "registered_on",
    "starts_on", "ends_on",
)  # fmt: skip


def iso(day) -> str | None:
    return day.isoformat() if day is not None else None


def decided_kind(decision: dict[str, Any]) -> dict[str, Any]:
    catalogue = MEASURES if decision["type"] == "measure" else HANDLINGS
    target = decision.get("target")
    return {
        "kind": label(catalogue, decision["kind"]),
        "form": label(ACCOUNTABILITY_FORMS, decision["form"]) if decision["form"] else None,
        "target": None
        if not target
        else {
            "unit_id": str(target["unit_id"]) if target.get("unit_id") else None,
            "post": target.get("post"),
            "rank": label(RANKS, target["rank"]) if target.get("rank") else None,
        },
    }


def basis_view(case: Case, references: bool = True) -> list[dict[str, Any]]:
    """The basis as the case's readers see it: a report with its reference (sealed in the
    log, null once erased; never published), or null where ``references`` is false."""
    sealed = iter(case.report_references())
    shown = []
    for item in case.basis:
        fields = {k: str(v) if isinstance(v, UUID) else v for k, v in item.items()}
        if item["kind"] == "report":
            reference = next(sealed)
            fields["reference"] = reference if references else None
        shown.append({**fields, "kind": label(BASES, item["kind"])})
    return shown


def case_view(case: Case, references: bool = True) -> dict[str, Any]:
    """The case as ``get_case`` shows it; with ``references`` false, as a command's result
    shows it: without the references of the reports it rests on."""
    return {
        "case_id": str(case.id),
        "cadre_id": str(case.cadre_id),
        "status": label(CASE_STATUSES, case.status),
        "basis": basis_view(case, references),
        "summary": case.summary,
        "proposal": None
        if case.proposal is None
        else {
            "handling": label(HANDLINGS, case.proposal["handling"])
            if case.proposal["handling"]
            else None,
            "rule": case.proposal["rule"],
            "rules_version": case.proposal["rules_version"],
            "source": case.proposal["source"],
        },
        "occurred_on": case.occurred_on.isoformat(),
        "opened_on": case.opened_on.isoformat(),
        "statements": [
            {"statement": s["text"], "made_on": s["made_on"].isoformat()} for s in case.statements
        ],
        "decisions": [
            {
                "decision_id": str(d["decision_id"]),
                "type": d["type"],
                **decided_kind(d),
                "reason": d["reason"],
                "decided_on": d["decided_on"].isoformat(),
                "status": label(DECISION_STATUSES, d["status"]),
                "was": [decided_kind({"type": d["type"], **c}) for c in d["changes"]],
                "appeal": None
                if d["appeal"] is None
                else {
                    "grounds": d["appeal"]["grounds"],
                    "filed_on": d["appeal"]["filed_on"].isoformat(),
                    "outcome": label(APPEAL_OUTCOMES, d["appeal"]["outcome"])
                    if d["appeal"]["outcome"]
                    else None,
                    "reason": d["appeal"].get("reason"),
                    "decided_on": iso(d["appeal"].get("decided_on")),
                },
            }
            for d in case.decisions
        ],
        "exemption": None
        if case.exemption is None
        else {
            "reform_effort_id": str(case.exemption["reform_effort_id"]),
            "outcome": label(EXEMPTIONS, case.exemption["outcome"]),
            "reasons": case.exemption["reasons"],
            "granted_on": case.exemption["granted_on"].isoformat(),
            "decision_id": case.exemption.get("decision_id") and str(case.exemption["decision_id"]),
            "no_personal_gain": case.exemption.get("no_personal_gain"),
            "no_prohibition_broken": case.exemption.get("no_prohibition_broken"),
            "rules_version": case.exemption.get("rules_version", "2026.1"),
            "rules_source": EXEMPTION_RULES[case.exemption.get("rules_version", "2026.1")][
                "source"
            ],
        },
        "publications": [
            {
                "publication_id": str(p["publication_id"]),
                "decision_ids": [str(d) for d in p["decision_ids"]],
                "summary": p["summary"],
                "published_on": p["published_on"].isoformat(),
                "withdrawn_on": iso(p["withdrawn_on"]),
                "withdrawal_reason": p["reason"],
            }
            for p in case.publications
        ],
        "closed_on": iso(case.closed_on),
        "conclusion": case.conclusion,
        "version": case.version,
    }


def effort_view(effort: ReformEffort) -> dict[str, Any]:
    return {
        "reform_effort_id": str(effort.id),
        "unit_id": str(effort.unit_id),
        "title": effort.title,
        "risk_assessment": effort.risk_assessment,
        "risk_level": label(RISK_LEVELS, effort.risk_level),
        "participants": [str(p) for p in effort.participants],
        "registered_on": effort.registered_on.isoformat(),
        "starts_on": effort.starts_on.isoformat(),
        "ends_on": iso(effort.ends_on),
    }


def commendation_view(commendation: Commendation) -> dict[str, Any]:
    return {
        "commendation_id": str(commendation.id),
        "cadre_id": str(commendation.cadre_id),
        "kind": label(COMMENDATIONS, commendation.kind),
        "reason": commendation.reason,
        "commended_on": commendation.commended_on.isoformat(),
        "rule": commendation.rule,
        "rules_version": commendation.rules_version,
        "source": commendation.source,
        "published": commendation.in_view() is not None,
        "publications": [
            {
                "citation": p["citation"],
                "published_on": p["published_on"].isoformat(),
                "withdrawn_on": iso(p["withdrawn_on"]),
                "withdrawal_reason": p["reason"],
            }
            for p in commendation.publications
        ],
    }
