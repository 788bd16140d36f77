"""Fault tolerance follows the decision (容错免责, DOMAIN.md "The implementation chain", issue
27 item 6): under exemption rules 2026.2 a mistake in a registered reform effort is exempted
only when the major decision behind it started the effort and followed its recorded
procedure, and the discipline commission states no personal gain and no explicit
prohibition broken (三个区分开来); each condition not met is refused by its own rule. An
exemption keeps the rules version it was granted under. The aggregates alone, dated."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest
from eventsourcing.persistence import Mapper, StoredEvent

from events.log.transcoding import transcoder
from schemas.accountability.reference import CURRENT_EXEMPTION_RULES, EXEMPTION_RULES
from schemas.errors import RuleViolation
from services.accountability.application import case_view
from services.accountability.domain import Case, ReformEffort

pytestmark = pytest.mark.plain

CADRE = uuid4()
MISTAKE = date(2026, 5, 6)  # what the case is about
GRANTED = date(2026, 5, 20)
STATED = {
    "no_personal_gain": {"holds": True, "basis": "经查银行流水，未发现谋取私利"},
    "no_prohibition_broken": {"holds": True, "basis": "未违反法律法规和明令禁止的规定"},
}


def case() -> Case:
    report = [{"kind": "report", "reference": "举报"}]
    return Case.open(CADRE, report, [{}], "审批改革中出现失误", MISTAKE, date(2026, 5, 10))


def effort() -> ReformEffort:
    return ReformEffort.register(
        unit_id=uuid4(), title="“最多跑一次”审批改革", risk_assessment="风险可控",
        risk_level="medium", participants=[CADRE], registered_on=date(2026, 1, 5),
        starts_on=date(2026, 1, 5), ends_on=None,
    )  # fmt: skip


def decision(started: ReformEffort, decided_on=date(2026, 1, 4), missing=()) -> dict:
    return {"decision_id": uuid4(), "decided_on": decided_on,
            "reform_effort_ids": [str(started.id)], "missing_steps": list(missing)}  # fmt: skip


def refusal(c: Case, e: ReformEffort, made: dict | None, statements: dict) -> RuleViolation:
    with pytest.raises(RuleViolation) as error:
        c.grant_exemption(e, "exempted", "改革探索中的失误", GRANTED, made, statements)
    assert c.exemption is None and c.version == 1  # nothing recorded
    return error.value


def test_the_current_rules_are_the_three_distinctions_and_cite_their_source() -> None:
    assert CURRENT_EXEMPTION_RULES == "2026.2"
    rules = EXEMPTION_RULES["2026.2"]
    assert set(EXEMPTION_RULES["2026.1"]["conditions"]) < set(rules["conditions"])
    assert "三个区分开来" in rules["source"]


def test_an_exemption_needs_the_decision_behind_the_mistake_to_have_started_the_effort():
    e = effort()
    assert (
        refusal(case(), e, None, STATED).rule == "accountability.exemption_decision_started_effort"
    )
    other = decision(effort())
    error = refusal(case(), e, other, STATED)
    assert error.rule == "accountability.exemption_decision_started_effort"
    assert str(e.id) in str(error)


def test_the_decision_was_taken_no_later_than_the_mistake() -> None:
    e = effort()
    late = decision(e, decided_on=date(2026, 5, 7))
    assert (
        refusal(case(), e, late, STATED).rule == "accountability.exemption_decision_before_mistake"
    )
    same_day = case()
    same_day.grant_exemption(e, "exempted", "x", GRANTED, decision(e, MISTAKE), STATED)
    assert same_day.exemption["outcome"] == "exempted"


def test_the_decision_followed_its_recorded_procedure_and_the_refusal_names_what_is_missing():
    e = effort()
    skipped = decision(e, missing=["risk_assessment", "legality_review"])
    error = refusal(case(), e, skipped, STATED)
    assert error.rule == "accountability.exemption_procedure_followed"
    assert "risk_assessment, legality_review" in str(error)


@pytest.mark.parametrize("field", ["no_personal_gain", "no_prohibition_broken"])
def test_the_commission_states_each_distinction_with_its_basis(field) -> None:
    e = effort()
    rule = f"accountability.exemption_{field}"
    unstated = {**STATED, field: None}
    assert refusal(case(), e, decision(e), unstated).rule == rule
    found = {**STATED, field: {"holds": False, "basis": "查实收受管理服务对象礼金"}}
    error = refusal(case(), e, decision(e), found)
    assert error.rule == rule and field in str(error)


def test_the_conditions_are_checked_in_the_order_the_rules_list_them() -> None:
    """A command missing everything is refused for the first condition of the rules: the
    reform effort's, then the decision's, then the commission's statements."""
    outsider = ReformEffort.register(
        unit_id=uuid4(), title="t", risk_assessment="r", risk_level="low",
        participants=[uuid4()], registered_on=date(2026, 1, 5), starts_on=date(2026, 1, 5),
        ends_on=None,
    )  # fmt: skip
    assert refusal(case(), outsider, None, {}).rule == "accountability.exemption_within_reform"
    e = effort()
    skipped = decision(e, missing=["legality_review"])
    assert refusal(case(), e, skipped, {}).rule == "accountability.exemption_procedure_followed"
    assert refusal(case(), e, decision(e), {}).rule == "accountability.exemption_no_personal_gain"


def test_an_exemption_granted_records_its_decision_statements_and_rules_version() -> None:
    e, c = effort(), case()
    made = decision(e)
    c.grant_exemption(e, "mitigated", "从轻", GRANTED, made, STATED)
    assert c.exemption["decision_id"] == made["decision_id"]
    assert c.exemption["no_personal_gain"] == STATED["no_personal_gain"]
    assert c.exemption["rules_version"] == "2026.2"
    shown = case_view(c)["exemption"]
    assert shown["rules_version"] == "2026.2" and shown["decision_id"] == str(made["decision_id"])
    assert "三个区分开来" in shown["rules_source"]


def test_an_exemption_granted_before_keeps_the_rules_it_was_granted_under() -> None:
    """An exemption stored before rules 2026.2 (its stored event has none of the new
    fields) replays unchanged through the log's own mapper, shown under rules 2026.1; a
    new one under those rules needs only the reform effort, as it did."""
    e, c = effort(), case()
    c.grant_exemption(e, "exempted", "改革探索中的失误", GRANTED, decision(e), STATED)
    mapper = Mapper(transcoder())
    stored = [mapper.to_stored_event(event) for event in c.collect_events()]
    state = mapper.transcoder.decode(stored[-1].state)
    for new in ("decision_id", "no_personal_gain", "no_prohibition_broken", "rules_version"):
        del state[new]
    stored[-1] = StoredEvent(stored[-1].originator_id, stored[-1].originator_version,
                             stored[-1].topic, mapper.transcoder.encode(state))  # fmt: skip
    replayed = None
    for event in (mapper.to_domain_event(s) for s in stored):
        replayed = event.mutate(replayed)
    assert replayed.exemption["rules_version"] == "2026.1"
    assert replayed.exemption["decision_id"] is None
    shown = case_view(replayed)["exemption"]
    assert shown["rules_version"] == "2026.1" and shown["no_personal_gain"] is None
    assert (shown["outcome"]["code"], shown["granted_on"]) == ("exempted", "2026-05-20")
    older = case()
    older.grant_exemption(e, "exempted", "x", GRANTED, None, {}, rules_version="2026.1")
    assert older.exemption["rules_version"] == "2026.1"
