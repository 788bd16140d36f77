"""docs/rpc.md's examples run as written, against the services' real entrypoints and
applications on SecantusDB (``n.rpc.<service>`` is the service's worker; no broker)."""

from __future__ import annotations

import re
import uuid
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
from tests.events.support import fresh_database_name, new_factory
from tests.services.support import RATER_KEY

RPC_DOC = Path(__file__).resolve().parents[1] / "docs" / "rpc.md"


def test_the_rpc_examples_run_as_documented(mongodb_uri) -> None:
    database = fresh_database_name()
    env = {
        "PERSISTENCE_MODULE": "events.mongodb",
        "MONGODB_URI": mongodb_uri,
        "MONGODB_DATABASE": database,
        "EVALUATIONS_RATER_KEY": RATER_KEY,
    }
    applications = [CadreRegistry(env=env), Evaluations(env=env), Inspections(env=env),
                    Accountability(env=env)]  # fmt: skip
    # the city's today: after every day the examples name, the 2026 assessment period open
    today = CityClock("Asia/Shanghai", date(2026, 12, 31))
    registry = worker_factory(CadreRegistryService, registry=applications[0])
    evaluations = worker_factory(
        EvaluationsService, evaluations=applications[1], cadre_registry=registry, clock=today
    )
    inspections = worker_factory(
        InspectionsService, inspections=applications[2], cadre_registry=registry, clock=today
    )
    accountability = worker_factory(
        AccountabilityService, accountability=applications[3], cadre_registry=registry,
        inspections=inspections, evaluations=evaluations, clock=today,
    )  # fmt: skip
    datastore = MongoDBDatastore(mongodb_uri, database)
    projectors = {p.name: Projector(datastore, p) for p in (PersonnelFiles(), PublicRecords())}
    records = worker_factory(
        RecordsService, projections=projectors, clock=CityClock("Asia/Shanghai")
    )
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
    examples = re.findall(r"```python\n(.*?)```", RPC_DOC.read_text(), flags=re.DOTALL)
    try:
        (registry_example, evaluations_example, inspections_example, accountability_example,
         records_example) = examples  # fmt: skip
        exec(compile(registry_example, str(RPC_DOC), "exec"), namespace)
        last = registry.get_cadre({"cadre_id": namespace["cadre"]})["history"][-1]
        assert last["change"]["code"] == "dismissed"  # as the example's comment says
        exec(compile(evaluations_example, str(RPC_DOC), "exec"), namespace)
        assessment = evaluations.get_assessment({"cadre_id": namespace["liaison"], "year": 2026})
        assert assessment["grade"]["zh"] == "称职" and assessment["rules_version"] == "2026.3"
        exec(compile(inspections_example, str(RPC_DOC), "exec"), namespace)
        letter = inspections.get_rectification_letter({"letter_id": namespace["letter"]})
        assert letter["status"]["code"] == "accepted"
        found = inspections.list_findings({"unit_id": namespace["bureau"], "category": "muddling"})
        assert found["total"] == 1  # as the example's comment says
        exec(compile(accountability_example, str(RPC_DOC), "exec"), namespace)
        case = accountability.get_case({"case_id": namespace["case"]})
        assert case["decisions"][0]["status"]["code"] == "revoked"
        assert case["publications"][0]["withdrawn_on"] == "2026-06-01"
        closed = accountability.list_cases({"cadre_id": namespace["liaison"], "status": "closed"})
        assert closed["total"] == 1
        listed = accountability.list_commendations({"cadre_id": namespace["liaison"]})
        assert listed["total"] == 1 and listed["commendations"][0]["published"]
        exec(compile(records_example, str(RPC_DOC), "exec"), namespace)
        during = records.personnel_file({"cadre_id": namespace["liaison"], "as_of": "2026-05-25"})
        restriction = during["restrictions"][0]
        assert (restriction["rule"], restriction["ends"]) == ("admonishment", "2026-11-20")
        assert not during["eligible_for_promotion"]["eligible"]
        after = records.eligible_for_promotion(
            {"cadre_id": namespace["liaison"], "on": "2026-06-02"}
        )
        assert after["eligible"]
        assert records.public_records({"q": "陈刚"})["total"] == 0
        [honour] = records.honour_roll({"q": "陈刚"})["honours"]
        assert honour["kind"]["zh"] == "嘉奖" and "扎根窗口服务" in honour["citation"]
    finally:
        datastore.close()
        for application in applications:
            application.close()
        factory = new_factory(database)
        factory.datastore.client.drop_database(database)
        factory.close()
