"""Annual assessments: a sample of cadres graded (some two or three years running, some
capped by a measure in force), and the case the service opens for an ``incompetent`` grade,
found and decided."""

from __future__ import annotations

from datetime import timedelta

from .ratings import grade_ratings, rater_ref, rating
from .script import Cadre, Script, on
from .steps import YEAR, Ref


def assessments(plan: Script) -> None:
    rng = plan.rng
    pool = [c for c in plan.cadres if c.rank in ("county_division", "township_section")
            and not c.roles]  # fmt: skip
    rng.shuffle(pool)
    count = min(len(pool), plan.scaled(64, 6))
    quotas = {"incompetent": plan.scaled(6, 1), "basically_competent": plan.scaled(8, 1),
              "excellent": plan.scaled(10, 1)}  # fmt: skip
    quotas["competent"] = max(1, count - sum(quotas.values()))
    graded = [g for g, n in quotas.items() for _ in range(n)][:count]
    # some section-level cadres among the excellent: candidates for promotion
    if "excellent" in graded:
        rising = [c for c in pool if c.rank == "township_section"][: plan.scaled(4, 1)]
        pool = [c for c in pool if c not in rising]
        first = graded.index("excellent")
        pool[first:first] = rising
    twice = 0  # incompetent the year before too: dismissal from the civil service (辞退)
    for cadre, grade in zip(pool, graded, strict=False):
        if grade == "incompetent" and twice < plan.scaled(2, 1):
            twice += 1
            assess(plan, cadre, grade, YEAR - 1)
            assess(plan, cadre, grade, YEAR, running=2)
            continue
        assess(plan, cadre, grade, YEAR)
    for cadre in pool[count : count + plan.scaled(3, 1)]:
        for year in (YEAR - 2, YEAR - 1, YEAR):
            assess(plan, cadre, "excellent", year)
        plan.facts["three_excellent_years"].append(cadre.key)
    # cadres given an admonishment or accountability in YEAR and rated well: the grade
    # is capped at competent (rules 2026.2 on) once evaluations has the measure, which it
    # follows from accountability's events (the assessment comes after the measure)
    capped = [s for s in plan.sanctioned if not s[0].roles & {"assessed", "handled"}]
    for cadre, measure in capped[: plan.scaled(3, 1)]:
        assess(plan, cadre, "excellent", YEAR, after=(measure,), expected="competent")
        plan.facts["capped"].append(cadre.key)


def assess(
    plan: Script,
    cadre: Cadre,
    grade: str,
    year: int,
    after: tuple = (),
    expected: str | None = None,
    running: int = 1,
) -> None:
    """Ratings that make ``grade``, then the year's assessment (``expected``: the grade
    the service gives, when a measure in force caps it; ``running``: the years running
    with this grade)."""
    cadre.roles.add("assessed")
    ballots, ratings = grade_ratings(plan, grade)
    rng = plan.rng
    bulk = f"{cadre.key}/{year}"  # each agency's ratings of the cadre's year at once
    rated = [rating(plan, cadre, channel, f"{year}-12", value, rater_ref(plan, channel), bulk)
             for channel, value in ballots]  # fmt: skip
    rated += [rating(plan, cadre, channel, f"{year}-{rng.randint(1, 11):02d}", value,
                     rater_ref(plan, channel), bulk)
              for channel, value in ratings]  # fmt: skip
    key = plan.add(f"assessment/{cadre.key}/{year}", "evaluations",
                   "conclude_annual_assessment", "中共云岭市委组织部",
                   after=(*after, *rated, *plan.assessed_before.get(cadre.key, ())),
                   cadre_id=Ref(cadre.key, "cadre_id"), year=year)  # fmt: skip
    plan.assessed_before[cadre.key] = (key,)  # an earlier year's grade comes first
    plan.facts["grades"].append((cadre.key, year, expected or grade))
    if grade == "incompetent":
        incompetent(plan, cadre, key, year, running)


def incompetent(plan: Script, cadre: Cadre, assessment: str, year: int, running: int) -> None:
    """The accountability service opens a case proposing demotion, or in the second
    year running dismissal from the civil service: find it, decide."""
    case = plan.find_case(f"case/{assessment}", cadre, "assessment", year=year)
    plan.facts["cases_by_policy"].append(case)
    opened = on(12, 31)
    if year != YEAR:  # the year before: overtaken by the second year's case
        plan.facts["flows"].append((case, "open", ""))
        return
    if running == 2:
        cadre.roles.add("handled")
        decided = plan.day(case, opened, opened + timedelta(days=8))
        plan.add(f"{case}/handling", "accountability", "decide_handling",
                 "中共云岭市委组织部", lane=case, case_id=Ref(case, "case_id"),
                 handling="dismissal_from_service",
                 reason=f"{cadre.name}同志{YEAR - 1}、{YEAR}年度连续两年考核被确定为不称职，"
                        "依据《公务员辞退规定》予以辞退。",
                 decided_on=decided)  # fmt: skip
        plan.facts["handling_dismissal_from_service"].append(cadre.key)
        plan.facts["flows"].append((case, "handling", "dismissal_from_service"))
        plan.add(f"{case}/close", "accountability", "close_case", "中共云岭市委组织部",
                 lane=case, case_id=Ref(case, "case_id"),
                 conclusion="辞退决定已执行，案件办结。",
                 closed_on=plan.day(case, opened, opened + timedelta(days=20)))  # fmt: skip
        return
    n = len(plan.facts["demotion_cases"])
    plan.facts["demotion_cases"].append(case)
    if n % 3 == 2:
        plan.facts["flows"].append((case, "open", ""))
        return  # still being handled
    cadre.roles.add("handled")
    lower = "township_section" if cadre.rank == "county_division" else "staff"
    decided = plan.day(case, opened, opened + timedelta(days=8))
    decision = plan.add(f"{case}/handling", "accountability", "decide_handling",
                        "中共云岭市委组织部", lane=case, case_id=Ref(case, "case_id"),
                        handling="demotion", rank=lower,
                        post="一级主任科员" if lower == "township_section" else "一级科员",
                        reason=f"{cadre.name}同志{YEAR}年度考核被确定为不称职，依据《公务员"
                               "考核规定》降低一个职务层次任职。",
                        decided_on=decided)  # fmt: skip
    plan.facts["handling_demotion"].append(cadre.key)
    plan.facts["flows"].append((case, "handling", "demotion"))
    if n % 3 == 1:
        plan.add(f"{case}/appeal", "accountability", "file_appeal", "云岭市纪委监委",
                 lane=case, case_id=Ref(case, "case_id"),
                 decision_id=Ref(decision, "decision_id"),
                 grounds="对年度考核结果有异议，申请复核。",
                 filed_on=plan.day(case, opened, opened + timedelta(days=15)))  # fmt: skip
        plan.add(f"{case}/appeal/decided", "accountability", "decide_appeal",
                 "中共云岭市委组织部", lane=case, case_id=Ref(case, "case_id"),
                 decision_id=Ref(decision, "decision_id"), outcome="upheld",
                 reason="经复核，考核结果和降职决定依据充分，予以维持。",
                 decided_on=plan.day(case, opened, opened + timedelta(days=30)))  # fmt: skip
        plan.facts["appeal_upheld"].append(case)
    plan.add(f"{case}/close", "accountability", "close_case", "中共云岭市委组织部", lane=case,
             case_id=Ref(case, "case_id"), conclusion="降职决定已执行，案件办结。",
             closed_on=plan.day(case, opened, opened + timedelta(days=35)))  # fmt: skip
