"""Property: no command payload is accepted unless valid, and a refused one leaves no trace.

Payloads go through the service's own entrypoint methods (schema, then application) with a
real application on SecantusDB; only the broker is left out (nameko's ``worker_factory``).
Each example starts from a valid payload and breaks it in one known way; the refusal must be
``InvalidCommand`` naming the broken field, and the log must not have grown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import uuid4

import pytest
from eventsourcing.utils import Environment
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nameko.testing.services import worker_factory

from schemas import cadre_registry as contract
from schemas.cadre_registry.reference import GENDERS, POST_KINDS, RANKS, TASK_KINDS
from schemas.common import load
from schemas.errors import InvalidCommand
from services.cadre_registry.application import CadreRegistry
from services.cadre_registry.service import CadreRegistryService
from tests.events.support import fresh_database_name
from tests.services.contract import Contract, broken
from tests.services.contract import assert_refused_without_trace as refused_without_trace
from tests.services.fuzz import READABLE
from tests.services.support import ACTOR, FixedClock

SCHEMAS = {
    "register_unit": contract.RegisterUnit,
    "register_cadre": contract.RegisterCadre,
    "appoint": contract.Appoint,
    "transfer": contract.Transfer,
    "change_to_non_leadership": contract.ChangeToNonLeadership,
    "send_to_off_post_training": contract.SendToOffPostTraining,
    "dismiss": contract.Dismiss,
    "order_resignation": contract.OrderResignation,
    "demote": contract.Demote,
    "assign_responsibility": contract.AssignResponsibility,
}


@dataclass
class World:
    service: CadreRegistryService
    application: CadreRegistry
    unit: str
    cadre: str
    task: str

    def valid(self: World | None, method: str) -> dict:
        """A valid payload (with ``self`` None, ids are placeholders: only its keys count)."""
        unit, cadre, task = (self.unit, self.cadre, self.task) if self else ("", "", "")
        post = {"post": "副局长", "effective_date": "2026-06-01"}
        reason = {"reason": "依规处理", "effective_date": "2026-06-01"}
        fields = {
            "register_unit": {"name": "市审计局", "parent_id": unit},
            "register_cadre": {
                "name": "周敏", "gender": "female", "birth_date": "1980-02-29",
                "unit_id": unit, "rank": "staff", "post_kind": "non_leadership", **post,
            },
            "appoint": {"cadre_id": cadre, "unit_id": unit, "rank": "county_division",
                        "post_kind": "leadership", **post},
            "transfer": {"cadre_id": cadre, "unit_id": unit, **post},
            "change_to_non_leadership": {"cadre_id": cadre, **post, **reason},
            "send_to_off_post_training": {"cadre_id": cadre, **reason},
            "dismiss": {"cadre_id": cadre, **reason},
            "order_resignation": {"cadre_id": cadre, **reason},
            "demote": {"cadre_id": cadre, "rank": "staff", **post, **reason},
            "assign_responsibility": {"task_id": task, "owner_id": cadre,
                                      "effective_date": "2026-06-01"},
        }[method]  # fmt: skip
        return {"command_id": str(uuid4()), "actor": dict(ACTOR), **fields}


@pytest.fixture(scope="module")
def world(mongodb_uri):
    database = fresh_database_name()
    env = Environment(
        "",
        {"PERSISTENCE_MODULE": "events.mongodb", "MONGODB_URI": mongodb_uri,
         "MONGODB_DATABASE": database},
    )  # fmt: skip
    application = CadreRegistry(env=env)
    # after every day the valid payloads name
    service = worker_factory(
        CadreRegistryService, registry=application, clock=FixedClock(date(2027, 12, 31))
    )
    actor = {"command_id": str(uuid4()), "actor": ACTOR}
    unit = service.register_unit({**actor, "name": "玉溪市"})["unit_id"]
    cadre = service.register_cadre(
        {"command_id": str(uuid4()), "actor": ACTOR, "name": "李明", "gender": "male",
         "birth_date": "1975-05-04", "unit_id": unit, "post": "局长", "rank": "county_division",
         "post_kind": "leadership", "effective_date": "2026-01-01"}
    )["cadre_id"]  # fmt: skip
    task = service.assign_responsibility(
        {"command_id": str(uuid4()), "actor": ACTOR, "kind": "liaison_task", "title": "联系某镇",
         "owner_id": cadre, "effective_date": "2026-01-01"}
    )["task_id"]  # fmt: skip
    yield World(service, application, unit, cadre, task)
    application.factory.datastore.client.drop_database(database)
    application.close()


CONTRACT = Contract(
    names_100={"name", "post"},
    texts={"reason": 2000, "title": 2000},
    codes={"gender": GENDERS, "rank": RANKS, "post_kind": POST_KINDS, "kind": TASK_KINDS},
    optional={"parent_id", "task_id"},
)


def breakages(method: str) -> list[tuple[str, str, object]]:
    return CONTRACT.breakages(list(World.valid(None, method)))


def assert_refused_without_trace(world: World, method: str, payload: object, fields: set) -> None:
    entrypoint = getattr(world.service, method)
    refused_without_trace(entrypoint, world.application.recorder, payload, fields)


@pytest.mark.parametrize("method", sorted(SCHEMAS))
def test_the_contracts_valid_payloads_pass_the_schemas(world, method) -> None:
    load(SCHEMAS[method], world.valid(method))


@pytest.mark.parametrize("method", sorted(SCHEMAS))
def test_every_single_breakage_is_refused_naming_the_field(world, method) -> None:
    cases = breakages(method)
    for field, how, value in cases:
        payload = broken(world.valid(method), field, how, value)
        assert_refused_without_trace(world, method, payload, {field})
    assert len(cases) > 10


@st.composite
def randomly_broken(draw) -> tuple[str, list[tuple[str, str, object]]]:
    """A method and one to four breakages of its payload, drawn at random."""
    method = draw(st.sampled_from(sorted(SCHEMAS)))
    chosen = draw(st.lists(st.sampled_from(breakages(method)), min_size=1, max_size=4))
    return method, chosen


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=randomly_broken())
def test_randomly_broken_commands_are_refused_and_leave_no_trace(world, case) -> None:
    method, chosen = case
    payload = world.valid(method)
    for field, how, value in chosen:
        payload = broken(payload, field, how, value)
    assert_refused_without_trace(world, method, payload, {field for field, _, _ in chosen})


@settings(max_examples=30, deadline=None)
@given(payload=st.one_of(st.none(), st.integers(), st.text(), st.lists(st.integers()),
                         st.dictionaries(st.text(max_size=10), st.text(max_size=10))))  # fmt: skip
def test_arbitrary_payloads_are_refused(world, payload) -> None:
    before = world.application.recorder.max_notification_id()
    for method in SCHEMAS:
        with pytest.raises(InvalidCommand):
            getattr(world.service, method)(payload)
    assert world.application.recorder.max_notification_id() == before


@settings(max_examples=25, deadline=None)
@given(
    name=st.text(READABLE, min_size=1, max_size=100),
    parent=st.booleans(),
)
def test_valid_units_are_accepted_once(world, name, parent) -> None:
    payload = {"command_id": str(uuid4()), "actor": ACTOR, "name": name,
               "parent_id": world.unit if parent else None}  # fmt: skip
    before = world.application.recorder.max_notification_id()
    result = world.service.register_unit(payload)
    after = world.application.recorder.max_notification_id()
    assert after == before + 2  # the unit's event and the command's record
    assert world.service.register_unit(payload) == result
    assert world.application.recorder.max_notification_id() == after
