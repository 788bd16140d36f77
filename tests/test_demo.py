"""``youwei demo``: the scripted year, pure, checked against the published contracts (the
loader against the services is in test_demo_loader.py)."""

from __future__ import annotations

import importlib
import uuid
from collections import Counter
from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest

from schemas.accountability.reference import ACCOUNTABILITY_FORMS, HANDLINGS, MEASURES
from schemas.common import load
from schemas.evaluations.reference import ASSESSMENT_RULES, CHANNELS, CURRENT_RULES, score
from schemas.inspections.chain import PROCEDURE_STEPS
from schemas.inspections.reference import CATEGORIES, INSPECTION_KINDS, SITUATIONS, category_of
from services.evaluations.domain import assess
from youwei import demo

pytestmark = pytest.mark.plain  # once, in the plain pass (tests/conftest.py)


@pytest.fixture(scope="module")
def year() -> demo.Plan:
    return demo.plan_year(seed=2026, scale=1.0)


SMALL = 0.03  # the loader test's scale (test_demo_loader.py): every kind of event, fewest steps


@pytest.fixture(scope="module")
def small() -> demo.Plan:
    return demo.plan_year(seed=11, scale=SMALL)


def schema(step: demo.Step):
    module = importlib.import_module(f"schemas.{step.service}")
    return getattr(module, "".join(word.capitalize() for word in step.method.split("_")))


def filled(value: Any) -> Any:
    """A payload as the loader sends it, with stand-in ids and the planned days."""
    if isinstance(value, demo.Ref):
        return str(uuid.uuid5(uuid.NAMESPACE_URL, value.key))
    if isinstance(value, demo.CaseDay):
        return value.day.isoformat()
    return demo.resolve(value, {}, {}) if not isinstance(value, dict | list) else (
        {k: filled(v) for k, v in value.items()} if isinstance(value, dict)
        else [filled(v) for v in value]
    )  # fmt: skip


def test_the_city_at_full_scale(year: demo.Plan) -> None:
    ranks = Counter(p["rank"] for p in year.commands("register_cadre"))
    assert ranks["city_level"] == 46
    assert ranks["county_division"] >= 620
    tasks = year.commands("assign_responsibility")
    key_work = {p["owner_id"].key for p in tasks if p.get("kind") == "key_work_share"}
    liaison = {p["owner_id"].key for p in tasks if p.get("kind") == "liaison_task"}
    cadres = {s.key: s.payload for s in year.steps if s.method == "register_cadre"}
    assert key_work == {k for k, p in cadres.items() if p["rank"] == "city_level"}
    assert {k for k, p in cadres.items() if p["rank"] == "county_division"} <= liaison
    names = [p["name"] for p in cadres.values()]
    assert len(set(names)) == len(names)
    assert all("\u4e00" <= name[0] <= "\u9fff" for name in names)  # Chinese names
    units = [p["name"] for p in year.commands("register_unit")]
    assert "中共云岭市委员会" in units and "云岭市人民政府" in units
    assert any(name.endswith("局") for name in units) and any(n.endswith("县") for n in units)
    posts = {p["post"] for p in cadres.values()}
    assert {"市委书记", "党组书记、局长", "副局长"} <= posts
    assert any(post.endswith("科长") for post in posts)


