"""The ``evaluations`` nameko service: validate (schemas), check the cadre exists (an RPC to
``cadre_registry``), call the application, return. docs/rpc.md lists the methods."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from events.checkpoints import CheckpointSigner
from events.clock import CityClock, Clock
from events.consumer import log_event_handler
from events.dependency import ApplicationDependency
from events.identity import Access, AgencyRpcProxy, rpc
from events.observability import Observability
from events.relay import RelayExtension
from events.remote import require
from schemas import evaluations as contract
from schemas.common import load
from schemas.errors import EXPECTED
from services.evaluations.application import Evaluations


class EvaluationsService:
    name = "evaluations"
    observability = Observability()
    access = Access()
    evaluations: Evaluations = ApplicationDependency(Evaluations)
    cadre_registry = AgencyRpcProxy("cadre_registry")
    relay = RelayExtension()
    checkpoints = CheckpointSigner()
    clock: CityClock = Clock()

    @log_event_handler("accountability", "case_decided")
    def measure_decided(self, event: dict[str, Any]) -> int:
        return self.evaluations.record_measures(event)

    @log_event_handler("accountability", "case_appeal_decided")
    def appeal_decided(self, event: dict[str, Any]) -> int:
        return self.evaluations.record_measures(event)

    @rpc(expected_exceptions=EXPECTED)
    def erase_rater(self, command: Any) -> dict[str, Any]:
        return self.evaluations.erase_rater(load(contract.EraseRater, command))

    @rpc(expected_exceptions=EXPECTED)
    def submit_rating(self, command: Any) -> dict[str, Any]:
        payload = load(contract.SubmitRating, command)
        self._require_cadre(payload["cadre_id"])
        return self.evaluations.submit_rating(payload)

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

    def _require_cadre(self, cadre_id: UUID) -> None:
        """Ratings and assessments are of registered cadres: the registry says which."""
        require(self.cadre_registry.get_cadre, {"cadre_id": str(cadre_id)}, "cadre_id")
