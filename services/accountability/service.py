"""The ``accountability`` nameko service: validate (schemas), ask the other services about
what a command names (the cadre, the unit, the findings, letters and assessments a case
rests on), call the application, return. docs/rpc.md lists the methods."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from nameko.exceptions import RemoteError

from events.audit.checkpoints import CheckpointSigner
from events.bus.consumer import log_event_handler
from events.bus.relay import RelayExtension
from events.identity.agency import Access, AgencyRpcProxy, rpc
from events.observability.dependency import Observability
from events.runtime.clock import CityClock, Clock, not_after_today
from events.runtime.dependency import ApplicationDependency
from events.runtime.remote import require
from schemas import accountability as contract
from schemas.common import load
from schemas.errors import EXPECTED
from services.accountability import chain
from services.accountability.application import Accountability

#: How many years back a run of one grade is counted (the consequence rules need three).
MAX_RUN = 10
#: Each command's dates of what happened: none may be after the city's today.
FACT_DATES: dict[type, tuple[str, ...]] = {
    contract.OpenCase: ("occurred_on", "opened_on"),
    contract.RecordStatement: ("made_on",),
    contract.ImposeMeasure: ("decided_on",),
    contract.DecideHandling: ("decided_on",),
    contract.RegisterReformEffort: ("registered_on",),
    contract.GrantExemption: ("granted_on",),
    contract.FileAppeal: ("filed_on",),
    contract.DecideAppeal: ("decided_on",),
    contract.Commend: ("commended_on",),
    contract.PublishCommendation: ("published_on",),
    contract.WithdrawCommendationPublication: ("withdrawn_on",),
    contract.PublishResult: ("published_on",),
    contract.WithdrawPublication: ("withdrawn_on",),
    contract.CloseCase: ("closed_on",),
}


class AccountabilityService:
    name = "accountability"
    observability = Observability()
    access = Access()
    accountability: Accountability = ApplicationDependency(Accountability)
    cadre_registry = AgencyRpcProxy("cadre_registry")
    inspections = AgencyRpcProxy("inspections")
    evaluations = AgencyRpcProxy("evaluations")
    clock: CityClock = Clock()
    relay = RelayExtension()
    checkpoints = CheckpointSigner()

    # --- policies: the other services' events, relayed from their logs -------------------

    @log_event_handler("inspections", "finding_recorded")
    def finding_recorded(self, event: dict[str, Any]) -> int:
        return self.accountability.process(
            event, "case_for_finding", ["finding_recorded"],
            lambda upstream: self.accountability.case_for_finding(upstream, self.clock.today()),
        )  # fmt: skip

    @log_event_handler("inspections", "rectification_letter_became_overdue")
    def letter_overdue(self, event: dict[str, Any]) -> int:
        def decide(upstream: dict[str, Any]):
            query = {"letter_id": upstream["originator_id"]}
            letter = self.inspections.get_rectification_letter(query)
            owner = None
            if letter["task_id"]:
                task = self.cadre_registry.owner_of({"task_id": letter["task_id"]})
                owner = UUID(task["owner"]["cadre_id"])
            return self.accountability.case_for_overdue_letter(upstream, owner, self.clock.today())

        return self.accountability.process(
            event, "case_for_overdue_letter", ["rectification_letter_became_overdue"], decide
        )

    @log_event_handler("inspections", "task_plan_milestone_became_overdue")
    def milestone_overdue(self, event: dict[str, Any]) -> int:
        def decide(upstream: dict[str, Any]):
            owner = self._owner(upstream["data"]["task_id"])
            if owner is None:
                return [], {"ignored": "the task has no serving owner"}
            return chain.case_for_overdue_milestone(upstream, owner, self.clock.today())

        return self.accountability.process(
            event, "case_for_overdue_milestone", ["task_plan_milestone_became_overdue"], decide
        )

    @log_event_handler("inspections", "task_plan_targets_concluded")
    def targets_concluded(self, event: dict[str, Any]) -> int:
        def decide(upstream: dict[str, Any]):
            owner = self._owner(upstream["data"]["task_id"])
            return chain.commendation_for_targets(upstream, owner, self.clock.today())

        return self.accountability.process(
            event, "commendation_for_targets", ["task_plan_targets_concluded"], decide
        )

    def _owner(self, task_id: str) -> UUID | None:
        """The task's serving owner, as the registry says (None: it needs one)."""
        task = self.cadre_registry.owner_of({"task_id": task_id})
        owner = task.get("owner")
        return UUID(owner["cadre_id"]) if owner else None

    @log_event_handler("evaluations", "assessment_concluded")
    def assessment_concluded(self, event: dict[str, Any]) -> int:
        def decide(upstream: dict[str, Any]):
            data = upstream["data"]
            earlier = [self._grade(data["cadre_id"], data["year"] - n) for n in (2, 1)]
            grade, run = data["outcome"]["grade"], 1
            while run < MAX_RUN and self._grade(data["cadre_id"], data["year"] - run) == grade:
                run += 1
            return self.accountability.assessment_consequences(
                upstream, earlier, self.clock.today(), run
            )

        return self.accountability.process(
            event, "assessment_consequences", ["assessment_concluded"], decide
        )

    def _grade(self, cadre_id: str, year: int) -> str | None:
        try:
            assessment = self.evaluations.get_assessment({"cadre_id": cadre_id, "year": year})
        except RemoteError as error:
            if error.exc_type in ("NotFound", "InvalidCommand"):  # none, or a year before 2000
                return None
            raise
        return assessment["grade"]["code"]

    # --- commands and queries -------------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def open_case(self, command: Any) -> dict[str, Any]:
        payload = self._load(contract.OpenCase, command)
        self._require_cadre(payload["cadre_id"], "cadre_id")
        facts = [self._basis_fact(payload["cadre_id"], item) for item in payload["basis"]]
        return self.accountability.open_case(payload, facts)

    @rpc(expected_exceptions=EXPECTED)
    def record_statement(self, command: Any) -> dict[str, Any]:
        return self.accountability.record_statement(self._load(contract.RecordStatement, command))

    @rpc(expected_exceptions=EXPECTED)
    def impose_measure(self, command: Any) -> dict[str, Any]:
        return self.accountability.impose_measure(self._load(contract.ImposeMeasure, command))

    @rpc(expected_exceptions=EXPECTED)
    def decide_handling(self, command: Any) -> dict[str, Any]:
        payload = self._load(contract.DecideHandling, command)
        if "unit_id" in payload:
            query = {"unit_id": str(payload["unit_id"])}
            require(self.cadre_registry.get_unit, query, "unit_id")
        return self.accountability.decide_handling(payload)

    @rpc(expected_exceptions=EXPECTED)
    def register_reform_effort(self, command: Any) -> dict[str, Any]:
        payload = self._load(contract.RegisterReformEffort, command)
        require(self.cadre_registry.get_unit, {"unit_id": str(payload["unit_id"])}, "unit_id")
        for participant in payload["participants"]:
            self._require_cadre(participant, "participants")
        return self.accountability.register_reform_effort(payload)

    @rpc(expected_exceptions=EXPECTED)
    def grant_exemption(self, command: Any) -> dict[str, Any]:
        payload = self._load(contract.GrantExemption, command)
        decision = None
        if payload["decision_id"] is not None:
            query = {"decision_id": str(payload["decision_id"])}
            decision = require(self.inspections.get_major_decision, query, "decision_id")
        return self.accountability.grant_exemption(payload, decision)

    @rpc(expected_exceptions=EXPECTED)
    def file_appeal(self, command: Any) -> dict[str, Any]:
        return self.accountability.file_appeal(self._load(contract.FileAppeal, command))

    @rpc(expected_exceptions=EXPECTED)
    def decide_appeal(self, command: Any) -> dict[str, Any]:
        payload = self._load(contract.DecideAppeal, command)
        if (payload["changed_to"] or {}).get("unit_id"):
            query = {"unit_id": str(payload["changed_to"]["unit_id"])}
            require(self.cadre_registry.get_unit, query, "changed_to")
        return self.accountability.decide_appeal(payload)

    @rpc(expected_exceptions=EXPECTED)
    def commend(self, command: Any) -> dict[str, Any]:
        payload = self._load(contract.Commend, command)
        self._require_cadre(payload["cadre_id"], "cadre_id")
        return self.accountability.commend(payload)

    @rpc(expected_exceptions=EXPECTED)
    def publish_commendation(self, command: Any) -> dict[str, Any]:
        payload = self._load(contract.PublishCommendation, command)
        return self.accountability.publish_commendation(payload)

    @rpc(expected_exceptions=EXPECTED)
    def withdraw_commendation_publication(self, command: Any) -> dict[str, Any]:
        payload = self._load(contract.WithdrawCommendationPublication, command)
        return self.accountability.withdraw_commendation_publication(payload)

    @rpc(expected_exceptions=EXPECTED)
    def publish_result(self, command: Any) -> dict[str, Any]:
        return self.accountability.publish_result(self._load(contract.PublishResult, command))

    @rpc(expected_exceptions=EXPECTED)
    def withdraw_publication(self, command: Any) -> dict[str, Any]:
        payload = self._load(contract.WithdrawPublication, command)
        return self.accountability.withdraw_publication(payload)

    @rpc(expected_exceptions=EXPECTED)
    def close_case(self, command: Any) -> dict[str, Any]:
        return self.accountability.close_case(self._load(contract.CloseCase, command))

    @rpc(expected_exceptions=EXPECTED)
    def get_case(self, query: Any) -> dict[str, Any]:
        return self.accountability.get_case(load(contract.GetCase, query))

    @rpc(expected_exceptions=EXPECTED)
    def get_reform_effort(self, query: Any) -> dict[str, Any]:
        return self.accountability.get_reform_effort(load(contract.GetReformEffort, query))

    @rpc(expected_exceptions=EXPECTED)
    def get_commendation(self, query: Any) -> dict[str, Any]:
        return self.accountability.get_commendation(load(contract.GetCommendation, query))

    @rpc(expected_exceptions=EXPECTED)
    def list_cases(self, query: Any) -> dict[str, Any]:
        return self.accountability.list_cases(load(contract.ListCases, query))

    @rpc(expected_exceptions=EXPECTED)
    def list_commendations(self, query: Any) -> dict[str, Any]:
        return self.accountability.list_commendations(load(contract.ListCommendations, query))

    def _load(self, schema: type, command: Any) -> dict[str, Any]:
        """The validated command; one that dates a fact after the city's today is refused
        (``accountability.not_after_today``)."""
        payload = load(schema, command)
        rule = "accountability.not_after_today"
        not_after_today(self.clock.today(), payload, FACT_DATES[schema], rule)
        return payload

    def _require_cadre(self, cadre_id: Any, field: str) -> None:
        require(self.cadre_registry.get_cadre, {"cadre_id": str(cadre_id)}, field)

    def _basis_fact(self, cadre_id: Any, item: dict[str, Any]) -> dict[str, Any]:
        """What the service that owns a basis item says of it (unknown: the basis field is
        invalid)."""
        if item["kind"] == "finding":
            query = {"finding_id": str(item["finding_id"])}
            return require(self.inspections.get_finding, query, "basis")
        if item["kind"] == "overdue_letter":
            query = {"letter_id": str(item["letter_id"])}
            return require(self.inspections.get_rectification_letter, query, "basis")
        if item["kind"] == "assessment":
            query = {"cadre_id": str(cadre_id), "year": item["year"]}
            return require(self.evaluations.get_assessment, query, "basis")
        return {}