def test_every_kind_of_event_the_issue_lists(year: demo.Plan) -> None:
    counts = year.counts()
    for method in (
        "cadre_registry.register_unit", "cadre_registry.register_cadre",
        "cadre_registry.assign_responsibility", "cadre_registry.transfer",
        "cadre_registry.appoint", "inspections.open_inspection", "inspections.record_finding",
        "inspections.expose_finding", "inspections.issue_rectification_letter",
        "inspections.report_rectification", "inspections.review_rectification",
        "evaluations.submit_rating", "evaluations.conclude_annual_assessment",
        "accountability.open_case", "accountability.find_case",
        "accountability.record_statement", "accountability.impose_measure",
        "accountability.decide_handling", "accountability.register_reform_effort",
        "accountability.grant_exemption", "accountability.file_appeal",
        "accountability.decide_appeal", "accountability.commend",
        "accountability.publish_result", "accountability.withdraw_publication",
        "accountability.close_case",
    ):  # fmt: skip
        assert counts[method] > 0, method
    kinds = Counter(p["kind"] for p in year.commands("open_inspection"))
    assert set(kinds) == set(INSPECTION_KINDS)
    for visit in (p for p in year.commands("open_inspection") if p["kind"] == "undercover_visit"):
        roles = {member["role"] for member in visit["team"]}
        assert "commission" in roles and len(roles) > 1  # a mixed team
    situations = {p["situation"] for p in year.commands("record_finding")}
    assert situations == set(SITUATIONS)
    assert {category_of(s) for s in situations} == set(CATEGORIES)
    assert {p["channel"] for p in year.commands("submit_rating")} == set(CHANNELS)
    measures = {(p["measure"], p.get("form")) for p in year.commands("impose_measure")}
    assert {m for m, _ in measures} == set(MEASURES)
    assert {f for m, f in measures if m == "accountability"} == set(ACCOUNTABILITY_FORMS)
    assert {p["handling"] for p in year.commands("decide_handling")} == set(HANDLINGS)
    assert {p["outcome"] for p in year.commands("decide_appeal")} == {
        "upheld", "changed", "revoked"}  # fmt: skip
    assert {p["outcome"] for p in year.commands("grant_exemption")} == {"exempted", "mitigated"}
    assert {p["kind"] for p in year.commands("commend")} == {
        "commendation", "promotion_recommendation"}  # fmt: skip
    assert {p["exposure"] for p in year.commands("expose_finding")} == {
        "internal_circular", "undercover_film", "media"}  # fmt: skip
    reviews = {p["accepted"] for p in year.commands("review_rectification")}
    assert reviews == {True, False}
    grades = Counter(g for _, y, g in year.facts["grades"] if y == demo.YEAR)
    assert set(grades) == {"excellent", "competent", "basically_competent", "incompetent"}
    assert grades["competent"] > grades["excellent"] > 0
    assert year.letters_overdue_on(date(2026, 12, 31)) > 0
    # the cases the accountability service opens itself are found, never opened again
    opened_for = [b["finding_id"].key for p in year.commands("open_case") for b in p["basis"]
                  if b["kind"] == "finding"]  # fmt: skip
    about_cadres = {s.key for s in year.steps
                    if s.method == "record_finding" and "cadre_id" in s.payload}  # fmt: skip
    assert not set(opened_for) & about_cadres
    found = [s.payload["finding_id"].key for s in year.steps if s.find and "finding_id" in
             s.payload]  # fmt: skip
    assert sorted(found) == sorted(about_cadres)


@pytest.mark.parametrize("scale", [1.0, SMALL, 0.01, 2.5])
def test_every_command_keeps_the_contract(scale: float, year, small) -> None:
    """Each payload is valid for its method's schema in schemas/ (ids stand in)."""
    plan = {1.0: year, SMALL: small}.get(scale) or demo.plan_year(seed=3, scale=scale)
    for step in plan.steps:
        if not step.find:
            load(schema(step), filled(step.payload))


def test_a_small_year_still_shows_every_kind(small: demo.Plan) -> None:
    counts = small.counts()
    assert Counter(p["rank"] for p in small.commands("register_cadre"))["city_level"] == 3
    assert {p["situation"] for p in small.commands("record_finding")} == set(SITUATIONS)
    assert {p["handling"] for p in small.commands("decide_handling")} == set(HANDLINGS)
    assert {p["outcome"] for p in small.commands("decide_appeal")} == {
        "upheld", "changed", "revoked"}  # fmt: skip
    assert counts["accountability.withdraw_publication"] > 0
    assert counts["accountability.grant_exemption"] >= 2
    assert small.facts["letters_left"] and small.facts["letters_accepted"]
    assert len(small.steps) < 400 < len(demo.plan_year(seed=11, scale=0.2).steps)


def test_the_same_seed_and_scale_make_the_same_year() -> None:
    first, again = demo.plan_year(5, 0.1), demo.plan_year(5, 0.1)
    assert [(s.key, s.payload, s.after) for s in first.steps] == [
        (s.key, s.payload, s.after) for s in again.steps
    ]
    other = demo.plan_year(6, 0.1)
    assert [s.payload for s in other.steps] != [s.payload for s in first.steps]
    scaled = demo.plan_year(5, 0.2)
    ids = {s.payload.get("command_id") for s in first.steps} - {None}
    assert not ids & {s.payload.get("command_id") for s in scaled.steps}


def test_the_planned_grades_are_the_services_grades(year: demo.Plan) -> None:
    """The ratings planned for a grade get that grade by the evaluations service's rules."""
    ratings: dict[tuple[str, str], list] = {}
    for payload in year.commands("submit_rating"):
        key = (payload["cadre_id"].key, payload["period"][:4])
        ratings.setdefault(key, []).append(payload)
    rules = ASSESSMENT_RULES[CURRENT_RULES]
    capped = set(year.facts["capped"])
    for cadre, year_, grade in year.facts["grades"]:
        counted = [
            {"channel": p["channel"], "value": p["value"], "counted": True,
             "score": score(p["channel"], p["value"])}
            for p in ratings[(cadre, str(year_))]
        ]  # fmt: skip
        measures = ["admonishment"] if cadre in capped else []
        assert assess(counted, rules, CURRENT_RULES, measures)["grade"] == grade


