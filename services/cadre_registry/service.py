"""The ``cadre_registry`` nameko service: validate (schemas), call the application, return.

Run it with ``nameko run services.cadre_registry.service --config services/config.yaml``.
Every method takes one dict and returns one; docs/rpc.md lists them with examples.
"""

from __future__ import annotations

from typing import Any

from events.audit.checkpoints import CheckpointSigner
from events.bus.consumer import log_event_handler
from events.bus.relay import RelayExtension
from events.identity.agency import Access, rpc
from events.observability.dependency import Observability
from events.runtime.clock import CityClock, Clock, every, not_after_today
from events.runtime.dependency import ApplicationDependency
from schemas import cadre_registry as contract
from schemas.common import load
from schemas.errors import EXPECTED
from services.cadre_registry.application import CadreRegistry

#: Each command's dates of what happened: none may be after the city's today (a retention's
#: ``keep_until`` is a day to come, and is not one of them).
FACT_DATES: dict[type, tuple[str, ...]] = {
    contract.RegisterUnit: (),
    contract.RegisterCadre: ("birth_date", "effective_date"),
    contract.Appoint: ("effective_date",),
    contract.Transfer: ("effective_date",),
    contract.ChangeToNonLeadership: ("effective_date",),
    contract.SendToOffPostTraining: ("effective_date",),
    contract.Dismiss: ("effective_date",),
    contract.OrderResignation: ("effective_date",),
    contract.DismissFromService: ("effective_date",),
    contract.Demote: ("effective_date",),
    contract.AssignResponsibility: ("effective_date",),
    contract.ErasePersonalData: ("erased_on",),
    contract.SetPersonalDataRetention: (),
}


class CadreRegistryService:
    name = "cadre_registry"
    observability = Observability()
    access = Access()
    registry: CadreRegistry = ApplicationDependency(CadreRegistry)
    relay = RelayExtension()
    checkpoints = CheckpointSigner()
    clock: CityClock = Clock()

    @log_event_handler("accountability", "case_decided")
    def handling_decided(self, event: dict[str, Any]) -> int:
        return self.registry.apply_handlings(event)

    @log_event_handler("accountability", "case_appeal_decided")
    def appeal_decided(self, event: dict[str, Any]) -> int:
        return self.registry.apply_handlings(event)

    @rpc(expected_exceptions=EXPECTED)
    def register_unit(self, command: Any) -> dict[str, Any]:
        return self.registry.register_unit(self._load(contract.RegisterUnit, command))

    @rpc(expected_exceptions=EXPECTED)
    def register_cadre(self, command: Any) -> dict[str, Any]:
        return self.registry.register_cadre(self._load(contract.RegisterCadre, command))

    @rpc(expected_exceptions=EXPECTED)
    def appoint(self, command: Any) -> dict[str, Any]:
        return self.registry.appoint(self._load(contract.Appoint, command))

    @rpc(expected_exceptions=EXPECTED)
    def transfer(self, command: Any) -> dict[str, Any]:
        return self.registry.transfer(self._load(contract.Transfer, command))

    @rpc(expected_exceptions=EXPECTED)
    def change_to_non_leadership(self, command: Any) -> dict[str, Any]:
        return self.registry.change_to_non_leadership(
            self._load(contract.ChangeToNonLeadership, command)
        )

    @rpc(expected_exceptions=EXPECTED)
    def send_to_off_post_training(self, command: Any) -> dict[str, Any]:
        return self.registry.send_to_off_post_training(
            self._load(contract.SendToOffPostTraining, command)
        )

    @rpc(expected_exceptions=EXPECTED)
    def dismiss(self, command: Any) -> dict[str, Any]:
        return self.registry.dismiss(self._load(contract.Dismiss, command))

    @every("REGISTRY_RETENTION_CHECK_SECONDS", 3600, eager=True)
    def apply_retention(self) -> list[str]:
        """The retention timer: personal data kept past its day is erased."""
        return self.registry.apply_retention(self.clock.today())

    @rpc(expected_exceptions=EXPECTED)
    def erase_personal_data(self, command: Any) -> dict[str, Any]:
        return self.registry.erase_personal_data(self._load(contract.ErasePersonalData, command))

    @rpc(expected_exceptions=EXPECTED)
    def set_personal_data_retention(self, command: Any) -> dict[str, Any]:
        payload = self._load(contract.SetPersonalDataRetention, command)
        return self.registry.set_personal_data_retention(payload)

    @rpc(expected_exceptions=EXPECTED)
    def order_resignation(self, command: Any) -> dict[str, Any]:
        return self.registry.order_resignation(self._load(contract.OrderResignation, command))

    @rpc(expected_exceptions=EXPECTED)
    def dismiss_from_service(self, command: Any) -> dict[str, Any]:
        return self.registry.dismiss_from_service(self._load(contract.DismissFromService, command))

    @rpc(expected_exceptions=EXPECTED)
    def demote(self, command: Any) -> dict[str, Any]:
        return self.registry.demote(self._load(contract.Demote, command))

    @rpc(expected_exceptions=EXPECTED)
    def assign_responsibility(self, command: Any) -> dict[str, Any]:
        return self.registry.assign_responsibility(
            self._load(contract.AssignResponsibility, command)
        )

    @rpc(expected_exceptions=EXPECTED)
    def get_unit(self, query: Any) -> dict[str, Any]:
        return self.registry.get_unit(load(contract.GetUnit, query))

    @rpc(expected_exceptions=EXPECTED)
    def get_cadre(self, query: Any) -> dict[str, Any]:
        return self.registry.get_cadre(load(contract.GetCadre, query))

    @rpc(expected_exceptions=EXPECTED)
    def list_cadres(self, query: Any) -> dict[str, Any]:
        return self.registry.list_cadres(load(contract.ListCadres, query))

    @rpc(expected_exceptions=EXPECTED)
    def responsibilities_of(self, query: Any) -> dict[str, Any]:
        return self.registry.responsibilities_of(load(contract.ResponsibilitiesOf, query))

    @rpc(expected_exceptions=EXPECTED)
    def tasks_needing_owner(self, query: Any) -> dict[str, Any]:
        return self.registry.tasks_needing_owner(load(contract.TasksNeedingOwner, query))

    @rpc(expected_exceptions=EXPECTED)
    def owner_of(self, query: Any) -> dict[str, Any]:
        return self.registry.owner_of(load(contract.OwnerOf, query))

    def _load(self, schema: type, command: Any) -> dict[str, Any]:
        """The validated command; one that dates a fact after the city's today is refused
        (``registry.not_after_today``)."""
        payload = load(schema, command)
        not_after_today(self.clock.today(), payload, FACT_DATES[schema], "registry.not_after_today")
        return payload
