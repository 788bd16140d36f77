"""The ``evaluations`` nameko service: validate (schemas), check the cadre exists (an RPC to
``cadre_registry``), call the application, return. docs/rpc.md lists the methods."""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import UUID

from nameko.exceptions import RemoteError

from events.audit.checkpoints import CheckpointSigner
from events.bus.consumer import log_event_handler
from events.bus.relay import RelayExtension
from events.identity.agency import Access, AgencyRpcProxy, Gate, rpc
from events.observability.dependency import Observability
from events.runtime.clock import CityClock, Clock, not_after_today
from events.runtime.dependency import ApplicationDependency
from events.runtime.remote import require
from schemas import authorization
from schemas import evaluations as contract
from schemas.common import load
from schemas.errors import EXPECTED, RuleViolation
from services.evaluations.application import Evaluations

TODAY_RULE = "evaluations.not_after_today"


class EvaluationsService:
    name = "evaluations"
    observability = Observability()
    access = Access()
    evaluations: Evaluations = ApplicationDependency(Evaluations)
    cadre_registry = AgencyRpcProxy("cadre_registry")
    inspections = AgencyRpcProxy("inspections")
    relay = RelayExtension()
    checkpoints = CheckpointSigner()
    clock: CityClock = Clock()

    @log_event_handler("accountability", "case_decided")
    def measure_decided(self, event: dict[str, Any]) -> int:
        return self.evaluations.record_measures(event)

    @log_event_handler("accountability", "case_appeal_decided")
    def appeal_decided(self, event: dict[str, Any]) -> int:
        return self.evaluations.record_measures(event)

    @log_event_handler("inspections", "task_plan_targets_concluded")
    def targets_concluded(self, event: dict[str, Any]) -> int:
        return self.evaluations.record_tasks_achieved(event, self._owner_and_due)

    def _owner_and_due(self, task_id: str) -> tuple[UUID | None, dict[str, str]]:
        """The task's serving owner (the registry's) and its targets' due days (the plan's)."""
        owner = self.cadre_registry.owner_of({"task_id": task_id}).get("owner")
        plan = self.inspections.get_task_plan({"task_id": task_id})
        due = {t["target_id"]: t["due_on"] for t in plan["targets"]}
        return (UUID(owner["cadre_id"]) if owner else None), due

    @rpc(expected_exceptions=EXPECTED)
    def erase_rater(self, command: Any) -> dict[str, Any]:
        payload = load(contract.EraseRater, command)
        not_after_today(self.clock.today(), payload, ("erased_on",), TODAY_RULE)
        return self.evaluations.erase_rater(payload)

    @rpc(expected_exceptions=EXPECTED)
    def submit_rating(self, command: Any) -> dict[str, Any]:
        payload = load(contract.SubmitRating, command)
        reason = self._future_period(payload)
        if reason:
            raise RuleViolation(TODAY_RULE, reason)
        self._require_cadre(payload["cadre_id"])
        return self.evaluations.submit_rating(payload)

    @rpc(expected_exceptions=EXPECTED)
    def submit_ratings(self, command: Any) -> dict[str, Any]:
        """Each rating is allowed as a ``submit_rating`` of the caller would be, and is of a
        registered cadre; the others are refused one by one, beside those recorded."""
        payload = load(contract.SubmitRatings, command)
        refused: dict[int, str] = {}
        gate = self.access
        if isinstance(gate, Gate):  # not a unit test's worker (nameko's worker_factory)
            decisions = authorization.decide_items(
                gate.agency, self.name, "submit_ratings", payload,
                mode=gate.access.mode, agencies=gate.access.agencies,
            )  # fmt: skip
            refused = {i: d.reason for i, d in enumerate(decisions) if not d.allowed}
        ratings = payload["ratings"]
        for index, rating in enumerate(ratings):
            reason = self._future_period(rating)
            if index not in refused and reason:
                refused[index] = f"{TODAY_RULE}: {reason}"
        wanted = {r["cadre_id"] for i, r in enumerate(ratings) if i not in refused}
        unknown = self._unknown_cadres(wanted)
        for index, rating in enumerate(ratings):
            if index not in refused and rating["cadre_id"] in unknown:
                refused[index] = f"cadre_id: no cadre with id {rating['cadre_id']}"
        return self.evaluations.submit_ratings(payload, refused)

    @rpc(expected_exceptions=EXPECTED)
    def ratings_summary(self, query: Any) -> dict[str, Any]:
        return self.evaluations.ratings_summary(load(contract.RatingsSummary, query))

    @rpc(expected_exceptions=EXPECTED)
    def conclude_annual_assessment(self, command: Any) -> dict[str, Any]:
        payload = load(contract.ConcludeAnnualAssessment, command)
        self._require_cadre(payload["cadre_id"])
        return self.evaluations.conclude_annual_assessment(payload, self.clock.today())

    @rpc(expected_exceptions=EXPECTED)
    def get_assessment(self, query: Any) -> dict[str, Any]:
        return self.evaluations.get_assessment(load(contract.GetAssessment, query))

    #: Cadres the registry said exist (a cadre is never deleted), so that bulk ratings ask
    #: once per cadre and process, not once per rating.
    known_cadres: ClassVar[dict[UUID, None]] = {}
    KNOWN_CADRES_KEPT = 100_000

    def _unknown_cadres(self, cadre_ids: set[UUID]) -> set[UUID]:
        """Which of ``cadre_ids`` the registry does not know, asking about all at once."""
        get_cadre = self.cadre_registry.get_cadre
        ask = getattr(get_cadre, "call_async", None)  # a service's proxy; else a plain call
        wanted = [c for c in cadre_ids if c not in self.known_cadres]
        replies = {c: ask({"cadre_id": str(c)}) for c in wanted} if ask is not None else {}
        unknown = set()
        for cadre_id in wanted:
            try:
                if ask is not None:
                    replies[cadre_id].result()
                else:
                    get_cadre({"cadre_id": str(cadre_id)})
            except RemoteError as error:
                if error.exc_type != "NotFound":
                    raise
                unknown.add(cadre_id)
            else:
                if len(self.known_cadres) >= self.KNOWN_CADRES_KEPT:
                    self.known_cadres.clear()
                self.known_cadres[cadre_id] = None
        return unknown

    def _future_period(self, rating: dict[str, Any]) -> str | None:
        """Why a rating's month is after the city's (None: it is not): a rating is of a
        month that has begun."""
        month = self.clock.today().strftime("%Y-%m")
        if rating["period"] > month:
            return f"period {rating['period']} is after the city's month ({month})"
        return None

    def _require_cadre(self, cadre_id: UUID) -> None:
        """Ratings and assessments are of registered cadres: the registry says which."""
        require(self.cadre_registry.get_cadre, {"cadre_id": str(cadre_id)}, "cadre_id")