def test_steps_come_after_what_they_need(year: demo.Plan) -> None:
    seen: set[str] = set()
    for step in year.steps:
        assert set(step.after) <= seen, step.key
        needed = {p.key if isinstance(p, demo.Ref) else p.case
                  for p in demo.placeholders(step.payload)}  # fmt: skip
        assert needed <= set(step.after), step.key
        seen.add(step.key)


def test_a_case_opened_late_moves_its_steps_later() -> None:
    day = demo.CaseDay("case/x", date(2026, 5, 20), planned_open=date(2026, 5, 6))
    assert demo.resolve(day, {}, {"case/x": date(2026, 5, 6)}) == "2026-05-20"
    assert demo.resolve(day, {}, {"case/x": date(2026, 11, 28)}) == "2026-12-12"
    # a case a policy opened was opened on the services' today: no step of it comes later
    by_policy = demo.CaseDay("case/x", date(2026, 5, 20), date(2026, 5, 6), by_policy=True)
    assert demo.resolve(by_policy, {}, {"case/x": date(2026, 5, 6)}) == "2026-05-06"
    assert demo.resolve(by_policy, {}, {"case/x": date(2026, 11, 28)}) == "2026-11-28"


def test_the_year_ends_before_the_day_the_demo_is_written_for() -> None:
    """The year (and the early next year its last cases run into) is over: the services
    refuse facts dated after their today."""
    assert demo.YEAR == 2025
    assert demo.plan_year(seed=11, scale=SMALL).facts["handling_dismissal_from_service"]


CASE = {"case_id": "c1", "opened_on": "2026-06-30",
        "basis": [{"kind": {"code": "finding"}, "finding_id": "f1"}]}  # fmt: skip


def flaky_cluster(times: int) -> tuple[SimpleNamespace, Counter]:
    """A cluster proxy whose calls time out ``times`` times, as while their service
    restarts, then answer; and the count of calls sent."""
    from nameko.exceptions import RpcTimeout

    sent, left = Counter(), [times]

    def method(answer: dict):
        def call(payload: dict) -> dict:
            sent["calls"] += 1
            if left[0]:
                left[0] -= 1
                raise RpcTimeout()
            return answer

        return call

    cluster = SimpleNamespace(
        accountability=SimpleNamespace(list_cases=method({"cases": [CASE]})),
        cadre_registry=SimpleNamespace(register_unit=method({"unit_id": "u1"})),
    )
    return cluster, sent


@pytest.mark.parametrize("find", [False, True], ids=["a command", "a query"])
def test_a_step_is_sent_again_after_a_timeout_a_query_too(find: bool) -> None:
    """A service that restarts answers once it is back: the loader sends the step again."""
    from youwei.demo.loader import ATTEMPTS, DemoError
    from youwei.demo.steps import Step

    if find:
        step = Step("case/finding/0", "accountability", "list_cases", {}, find=True)
        payload = {"cadre_id": "x", "basis": "finding", "finding_id": "f1"}
        answer = ("ok", {"case_id": "c1", "opened_on": "2026-06-30"})
    else:
        step = Step("unit/0", "cadre_registry", "register_unit", {})
        payload = {"command_id": str(uuid.uuid4()), "name": "云岭市"}
        answer = ("ok", {"unit_id": "u1"})
    loader = demo.Loader("pyamqp://nowhere/", timeout=0.01)
    cluster, sent = flaky_cluster(ATTEMPTS - 1)
    assert loader._call(cluster, step, payload) == answer
    assert sent["calls"] == ATTEMPTS
    with pytest.raises(DemoError, match=f"did not answer within 0.01 s, {ATTEMPTS} times"):
        loader._call(flaky_cluster(ATTEMPTS)[0], step, payload)


@pytest.mark.parametrize("scale", [1.0, SMALL])
def test_every_exemption_names_the_decision_that_started_its_effort(scale, year, small) -> None:
    """Issue 27 item 6 (容错免责 follows the decision): each exemption names a major decision
    that started its reform effort, taken no later than the mistake, with every step of its
    procedure recorded on or before it, and the commission's statements that hold."""
    plan = {1.0: year, SMALL: small}[scale]
    steps = {s.key: s for s in plan.steps}
    grants = [s for s in plan.steps if s.method == "grant_exemption"]
    assert grants
    for grant in grants:
        decision = steps[grant.payload["decision_id"].key]
        assert decision.method == "record_major_decision"
        effort = grant.payload["reform_effort_id"].key
        assert [r.key for r in decision.payload["reform_effort_ids"]] == [effort]
        case = steps[grant.payload["case_id"].key].payload
        decided = decision.payload["decided_on"]
        assert decided <= case["occurred_on"]
        done = {p["step"] for p in decision.payload["procedure"] if p["done_on"] <= decided}
        assert done == set(PROCEDURE_STEPS)
        assert grant.payload["no_personal_gain"]["holds"]
        assert grant.payload["no_prohibition_broken"]["holds"]
