"""A small city recorded in one go (one afternoon): docs/rpc.md's examples run against the
services' real entrypoints and applications on SecantusDB, as tests/test_docs.py does.
Among them the liaison 陈刚: admonished on 2026-05-20, the admonishment revoked on appeal on
2026-06-01."""

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
from services.records.projections import PersonnelFiles, PublicRecords
from services.records.service import RecordsService
from tests.events.support import fresh_database_name
from tests.services.support import RATER_KEY

RPC_DOC = Path(__file__).resolve().parents[2] / "docs" / "rpc.md"


@contextlib.contextmanager
def rpc_world(mongodb_uri: str) -> Iterator[tuple[str, dict]]:
    """The database's name and the examples' names (``liaison``, ``case``, ...)."""
    database = fresh_database_name()
    env = {"PERSISTENCE_MODULE": "events.mongodb", "MONGODB_URI": mongodb_uri,
           "MONGODB_DATABASE": database, "EVALUATIONS_RATER_KEY": RATER_KEY}  # fmt: skip
    applications = [CadreRegistry(env=env), Evaluations(env=env), Inspections(env=env),
                    Accountability(env=env)]  # fmt: skip
    # the city's today: after every day the examples name, the 2026 assessment period open
    clock = CityClock("Asia/Shanghai", date(2026, 12, 31))
    registry = worker_factory(CadreRegistryService, registry=applications[0])
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
    projectors = {p.name: Projector(datastore, p) for p in (PersonnelFiles(), PublicRecords())}
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
        for example in re.findall(r"```python\n(.*?)```", RPC_DOC.read_text(), flags=re.DOTALL):
            exec(compile(example, str(RPC_DOC), "exec"), namespace)
        yield database, namespace
    finally:
        for application in applications:
            application.close()
        datastore.client.drop_database(database)
        datastore.close()
