"""The evaluations service over real RabbitMQ, beside the cadre registry it asks about
cadres, reading back what it recorded in SecantusDB."""

from __future__ import annotations

import pytest
from nameko.exceptions import RemoteError

from events.audit.verify import verify_log
from services.cadre_registry.service import CadreRegistryService
from services.evaluations.service import EvaluationsService
from tests.services.support import command, invalid_fields, running_services

pytestmark = pytest.mark.nameko
LOG = "evaluations_events"
PHONE = "13900001234"


@pytest.fixture
def cluster(container_factory, rabbit_config, mongodb_uri):
    services = [CadreRegistryService, EvaluationsService]
    with running_services(
        services, container_factory, rabbit_config, mongodb_uri, YOUWEI_TODAY="2026-12-31"
    ) as running:  # the city's today: the 2026 assessment period is open
        yield running


@pytest.fixture
def cadre(cluster) -> str:
    rpc, _ = cluster
    unit = rpc.cadre_registry.register_unit(command(name="市政务服务中心"))["unit_id"]
    return rpc.cadre_registry.register_cadre(
        command(name="刘洋", gender="male", birth_date="1980-04-04", unit_id=unit, post="主任",
                rank="county_division", post_kind="leadership", effective_date="2025-01-01")
    )["cadre_id"]  # fmt: skip


def rate(rpc, cadre, channel, value, rater, period="2026-03") -> dict:
    return rpc.evaluations.submit_rating(
        command(cadre_id=cadre, channel=channel, period=period, value=value, rater_ref=rater)
    )


def test_ratings_through_every_channel_are_summarized_each_rater_once(cluster, cadre) -> None:
    rpc, database = cluster
    assert rate(rpc, cadre, "phone_spot_check", "satisfied", PHONE)["counted"] is True
    assert rate(rpc, cadre, "phone_spot_check", "dissatisfied", PHONE)["counted"] is False
    rate(rpc, cadre, "service_window", "very_satisfied", "ticket-0093")
    rate(rpc, cadre, "questionnaire", 70, "response-17", period="2026-04")
    rate(rpc, cadre, "online_satisfaction", 5, "web-user-88")
    rate(rpc, cadre, "democratic_appraisal", "competent", "ballot-3")

    march = rpc.evaluations.ratings_summary({"cadre_id": cadre, "period": "2026-03"})
    phone = march["channels"]["phone_spot_check"]
    assert (phone["received"], phone["counted"], phone["duplicates"]) == (2, 1, 1)
    assert phone["channel"]["zh"] == "电话抽查"
    assert march["sources"]["official"] == {"counted": 1, "mean_score": 80.0}
    assert march["sources"]["public"]["counted"] == 3
    year = rpc.evaluations.ratings_summary({"cadre_id": cadre, "period": "2026"})
    assert year["channels"]["questionnaire"]["mean_score"] == 70.0

    stored = b"".join(doc["state"] for doc in database[LOG].find())
    assert PHONE.encode() not in stored and b"ticket-0093" not in stored
    assert verify_log(database, LOG).ok


def test_an_annual_assessment_records_its_grade_and_rules_version(cluster, cadre) -> None:
    rpc, database = cluster
    for n in range(6):
        rate(rpc, cadre, "democratic_appraisal", "excellent", f"ballot-{n}", f"2026-{n + 1:02d}")
    for n in range(20):
        rate(rpc, cadre, "service_window", "very_satisfied", f"ticket-{n}", "2026-11")
    with pytest.raises(RemoteError) as error:
        rpc.evaluations.conclude_annual_assessment(command(cadre_id=cadre, year=2025))
    assert error.value.exc_type == "RuleViolation"
    assert error.value.value.startswith("evaluations.minimum_ratings")

    concluded = rpc.evaluations.conclude_annual_assessment(command(cadre_id=cadre, year=2026))
    assert concluded["grade"] == {"code": "excellent", "zh": "优秀", "en": "excellent"}
    assert concluded["rules_version"] == "2026.3" and concluded["final_score"] == 100.0
    assert concluded["concluded_on"] == "2026-12-31"
    assert rpc.evaluations.get_assessment({"cadre_id": cadre, "year": 2026}) == concluded
    with pytest.raises(RemoteError) as error:
        rpc.evaluations.conclude_annual_assessment(command(cadre_id=cadre, year=2026))
    assert error.value.value.startswith("evaluations.assessment_concluded")
    with pytest.raises(RemoteError) as error:
        rpc.evaluations.get_assessment({"cadre_id": cadre, "year": 2027})
    assert error.value.exc_type == "NotFound"
    assert verify_log(database, LOG).ok


def test_bad_ratings_are_refused_naming_the_field(cluster, cadre) -> None:
    rpc, database = cluster
    rate(rpc, cadre, "questionnaire", 50, "response-1")
    before = database[LOG].count_documents({})
    cases = {
        "value": {"channel": "phone_spot_check", "value": 5},
        "channel": {"channel": "carrier_pigeon"},
        "period": {"period": "2026-13"},
        "cadre_id": {"cadre_id": "8a5e0000-0000-4000-8000-000000000000"},
        "rater_ref": {"rater_ref": ""},
    }
    for field, change in cases.items():
        payload = command(cadre_id=cadre, channel="questionnaire", period="2026-03", value=60,
                          rater_ref="r")  # fmt: skip
        with pytest.raises(RemoteError) as error:
            rpc.evaluations.submit_rating({**payload, **change})
        assert field in invalid_fields(error.value), (field, error.value.value)
    assert database[LOG].count_documents({}) == before


def test_a_retried_rating_is_recorded_once(cluster, cadre) -> None:
    rpc, database = cluster
    payload = command(cadre_id=cadre, channel="online_satisfaction", period="2026-05", value=4,
                      rater_ref="web-1")  # fmt: skip
    first = rpc.evaluations.submit_rating(payload)
    stored = database[LOG].count_documents({})
    assert rpc.evaluations.submit_rating(payload) == first
    assert database[LOG].count_documents({}) == stored
    with pytest.raises(RemoteError) as error:
        rpc.evaluations.submit_rating({**payload, "value": 1})
    assert error.value.exc_type == "Conflict"
