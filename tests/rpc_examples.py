"""docs/rpc.md's services for its examples: each service's real entrypoints (nameko's
``worker_factory``) and application on one fresh SecantusDB database, no broker; the
namespace the examples run in (``n.rpc.<service>``, ``c(...)`` for a command, ``actor``)."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from types import SimpleNamespace

from nameko.testing.services import worker_factory

from events.log.datastore import MongoDBDatastore
from events.readmodels.projections import Projector
from events.runtime.clock import CityClock
from services.accountability.application import Accountability
from services.accountability.service import AccountabilityService
from services.cadre_registry.application import CadreRegistry
from services.cadre_registry.service import CadreRegistryService
from services.evaluations.application import Evaluations
from services.evaluations.service import EvaluationsService
from services.inspections.application import Inspections
from services.inspections.service import InspectionsService
from services.records.projections import PROJECTIONS
from services.records.service import RecordsService
from tests.events.support import fresh_database_name
from tests.services.support import RATER_KEY

RPC_DOC = Path(__file__).resolve().parents[1] / "docs" / "rpc.md"


def examples() -> list[str]:
    """The ``python`` blocks of docs/rpc.md, in order (one per service)."""
    return re.findall(r"```python\n(.*?)```", RPC_DOC.read_text(), flags=re.DOTALL)


def run_example(example: str, namespace: dict) -> None:
    exec(compile(example, str(RPC_DOC), "exec"), namespace)


@contextlib.contextmanager
def documented_services(mongodb_uri: str) -> Iterator[tuple[str, SimpleNamespace, dict]]:
    """The database's name, the services' workers, and the examples' namespace."""
    database = fresh_database_name()
    env = {"PERSISTENCE_MODULE": "events.mongodb", "MONGODB_URI": mongodb_uri,
           "MONGODB_DATABASE": database, "EVALUATIONS_RATER_KEY": RATER_KEY}  # fmt: skip
    applications = [CadreRegistry(env=env), Evaluations(env=env), Inspections(env=env),
                    Accountability(env=env)]  # fmt: skip
    # the city's today: after every day the examples name, the 2026 assessment period open
    clock = CityClock("Asia/Shanghai", date(2026, 12, 31))
    registry = worker_factory(CadreRegistryService, registry=applications[0], clock=clock)
    evaluations = worker_factory(
        EvaluationsService, evaluations=applications[1], cadre_registry=registry, clock=clock
    )
    inspections = worker_factory(
        InspectionsService, inspections=applications[2], cadre_registry=registry, clock=clock
    )
    accountability = worker_factory(
        AccountabilityService, accountability=applications[3], cadre_registry=registry,
        inspections=inspections, evaluations=evaluations, clock=clock,
    )  # fmt: skip
    datastore = MongoDBDatastore(mongodb_uri, database)
    projectors = {p.name: Projector(datastore, p) for p in (cls() for cls in PROJECTIONS)}
    records = worker_factory(RecordsService, projections=projectors, clock=clock)
    actor = {"agency": "组织部", "person": "张三"}
    rpc = SimpleNamespace(cadre_registry=registry, evaluations=evaluations,
                          inspections=inspections, accountability=accountability,
                          records=records)  # fmt: skip
    namespace = {
        "uuid": uuid,
        "actor": actor,
        "n": SimpleNamespace(rpc=rpc),
        "c": lambda **fields: {"command_id": str(uuid.uuid4()), "actor": actor, **fields},
    }
    try:
        yield database, rpc, namespace
    finally:
        for application in applications:
            application.close()
        datastore.client.drop_database(database)
        datastore.close()
