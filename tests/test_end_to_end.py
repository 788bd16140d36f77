"""The deployment's end-to-end scenario (tests/scenario.py) against the local stack: the
five services in nameko containers (in the test's process) on a RabbitMQ
vhost of the module's own and the session's SecantusDB; the public page over HTTP. The
same scenario runs against docker-compose.yml in tests/compose where Docker runs."""

from __future__ import annotations

from datetime import date

import pytest

from services.accountability.service import AccountabilityService
from services.cadre_registry.service import CadreRegistryService
from services.evaluations.service import EvaluationsService
from services.inspections.service import InspectionsService
from services.records.service import RecordsService
from tests.scenario import end_to_end
from tests.services.support import FixedClock, running_services

pytestmark = pytest.mark.nameko
SERVICES = [
    CadreRegistryService,
    EvaluationsService,
    InspectionsService,
    AccountabilityService,
    RecordsService,
]


def test_a_finding_becomes_a_case_whose_published_decision_is_on_the_public_page(
    container_factory, rabbit_config, mongodb_uri, web_port
) -> None:
    today = date(2026, 6, 1)
    with running_services(
        SERVICES,
        container_factory,
        rabbit_config,
        mongodb_uri,
        clock=FixedClock(today),
        PROJECTIONS_POLL_SECONDS=0.2,
        WEB_SERVER_ADDRESS=f"127.0.0.1:{web_port}",
    ) as (rpc, _):
        record = end_to_end(rpc, f"http://127.0.0.1:{web_port}/", today)
    assert record["decision_type"]["code"] == "measure"
    assert record["unit"].startswith("市政务服务中心")
