"""Effects are pushed, not polled: the records service's projections are woken by the
events of the logs they read (the relays' messages), so with their poll a minute away a
command is still applied at once."""

from __future__ import annotations

import pytest

from schemas.events import LOGS
from services.cadre_registry.service import CadreRegistryService
from services.records.service import RecordsService
from tests.services.support import command, running_services
from tests.services.test_inspections_rpc import wait_for

pytestmark = pytest.mark.nameko


def applied(database, projection: str, source: str) -> int:
    """How far the live generation of ``projection`` has applied ``source``'s log."""
    pointer = database["projections"].find_one({"_id": projection})
    if pointer is None:
        return 0
    tracked = database[f"{projection}_g{pointer['generation']}_tracking"].find_one(
        {"_id": LOGS[source]}
    )
    return tracked["notification_id"] if tracked else 0


def head(database, source: str) -> int:
    return database["log_heads"].find_one({"_id": LOGS[source]})["position"]


def test_a_projection_applies_a_command_without_waiting_for_its_poll(
    container_factory, rabbit_config, mongodb_uri, web_port
):
    with running_services(
        [CadreRegistryService, RecordsService], container_factory, rabbit_config, mongodb_uri,
        PROJECTIONS_POLL_SECONDS=60, WEB_SERVER_ADDRESS=f"127.0.0.1:{web_port}",
    ) as (rpc, database):  # fmt: skip
        for name in ("第一单位", "第二单位"):  # the second after the first was applied
            rpc.cadre_registry.register_unit(command(name=name))
            position = head(database, "cadre_registry")
            for projection in ("personnel", "public"):
                caught_up = lambda p=projection, at=position: (  # noqa: E731
                    applied(database, p, "cadre_registry") >= at
                )
                wait_for(caught_up, seconds=30)
