"""All five services over real RabbitMQ and SecantusDB, on the city's 2026-12-15: the set-up of
the tests whose rules span services (test_domain_rules, test_answers_and_honours). Import the
fixtures ``clock`` and ``cluster`` by name."""

from __future__ import annotations

from datetime import date

import pytest
from nameko.exceptions import RemoteError

from services.accountability.service import AccountabilityService
from services.cadre_registry.service import CadreRegistryService
from services.evaluations.service import EvaluationsService
from services.inspections.service import InspectionsService
from services.records.service import RecordsService
from tests.services.support import FixedClock, running_services

SERVICES = [CadreRegistryService, EvaluationsService, InspectionsService,
            AccountabilityService, RecordsService]  # fmt: skip


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(date(2026, 12, 15))


@pytest.fixture
def cluster(container_factory, rabbit_config, mongodb_uri, web_port, clock):
    with running_services(
        SERVICES, container_factory, rabbit_config, mongodb_uri, clock=clock,
        EVENT_RETRY_DELAYS=[0.2, 0.5], PROJECTIONS_POLL_SECONDS=0.2,
        WEB_SERVER_ADDRESS=f"127.0.0.1:{web_port}", INSPECTIONS_DEADLINE_CHECK_SECONDS=3600,
    ) as running:  # fmt: skip
        yield running


def refused(call, rule: str) -> str:
    """The text of the ``RuleViolation`` that ``call`` raises, which must cite ``rule``."""
    with pytest.raises(RemoteError) as raised:
        call()
    assert raised.value.exc_type == "RuleViolation", raised.value
    assert raised.value.value.startswith(f"{rule}:"), raised.value.value
    return raised.value.value
