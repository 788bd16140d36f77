"""The inspections rules on the aggregates alone: every rule's refusal, and the deadline
timer with exact dates."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest

from schemas.errors import RuleViolation
from schemas.inspections.reference import CATEGORIES, SITUATIONS
from services.inspections.domain import Finding, Inspection, RectificationLetter

pytestmark = pytest.mark.plain  # once, in the plain pass (tests/conftest.py)

D = date(2026, 5, 10)
COMMISSION = {"name": "纪委同志", "role": "commission"}
REPORTER = {"name": "记者", "role": "media"}


def finding(unit=None, situation="absent_from_post", found_on=D) -> Finding:
    return Finding(uuid4(), unit or uuid4(), None, situation, "dozing", "上班时间不在岗",
                   [{"reference": "film-17", "sha256": "ab" * 32}], True, found_on)  # fmt: skip


def issued_letter(deadline=date(2026, 6, 30)) -> RectificationLetter:
    unit = uuid4()
    return RectificationLetter.issue(unit, [finding(unit)], "限期整改", D, deadline)


def test_the_catalogue_has_sixteen_situations_in_four_categories() -> None:
    per_category = {c: [s for s, v in SITUATIONS.items() if v[2] == c] for c in CATEGORIES}
    assert {c: len(s) for c, s in per_category.items()} == {
        "mediocrity": 4, "laziness": 3, "laxity": 3, "muddling": 6,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("team", "allowed"),
    [
        ([COMMISSION, REPORTER], True),
        ([COMMISSION, {"name": "代表", "role": "npc_deputy"}], True),
        ([COMMISSION], False),
        ([REPORTER, {"name": "委员", "role": "cppcc_member"}], False),
    ],
)
def test_an_undercover_visit_has_a_mixed_team(team, allowed) -> None:
    if allowed:
        assert Inspection.open("undercover_visit", "窗口暗访", D, team).team == team
    else:
        with pytest.raises(RuleViolation) as error:
            Inspection.open("undercover_visit", "窗口暗访", D, team)
        assert error.value.rule == "inspections.mixed_team"
    Inspection.open("supervision_check", "督查", D, [COMMISSION])  # other kinds: any team


def test_a_finding_takes_its_category_from_its_situation() -> None:
    assert finding(situation="passes_the_buck").category == "laxity"
    assert finding(situation="no_drive").category == "mediocrity"


def test_a_finding_is_exposed_once_per_kind_and_not_before_it_was_found() -> None:
    f = finding()
    f.expose("internal_circular", D)
    f.expose("media", date(2026, 6, 1))
    with pytest.raises(RuleViolation) as error:
        f.expose("media", date(2026, 6, 2))
    assert error.value.rule == "inspections.exposed_once"
    with pytest.raises(RuleViolation) as error:
        f.expose("undercover_film", date(2026, 1, 1))
    assert error.value.rule == "inspections.date_in_order"
    assert [e["kind"] for e in f.exposures] == ["internal_circular", "media"]


def test_a_finding_is_not_dated_before_its_inspection() -> None:
    visit = Inspection.open("undercover_visit", "窗口暗访", D, [COMMISSION, REPORTER])
    details = {"unit_id": uuid4(), "cadre_id": None, "situation": "procrastination",
               "cadre_type": None, "description": "拖拉", "evidence": [],
               "typical": False}  # fmt: skip
    assert Finding.record(visit, **details, found_on=D).inspection_id == visit.id
    with pytest.raises(RuleViolation) as error:
        Finding.record(visit, **details, found_on=date(2026, 5, 9))
    assert error.value.rule == "inspections.date_in_order"


def test_a_letter_is_about_its_units_findings() -> None:
    unit = uuid4()
    issued = RectificationLetter.issue(
        unit, [finding(unit), finding(unit)], "整改", D, date(2026, 6, 1)
    )
    assert len(issued.finding_ids) == 2
    with pytest.raises(RuleViolation) as error:
        RectificationLetter.issue(unit, [finding(unit), finding()], "整改", D, date(2026, 6, 1))
    assert error.value.rule == "inspections.letter_findings_of_unit"


def test_a_letter_is_issued_after_its_findings_with_a_later_deadline() -> None:
    unit = uuid4()
    with pytest.raises(RuleViolation) as error:
        RectificationLetter.issue(unit, [finding(unit)], "整改", D, D)
    assert error.value.rule == "inspections.deadline_after_issue"
    later = finding(unit, found_on=date(2026, 5, 20))
    with pytest.raises(RuleViolation) as error:
        RectificationLetter.issue(unit, [later], "整改", D, date(2026, 6, 1))
    assert error.value.rule == "inspections.date_in_order"


def test_report_review_and_the_deadline_timer() -> None:
    letter = issued_letter()
    with pytest.raises(RuleViolation) as error:
        letter.review(True, "ok", date(2026, 6, 1))
    assert error.value.rule == "inspections.review_after_report"
    with pytest.raises(RuleViolation) as error:
        letter.report("backdated", date(2026, 5, 9))
    assert error.value.rule == "inspections.date_in_order"
    letter.report("已整改", date(2026, 6, 1))
    with pytest.raises(RuleViolation) as error:
        letter.report("again", date(2026, 6, 2))
    assert error.value.rule == "inspections.report_awaited"
    with pytest.raises(RuleViolation) as error:
        letter.review(True, "before the report", date(2026, 5, 31))
    assert error.value.rule == "inspections.date_in_order"
    letter.review(False, "整改不到位", date(2026, 6, 5))
    assert letter.status == "awaiting_report"

    assert letter.mark_overdue(date(2026, 6, 30)) is False, "on the deadline it is not late yet"
    assert letter.mark_overdue(date(2026, 7, 1)) is True
    assert letter.mark_overdue(date(2026, 7, 2)) is False, "overdue is recorded once"
    assert letter.overdue and letter.overdue_on == date(2026, 7, 1)

    letter.report("再次整改", date(2026, 7, 3))
    letter.review(True, "验收通过", date(2026, 7, 5))
    assert letter.status == "accepted" and letter.overdue, "accepted late stays overdue on record"


def test_an_accepted_letter_never_becomes_overdue() -> None:
    letter = issued_letter()
    letter.report("已整改", date(2026, 6, 1))
    letter.review(True, "验收通过", date(2026, 6, 2))
    assert letter.mark_overdue(date(2026, 8, 1)) is False and not letter.overdue
