"""A cadre's restrictions from their events, on pure domain code (groundwork for the
records service): each rule's period, the day it ends, and an appeal that lifts one."""

from __future__ import annotations

from datetime import date

from services.records.domain import add_months, eligible_for_promotion, restrictions


def decided(kind: str, on: str, decision: str, decision_type: str = "handling", form=None):
    return {"type": "case_decided", "event_id": f"e-{decision}",
            "data": {"decision_type": decision_type, "kind": kind, "form": form,
                     "decided_on": on, "decision_id": decision}}  # fmt: skip


def graded(grade: str, year: int) -> dict:
    return {"type": "assessment_concluded", "event_id": f"a-{year}",
            "data": {"year": year, "outcome": {"grade": grade}}}  # fmt: skip


def test_months_are_added_to_the_same_day_or_the_months_last() -> None:
    assert add_months(date(2026, 3, 10), 6) == date(2026, 9, 10)
    assert add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)
    assert add_months(date(2027, 11, 30), 3) == date(2028, 2, 29)


def test_an_admonishment_bars_promotion_for_six_months() -> None:
    found = restrictions([decided("admonishment", "2026-03-10", "d1", "measure")], "2026.1")
    assert [(r.rule, r.ends) for r in found] == [("admonishment", date(2026, 9, 10))]
    eligible, reasons = eligible_for_promotion(found, date(2026, 9, 9))
    assert not eligible and "admonishment (rules 2026.1" in reasons[0]
    assert eligible_for_promotion(found, date(2026, 9, 10)) == (True, [])
    via_form = restrictions(
        [decided("accountability", "2026-03-10", "d2", "measure", "admonishment")], "2026.1"
    )
    assert [r.rule for r in via_form] == ["admonishment"]
    assert restrictions([decided("talk", "2026-03-10", "d3", "measure")], "2026.1") == []


def test_dismissal_bars_a_leading_post_for_a_year_and_a_higher_one_for_two() -> None:
    found = restrictions([decided("dismissal", "2026-01-15", "d1")], "2026.1")
    by_rule = {r.rule: r for r in found}
    assert by_rule["dismissal_no_leading_post"].ends == date(2027, 1, 15)
    assert by_rule["dismissal_not_above_former_level"].ends == date(2028, 1, 15)
    assert not eligible_for_promotion(found, date(2027, 6, 1))[0]
    assert eligible_for_promotion(found, date(2028, 1, 15))[0]


def test_demotion_post_adjustment_and_a_basically_competent_year() -> None:
    demoted = restrictions([decided("demotion", "2026-02-01", "d1")], "2026.1")
    assert demoted[0].ends == date(2028, 2, 1)
    adjusted = restrictions([decided("post_adjustment", "2026-02-01", "d2")], "2026.1")
    assert adjusted[0].ends == date(2027, 2, 1)
    basic = restrictions([graded("basically_competent", 2026)], "2026.1")
    assert (basic[0].starts, basic[0].ends) == (date(2027, 1, 1), date(2028, 1, 1))
    assert eligible_for_promotion(basic, date(2026, 12, 31))[0]
    assert not eligible_for_promotion(basic, date(2027, 12, 31))[0]
    assert restrictions([graded("competent", 2026)], "2026.1") == []


def test_a_revoked_appeal_lifts_its_restriction_from_the_day_of_the_appeal() -> None:
    events = [
        decided("admonishment", "2026-03-10", "d1", "measure"),
        {"type": "case_appeal_decided", "event_id": "e-appeal",
         "data": {"decision_id": "d1", "outcome": "revoked", "decided_on": "2026-04-01"}},
    ]  # fmt: skip
    [lifted] = restrictions(events, "2026.1")
    assert lifted.lifted_on == date(2026, 4, 1) and lifted.lifted_by == ["e-appeal"]
    assert not eligible_for_promotion([lifted], date(2026, 3, 31))[0], "in force before"
    assert eligible_for_promotion([lifted], date(2026, 4, 1))[0]
