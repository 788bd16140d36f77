"""The accountability rules on the aggregates alone: every rule's refusal, and what an
appeal does to a decision."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.errors import InvalidCommand, RuleViolation
from schemas.records.reference import CONSEQUENCE_RULES
from services.accountability.domain import Case, ReformEffort, proposed_consequence
from services.records.domain import consequences

pytestmark = pytest.mark.plain  # once, in the plain pass (tests/conftest.py)

CADRE = uuid4()
FINDING = {"kind": "finding", "finding_id": uuid4()}
D = date(2026, 5, 10)


def case(occurred_on=date(2026, 5, 6)) -> Case:
    return Case.open(CADRE, [FINDING], [{"cadre_id": str(CADRE)}], "窗口无人", occurred_on, D)


def effort(registered_on=date(2026, 1, 5), participants=(CADRE,), ends_on=None) -> ReformEffort:
    return ReformEffort.register(
        unit_id=uuid4(), title="审批制度改革", risk_assessment="风险可控", risk_level="medium",
        participants=list(participants), registered_on=registered_on, starts_on=registered_on,
        ends_on=ends_on,
    )  # fmt: skip


def followed(e: ReformEffort, decided_on=date(2026, 1, 4)) -> dict:
    """A major decision that started ``e``, with its procedure followed (as the
    application passes what the inspections service answered)."""
    return {"decision_id": uuid4(), "decided_on": decided_on,
            "reform_effort_ids": [str(e.id)], "missing_steps": []}  # fmt: skip


STATED = {
    "no_personal_gain": {"holds": True, "basis": "审计未发现谋取私利"},
    "no_prohibition_broken": {"holds": True, "basis": "未违反明令禁止的规定"},
}


def grant(c: Case, e: ReformEffort, outcome: str, reasons: str, on: date) -> None:
    """Tolerance for reform with every condition of the current rules met but the effort's."""
    c.grant_exemption(e, outcome, reasons, on, followed(e), STATED)


def refused(rule: str, action) -> None:
    with pytest.raises(RuleViolation) as error:
        action()
    assert error.value.rule == rule, str(error.value)


def test_a_case_rests_on_a_basis_about_its_cadre() -> None:
    other = {"cadre_id": str(uuid4())}
    refused("accountability.basis_about_cadre",
            lambda: Case.open(CADRE, [FINDING], [other], "x", D, D))  # fmt: skip
    unit_finding = Case.open(CADRE, [FINDING], [{"cadre_id": None}], "x", D, D)
    assert unit_finding.basis == [FINDING]
    letter = {"kind": "overdue_letter", "letter_id": uuid4()}
    refused("accountability.basis_letter_overdue",
            lambda: Case.open(CADRE, [letter], [{"overdue": False}], "x", D, D))  # fmt: skip
    assert Case.open(CADRE, [letter], [{"overdue": True}], "x", D, D).status == "open"
    early = date(2026, 5, 1)
    refused("accountability.date_in_order",
            lambda: Case.open(CADRE, [FINDING], [{"cadre_id": None}], "x", D, early))  # fmt: skip


def test_nothing_is_decided_on_a_closed_case() -> None:
    c = case()
    c.close("查无实据", date(2026, 5, 20))
    refused(
        "accountability.case_closed", lambda: c.impose_measure("talk", None, "x", date(2026, 6, 1))
    )
    refused(
        "accountability.case_closed",
        lambda: c.decide_handling("transfer", {}, "x", date(2026, 6, 1)),
    )
    refused("accountability.case_closed", lambda: c.record_statement("x", date(2026, 6, 1)))
    refused("accountability.case_closed", lambda: c.close("again", date(2026, 6, 1)))
    refused("accountability.case_closed",
            lambda: grant(c, effort(), "exempted", "x", date(2026, 6, 1)))  # fmt: skip


def test_decisions_are_not_dated_before_the_case() -> None:
    refused("accountability.date_in_order",
            lambda: case().impose_measure("talk", None, "x", date(2026, 5, 9)))  # fmt: skip


def test_nothing_is_published_before_a_measure_is_decided() -> None:
    c = case()
    refused("accountability.publish_after_decision", lambda: c.publish_result("公告", D))
    c.record_statement("本人说明情况", D)
    refused("accountability.publish_after_decision", lambda: c.publish_result("公告", D))
    decision = c.impose_measure("admonishment", None, "窗口无人", D)
    c.publish_result("对某某诫勉谈话", date(2026, 5, 12))
    refused("accountability.published_once", lambda: c.publish_result("again", date(2026, 5, 13)))
    c.withdraw_publication("申诉撤销", date(2026, 6, 1))
    refused("accountability.publication_in_view",
            lambda: c.withdraw_publication("again", date(2026, 6, 2)))  # fmt: skip
    c.file_appeal(decision, "事出有因", date(2026, 5, 15))
    c.decide_appeal(decision, "revoked", "理由成立", date(2026, 5, 30), None)
    refused(
        "accountability.publish_after_decision", lambda: c.publish_result("x", date(2026, 6, 3))
    )


