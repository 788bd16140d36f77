"""Scales, counting each rater once, and the annual assessment rules, on pure domain code."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest

from schemas.errors import RuleViolation
from schemas.evaluations.reference import ASSESSMENT_RULES, score
from services.evaluations.domain import (
    CadreRatings,
    CadreSanctions,
    assess,
    check_assessment_day,
    summarize,
)

pytestmark = pytest.mark.plain  # once, in the plain pass (tests/conftest.py)

RULES = ASSESSMENT_RULES["2026.1"]


@pytest.mark.parametrize(
    ("channel", "value", "expected"),
    [
        ("democratic_appraisal", "excellent", 100.0),
        ("democratic_appraisal", "basically_competent", 60.0),
        ("phone_spot_check", "dissatisfied", 0.0),
        ("service_window", "satisfied", 80.0),
        ("questionnaire", 73, 73.0),
        ("online_satisfaction", 1, 0.0),
        ("online_satisfaction", 4, 75.0),
    ],
)
def test_each_channel_scale_normalizes_to_0_100(channel, value, expected) -> None:
    assert score(channel, value) == expected


def test_a_rater_counts_once_per_channel_and_period() -> None:
    ratings = CadreRatings(uuid4(), "2026-03")
    assert ratings.rate("phone_spot_check", "satisfied", "rater-a") is True
    assert ratings.rate("phone_spot_check", "dissatisfied", "rater-a") is False
    assert ratings.rate("service_window", "satisfied", "rater-a") is True
    summary = summarize(ratings.ratings)
    assert summary["channels"]["phone_spot_check"] == {
        "received": 2, "counted": 1, "duplicates": 1, "mean_score": 100.0,
    }  # fmt: skip
    assert summary["sources"]["public"] == {"counted": 2, "mean_score": 90.0}


def ratings(official: list[str], public: list[int]) -> list[dict]:
    aggregate = CadreRatings(uuid4(), "2026-06")
    for n, value in enumerate(official):
        aggregate.rate("democratic_appraisal", value, f"official-{n}")
    for n, value in enumerate(public):
        aggregate.rate("questionnaire", value, f"public-{n}")
    return aggregate.ratings


@pytest.mark.parametrize(
    ("official", "public", "grade"),
    [
        (["excellent"] * 10, [95] * 20, "excellent"),  # 100 / 95 -> 97.5
        (["competent"] * 10, [80] * 20, "competent"),  # 80 / 80 -> 80
        (["basically_competent"] * 10, [65] * 20, "basically_competent"),  # 62.5
        (["basically_competent"] * 10, [40] * 20, "incompetent"),  # 50
    ],
)
def test_grades_follow_the_weighted_score_and_thresholds(official, public, grade) -> None:
    outcome = assess(ratings(official, public), RULES, "2026.1")
    assert outcome["grade"] == grade
    assert outcome["rules_version"] == "2026.1" and outcome["vetoes"] == []


def test_incompetent_votes_veto_the_grade() -> None:
    one_in_ten = ["excellent"] * 9 + ["incompetent"]
    outcome = assess(ratings(one_in_ten, [100] * 20), RULES, "2026.1")
    assert (outcome["grade"], outcome["vetoes"]) == ("competent", ["incompetent_votes_tenth"])
    a_third = ["excellent"] * 6 + ["incompetent"] * 3
    outcome = assess(ratings(a_third, [100] * 20), RULES, "2026.1")
    assert (outcome["grade"], outcome["vetoes"]) == ("incompetent", ["incompetent_votes_third"])


def test_too_few_ratings_refuse_an_assessment() -> None:
    with pytest.raises(RuleViolation) as error:
        assess(ratings(["excellent"] * 4, [100] * 20), RULES, "2026.1")
    assert error.value.rule == "evaluations.minimum_ratings"
    with pytest.raises(RuleViolation):
        assess(ratings(["excellent"] * 5, [100] * 19), RULES, "2026.1")


def test_a_measure_in_force_that_year_caps_the_grade_from_rules_2026_2() -> None:
    excellent = ratings(["excellent"] * 5, [100] * 20)
    current = ASSESSMENT_RULES["2026.2"]
    assert assess(excellent, current, "2026.2")["grade"] == "excellent"
    capped = assess(excellent, current, "2026.2", ["admonishment"])
    assert (capped["grade"], capped["vetoes"]) == ("competent", ["sanctioned_in_year"])
    assert assess(excellent, current, "2026.2", ["talk"])["grade"] == "excellent"
    assert assess(excellent, RULES, "2026.1", ["admonishment"])["grade"] == "excellent"


def test_sanctions_count_in_their_year_until_revoked() -> None:
    sanctions = CadreSanctions(uuid4())
    sanctions.record("d1", "admonishment", 2026)
    sanctions.record("d1", "admonishment", 2026)  # a repeat changes nothing
    sanctions.record("d2", "talk", 2025)
    assert sanctions.in_year(2026) == ["admonishment"]
    assert sanctions.change("d2", "accountability") and sanctions.in_year(2025) == [
        "accountability"
    ]
    assert sanctions.revoke("d1") and sanctions.in_year(2026) == []
    assert not sanctions.revoke("d1") and not sanctions.revoke("unknown")


def test_a_year_is_assessed_within_its_period_and_never_after_today() -> None:
    today = date(2026, 12, 15)
    check_assessment_day(2026, date(2026, 12, 1), today, "2026.3")
    check_assessment_day(2025, date(2026, 1, 20), today, "2026.3")
    for year, day, version, rule in [
        (2026, date(2026, 11, 30), "2026.3", "evaluations.assessment_period"),
        (2026, date(2026, 11, 30), "2026.1", "evaluations.assessment_period"),  # no period
        (2026, date(2026, 12, 16), "2026.3", "evaluations.not_after_today"),
        (2027, date(2026, 12, 15), "2026.3", "evaluations.assessment_period"),
    ]:
        with pytest.raises(RuleViolation) as error:
            check_assessment_day(year, day, today, version)
        assert error.value.rule == rule
    assert ASSESSMENT_RULES["2026.3"]["assessment_opens"] == "12-01"
