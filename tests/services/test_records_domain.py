"""A cadre's restrictions from their events, on pure domain code (the
records service): each rule's period, the day it ends, an appeal that lifts or changes
one, the consequences of runs of grades, and the posting registry events leave."""

from __future__ import annotations

from datetime import date

import pytest

from services.records.domain import (
    add_months,
    consequences,
    eligible_for_promotion,
    posting,
    restrictions,
)

pytestmark = pytest.mark.plain  # once, in the plain pass (tests/conftest.py)


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


def appeal(outcome: str, on: str, decision: str, changed_to=None) -> dict:
    return {"type": "case_appeal_decided", "event_id": f"p-{decision}",
            "data": {"decision_id": decision, "outcome": outcome, "decided_on": on,
                     "changed_to": changed_to}}  # fmt: skip


def test_a_changed_appeal_restricts_as_the_new_kind_from_the_original_day() -> None:
    found = restrictions(
        [decided("dismissal", "2026-03-10", "d1"),
         appeal("changed", "2026-04-01", "d1", {"kind": "post_adjustment", "form": None})],
        "2026.1",
    )  # fmt: skip
    on = date(2026, 5, 1)
    assert {r.rule for r in found if r.in_force(on)} == {"post_adjustment"}
    [adjusted] = [r for r in found if r.rule == "post_adjustment"]
    assert (adjusted.starts, adjusted.ends) == (date(2026, 3, 10), date(2027, 3, 10))
    assert adjusted.caused_by == ["p-d1"]
    lifted = [r for r in found if r.rule.startswith("dismissal")]
    assert len(lifted) == 2 and all(r.lifted_on == date(2026, 4, 1) for r in lifted)
    upheld = restrictions([decided("demotion", "2026-03-10", "d2"),
                           appeal("upheld", "2026-04-01", "d2")], "2026.1")  # fmt: skip
    assert [r.rule for r in upheld if r.in_force(on)] == ["demotion"]


def test_runs_of_grades_lead_to_their_consequences_once_per_run() -> None:
    def fired(grades: dict[int, str]) -> list[tuple[str, int]]:
        return [(c.rule, c.year) for c in
                consequences([graded(g, y) for y, g in grades.items()], "2026.1")]  # fmt: skip

    assert fired({2024: "incompetent"}) == [("incompetent_demotion", 2024)]
    assert fired({2024: "incompetent", 2025: "incompetent"}) == [
        ("incompetent_demotion", 2024), ("incompetent_demotion", 2025),
        ("incompetent_twice_dismissal", 2025)]  # fmt: skip
    assert fired({2023: "incompetent", 2025: "incompetent"}) == [
        ("incompetent_demotion", 2023),
        ("incompetent_demotion", 2025),
    ]  # not running
    three = {2022: "excellent", 2023: "excellent", 2024: "excellent"}
    assert fired(three) == [("excellent_three_years_merit", 2024)]
    assert fired({**three, 2025: "excellent", 2026: "excellent"}) == [
        ("excellent_three_years_merit", 2024)
    ]  # the next run of three ends in 2027
    assert fired({**three, 2025: "competent", 2026: "excellent"}) == [
        ("excellent_three_years_merit", 2024)
    ]
    [merit] = consequences([graded("excellent", y) for y in (2022, 2023, 2024)], "2026.1")
    assert merit.caused_by == ["a-2022", "a-2023", "a-2024"]


def registry(kind: str, n: int, **data) -> dict:
    return {"type": f"cadre_{kind}", "event_id": f"r{n}", "data": data}


def test_the_posting_registry_events_leave() -> None:
    events = [
        registry("registered", 1, unit_id="u1", post="局长", rank="county_division",
                 post_kind="leadership", effective_date="2025-01-01"),
        registry("dismissed", 2, effective_date="2026-05-01", reason="免职"),
    ]  # fmt: skip
    held = posting(events)
    assert (held["unit_id"], held["post"], held["status"]) == (None, None, "dismissed")
    assert (held["rank"], held["since"], held["event_id"]) == (
        "county_division",
        "2026-05-01",
        "r2",
    )
    events.append(registry("reinstated", 3, unit_id="u1", post="局长", rank="county_division",
                           post_kind="leadership", status="in_post",
                           effective_date="2026-06-01"))  # fmt: skip
    assert posting(events)["status"] == "in_post" and posting(events)["post"] == "局长"
    events.append(registry("changed_to_non_leadership", 4, post="一级调研员",
                           effective_date="2026-07-01", reason="改非"))  # fmt: skip
    changed = posting(events)
    assert (changed["post_kind"], changed["status"], changed["unit_id"]) == (
        "non_leadership", "in_post", "u1")  # fmt: skip


def test_a_change_on_appeal_restricts_from_the_original_day_when_the_original_did_not() -> None:
    """Issue 15: an accountability measure in the form organizational_handling restricts
    nothing; changed on appeal to an admonishment, it restricts from its own day."""
    found = restrictions(
        [decided("accountability", "2026-06-01", "d1", "measure", "organizational_handling"),
         appeal("changed", "2026-07-01", "d1", {"kind": "admonishment", "form": None})],
        "2026.1",
    )  # fmt: skip
    [admonished] = found
    assert (admonished.starts, admonished.ends) == (date(2026, 6, 1), date(2026, 12, 1))
    assert eligible_for_promotion(found, date(2026, 12, 15)) == (True, [])
    assert not eligible_for_promotion(found, date(2026, 11, 30))[0]


def test_dismissal_from_the_service_leaves_no_post() -> None:
    events = [
        {"type": "cadre_registered", "event_id": "r",
         "data": {"unit_id": "u", "post": "局长", "rank": "county_division",
                  "post_kind": "leadership", "effective_date": "2024-01-01"}},
        {"type": "cadre_dismissed_from_service", "event_id": "x",
         "data": {"effective_date": "2026-12-15", "reason": "连续两年不称职"}},
    ]  # fmt: skip
    held = posting(events)
    assert (held["status"], held["unit_id"], held["post"]) == ("dismissed_from_service", None, None)
    assert (held["since"], held["rank"]) == ("2026-12-15", "county_division")