def test_an_exempted_case_takes_no_sanction() -> None:
    c = case()
    grant(c, effort(), "exempted", "改革探索中的失误", D)
    assert c.exemption["outcome"] == "exempted"
    refused("accountability.exempted_takes_no_sanction",
            lambda: c.impose_measure("talk", None, "x", D))  # fmt: skip
    refused("accountability.exempted_takes_no_sanction",
            lambda: c.decide_handling("transfer", {}, "x", D))  # fmt: skip
    refused("accountability.one_exemption",
            lambda: grant(c, effort(), "mitigated", "x", D))  # fmt: skip

    sanctioned = case()
    sanctioned.impose_measure("talk", None, "x", D)
    refused("accountability.exempted_takes_no_sanction",
            lambda: grant(sanctioned, effort(), "exempted", "x", D))  # fmt: skip
    grant(sanctioned, effort(), "mitigated", "从轻", D)
    sanctioned.impose_measure("written_inquiry", None, "mitigated: still decided", D)


def test_tolerance_needs_a_reform_effort_registered_in_advance_that_covers_the_cadre() -> None:
    late = effort(date(2026, 5, 7))
    refused("accountability.reform_registered_in_advance",
            lambda: grant(case(), late, "exempted", "x", D))  # fmt: skip
    others = effort(participants=[uuid4()])
    refused("accountability.exemption_within_reform",
            lambda: grant(case(), others, "exempted", "x", D))  # fmt: skip
    ended = effort(ends_on=date(2026, 3, 31))
    refused("accountability.exemption_within_reform",
            lambda: grant(case(), ended, "exempted", "x", D))  # fmt: skip
    with pytest.raises(RuleViolation) as error:
        ReformEffort.register(
            unit_id=uuid4(), title="t", risk_assessment="r", risk_level="low",
            participants=[CADRE], registered_on=D, starts_on=date(2026, 5, 1), ends_on=None,
        )  # fmt: skip
    assert error.value.rule == "accountability.reform_registered_in_advance"


def test_one_appeal_per_decision_and_what_the_outcome_does() -> None:
    c = case()
    talk = c.impose_measure("talk", None, "x", D)
    handling = c.decide_handling("post_adjustment", {"post": "科员"}, "x", D)
    refused("accountability.appeal_pending",
            lambda: c.decide_appeal(talk, "upheld", "x", D, None))  # fmt: skip
    c.file_appeal(talk, "不服", date(2026, 5, 11))
    refused("accountability.one_appeal_per_decision",
            lambda: c.file_appeal(talk, "again", date(2026, 5, 12)))  # fmt: skip
    refused("accountability.appeal_pending", lambda: c.close("x", date(2026, 5, 12)))
    refused("accountability.date_in_order",
            lambda: c.decide_appeal(talk, "upheld", "x", date(2026, 5, 10), None))  # fmt: skip
    c.decide_appeal(talk, "upheld", "维持", date(2026, 5, 20), None)
    refused("accountability.appeal_pending",
            lambda: c.decide_appeal(talk, "revoked", "x", date(2026, 5, 21), None))  # fmt: skip

    c.file_appeal(handling, "处理过重", date(2026, 5, 21))
    refused("accountability.change_within_type",
            lambda: c.decide_appeal(handling, "changed", "x", date(2026, 5, 22),
                                    {"kind": "talk", "form": None}))  # fmt: skip
    refused("accountability.change_within_type",
            lambda: c.decide_appeal(handling, "changed", "x", date(2026, 5, 22),
                                    {"kind": "post_adjustment", "form": None}))  # fmt: skip
    unit = uuid4()
    c.decide_appeal(handling, "changed", "改为转任", date(2026, 5, 22),
                    {"kind": "transfer", "form": None, "unit_id": unit,
                     "post": "调研员"})  # fmt: skip
    changed = c.decision(handling)
    assert (changed["kind"], changed["status"]) == ("transfer", "changed")
    # what it was, and the post the new handling names, for the registry to apply
    assert changed["changes"] == [{"kind": "post_adjustment", "form": None,
                                   "target": {"post": "科员"}}]  # fmt: skip
    assert changed["target"] == {"unit_id": unit, "post": "调研员", "rank": None}
    with pytest.raises(InvalidCommand):
        c.file_appeal(uuid4(), "no such decision", date(2026, 5, 22))
    c.close("办结", date(2026, 5, 30))
    assert c.status == "closed"


@given(st.lists(st.sampled_from(["incompetent", "excellent", "competent"]), min_size=1,
                max_size=8))  # fmt: skip
def test_the_case_an_assessment_opens_cites_the_rule_the_personnel_file_shows(grades) -> None:
    """For any run of grades, the last year's proposal is the longest-running consequence
    the records service finds for that year (issue 15: the file and the case agree)."""
    rules = CONSEQUENCE_RULES["2026.1"]
    years = {2020 + n: grade for n, grade in enumerate(grades)}
    last = max(years)
    run = 1
    while years.get(last - run) == years[last]:
        run += 1
    assessed = [{"event_id": f"a-{y}", "data": {"year": y, "outcome": {"grade": g}}}
                for y, g in years.items()]  # fmt: skip
    fired = [c for c in consequences(assessed, "2026.1") if c.year == last]
    longest = max(fired, key=lambda c: rules[c.rule]["years_running"], default=None)
    assert proposed_consequence(years[last], run, rules) == (longest.rule if longest else None)


def test_two_incompetent_years_propose_dismissal_from_the_service() -> None:
    rules = CONSEQUENCE_RULES["2026.1"]
    assert proposed_consequence("incompetent", 1, rules) == "incompetent_demotion"
    assert proposed_consequence("incompetent", 2, rules) == "incompetent_twice_dismissal"
    assert proposed_consequence("incompetent", 3, rules) == "incompetent_demotion"  # afresh
    assert proposed_consequence("competent", 2, rules) is None
