"""DOMAIN.md, Time: every fact a command records happens on a day no later than the city's
today, in the registry and the evaluations service too (issue 27: a cadre "dismissed" next
month was already dismissed today, and ratings of 2027-01 were taken in 2026). Each command's
refusal is ``<service>.not_after_today`` naming the field, and records nothing."""

from __future__ import annotations

from datetime import date

import pytest

from services.cadre_registry.service import CadreRegistryService
from services.evaluations.service import EvaluationsService
from tests.services.support import FixedClock, command, running_services
from tests.services.whole_city import refused

pytestmark = pytest.mark.nameko

TODAY = date(2026, 5, 10)
TOMORROW = "2026-05-11"


@pytest.fixture
def services(container_factory, rabbit_config, mongodb_uri):
    with running_services(
        [CadreRegistryService, EvaluationsService],
        container_factory,
        rabbit_config,
        mongodb_uri,
        clock=FixedClock(TODAY),
    ) as running:
        yield running


def snapshot(database) -> dict[str, int]:
    return {name: database[name].count_documents({}) for name in database.list_collection_names()}


def test_the_registry_records_nothing_dated_after_today(services) -> None:
    rpc, database = services
    registry = rpc.cadre_registry
    unit = registry.register_unit(command(name="市交通运输局"))["unit_id"]
    person = dict(
        name="周敏",
        gender="female",
        birth_date="1979-03-03",
        unit_id=unit,
        post="副局长",
        rank="county_division",
        post_kind="leadership",
    )
    cadre = registry.register_cadre(command(**person, effective_date="2026-05-10"))["cadre_id"]
    before = snapshot(database)
    rule = "registry.not_after_today"

    message = refused(
        lambda: registry.register_cadre(command(**person, effective_date=TOMORROW)), rule
    )
    assert "effective_date 2026-05-11 is after the city's today (2026-05-10)" in message
    refused(
        lambda: registry.register_cadre(
            command(**{**person, "birth_date": TOMORROW}, effective_date="2026-05-01")
        ),
        rule,
    )
    posting = dict(unit_id=unit, post="局长", rank="county_division", post_kind="leadership")
    refused(
        lambda: registry.appoint(command(cadre_id=cadre, **posting, effective_date=TOMORROW)), rule
    )
    refused(
        lambda: registry.transfer(
            command(cadre_id=cadre, unit_id=unit, post="调研员", effective_date=TOMORROW)
        ),
        rule,
    )
    ending = dict(cadre_id=cadre, effective_date="2026-06-19", reason="工作需要")
    for method in (
        "dismiss",
        "send_to_off_post_training",
        "order_resignation",
        "dismiss_from_service",
        "change_to_non_leadership",
    ):
        extra = {"post": "调研员"} if method == "change_to_non_leadership" else {}
        message = refused(
            lambda m=method, e=extra: getattr(registry, m)(command(**ending, **e)), rule
        )
        assert "effective_date 2026-06-19" in message
    refused(
        lambda: registry.demote(
            command(
                cadre_id=cadre,
                rank="township_section",
                post="科长",
                effective_date=TOMORROW,
                reason="x",
            )
        ),
        rule,
    )
    refused(
        lambda: registry.assign_responsibility(
            command(
                kind="liaison_task", title="联系大营街镇", owner_id=cadre, effective_date=TOMORROW
            )
        ),
        rule,
    )
    refused(
        lambda: registry.erase_personal_data(
            command(cadre_id=cadre, reason="本人申请", erased_on=TOMORROW)
        ),
        rule,
    )
    assert snapshot(database) == before
    assert registry.get_cadre({"cadre_id": cadre})["status"]["code"] == "in_post"

    # a retention's keep_until is a day to come, not a fact
    registry.set_personal_data_retention(
        command(cadre_id=cadre, keep_until="2030-01-01", basis="档案管理规定")
    )
    registry.dismiss(command(**{**ending, "effective_date": "2026-05-10"}))
    assert registry.get_cadre({"cadre_id": cadre})["status"]["code"] == "dismissed"


def test_no_rating_is_of_a_month_after_the_citys(services) -> None:
    rpc, database = services
    unit = rpc.cadre_registry.register_unit(command(name="市政务服务中心"))["unit_id"]
    cadre = rpc.cadre_registry.register_cadre(
        command(
            name="陈静",
            gender="female",
            birth_date="1980-01-01",
            unit_id=unit,
            post="主任",
            rank="county_division",
            post_kind="leadership",
            effective_date="2025-01-01",
        )
    )["cadre_id"]
    rating = dict(cadre_id=cadre, channel="service_window", value="satisfied", rater_ref="A1")
    before = snapshot(database)
    rule = "evaluations.not_after_today"
    message = refused(
        lambda: rpc.evaluations.submit_rating(command(**rating, period="2026-06")), rule
    )
    assert "period 2026-06 is after the city's month (2026-05)" in message
    refused(lambda: rpc.evaluations.submit_rating(command(**rating, period="2027-01")), rule)
    refused(
        lambda: rpc.evaluations.erase_rater(
            command(rater_ref="A1", reason="本人申请", erased_on=TOMORROW)
        ),
        rule,
    )
    assert snapshot(database) == before

    # in bulk, each future rating is refused alone, beside those recorded
    bulk = rpc.evaluations.submit_ratings(
        command(
            ratings=[
                {**rating, "period": "2026-05"},
                {**rating, "rater_ref": "B2", "period": "2027-01"},
            ]
        )
    )
    outcomes = [o["outcome"] for o in bulk["outcomes"]]
    assert outcomes == ["recorded", "refused"]
    assert bulk["outcomes"][1]["reason"].startswith(f"{rule}: period 2027-01")
    this_month = {**rating, "rater_ref": "C3", "period": "2026-05"}
    assert rpc.evaluations.submit_rating(command(**this_month))
