"""Property: no evaluations payload is accepted unless valid, and a refused one leaves no
trace. Through the service's entrypoints with a real application on SecantusDB; the cadre
registry it asks is a stand-in that knows one cadre (nameko's ``worker_factory``)."""

from __future__ import annotations

from datetime import date
from unittest.mock import Mock
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nameko.exceptions import RemoteError
from nameko.testing.services import worker_factory

from schemas import evaluations as contract
from schemas.common import load
from schemas.evaluations.reference import ASSESSMENT_RULES, CHANNELS
from services.evaluations.application import Evaluations
from services.evaluations.service import EvaluationsService
from tests.events.support import fresh_database_name
from tests.services.contract import Contract, assert_refused_without_trace, broken
from tests.services.fuzz import READABLE
from tests.services.support import ACTOR, RATER_KEY, FixedClock

SCHEMAS = {
    "submit_rating": contract.SubmitRating,
    "conclude_annual_assessment": contract.ConcludeAnnualAssessment,
}
CONTRACT = Contract(
    texts={"rater_ref": 200},
    codes={"channel": CHANNELS, "rules_version": ASSESSMENT_RULES},
    optional={"rules_version"},
    more_broken={
        "period": ["2026-13", "2026", "26-01", 202601, "2026-00", "", "2026-03\n", "２０２６-03"],
        "value": ["satisfied", 101, -1, 50.5, True, "50", None],  # on the questionnaire scale
        "year": [1999, 2101, "2026", 2026.5, True, None],
        "rules_version": ["1999.1", 7],
    },
)
KNOWN_CADRE = str(uuid4())


def valid(method: str) -> dict:
    fields = {
        "submit_rating": {"cadre_id": KNOWN_CADRE, "channel": "questionnaire",
                          "period": "2026-03", "value": 80, "rater_ref": "response-1"},
        "conclude_annual_assessment": {"cadre_id": KNOWN_CADRE, "year": 2026,
                                       "rules_version": "2026.1"},
    }[method]  # fmt: skip
    return {"command_id": str(uuid4()), "actor": dict(ACTOR), **fields}


def registry_stand_in() -> Mock:
    def get_cadre(query: dict) -> dict:
        if query["cadre_id"] != KNOWN_CADRE:
            raise RemoteError("NotFound", f"no cadre with id {query['cadre_id']}")
        return {"cadre_id": KNOWN_CADRE}

    return Mock(get_cadre=Mock(side_effect=get_cadre))


@pytest.fixture(scope="module")
def service(mongodb_uri):
    database = fresh_database_name()
    application = Evaluations(
        env={"PERSISTENCE_MODULE": "events.mongodb", "MONGODB_URI": mongodb_uri,
             "MONGODB_DATABASE": database, "EVALUATIONS_RATER_KEY": RATER_KEY}
    )  # fmt: skip
    yield worker_factory(
        EvaluationsService, evaluations=application, cadre_registry=registry_stand_in(),
        clock=FixedClock(date(2026, 12, 31)),  # the 2026 assessment period is open
    )  # fmt: skip
    application.factory.datastore.client.drop_database(database)
    application.close()


@pytest.mark.parametrize("method", sorted(SCHEMAS))
def test_the_contracts_valid_payloads_pass_the_schemas(method) -> None:
    load(SCHEMAS[method], valid(method))


@pytest.mark.parametrize("method", sorted(SCHEMAS))
def test_every_single_breakage_is_refused_naming_the_field(service, method) -> None:
    recorder = service.evaluations.recorder
    cases = CONTRACT.breakages(list(valid(method)))
    for field, how, value in cases:
        payload = broken(valid(method), field, how, value)
        assert_refused_without_trace(getattr(service, method), recorder, payload, {field})
    assert len(cases) > 20


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    method=st.sampled_from(sorted(SCHEMAS)),
    picks=st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=4),
)
def test_randomly_broken_ratings_are_refused_and_leave_no_trace(service, method, picks) -> None:
    cases = CONTRACT.breakages(list(valid(method)))
    chosen = [cases[pick % len(cases)] for pick in picks]
    payload = valid(method)
    for field, how, value in chosen:
        payload = broken(payload, field, how, value)
    fields = {field for field, _, _ in chosen}
    assert_refused_without_trace(
        getattr(service, method), service.evaluations.recorder, payload, fields
    )


@settings(max_examples=20, deadline=None)
@given(
    value=st.integers(min_value=0, max_value=100), rater=st.text(READABLE, min_size=1, max_size=200)
)
def test_valid_ratings_are_accepted_once_and_counted_once_per_rater(service, value, rater) -> None:
    payload = {**valid("submit_rating"), "value": value, "rater_ref": rater}
    recorder = service.evaluations.recorder
    first = service.submit_rating(payload)
    after = recorder.max_notification_id()
    assert service.submit_rating(payload) == first
    assert recorder.max_notification_id() == after
    again = service.submit_rating({**payload, "command_id": str(uuid4())})
    assert again["counted"] is False, "the same rater in the same period counts once"
