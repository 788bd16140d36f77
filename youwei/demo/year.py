"""The year as a plan: ``plan_year`` runs the flows of the year in order on one ``Script``;
``describe`` says what a plan holds, in words."""

from __future__ import annotations

from collections import Counter
from datetime import date

from schemas.accountability.reference import HANDLINGS
from schemas.evaluations.reference import GRADE_ORDER

from .assessments import assessments
from .cases import cases, reform_efforts
from .city import assign_tasks, build_cadres, build_city, personnel_moves
from .commendations import commendations
from .inspections import exposures, inspections, letters
from .keywork import key_work
from .ratings import everyday_ratings
from .script import Script
from .steps import YEAR, Plan

#: The lists a plan's facts always have (empty when the year has none).
FACT_LISTS = (
    "letters", "letters_left", "letters_open", "letters_accepted", "letters_reported",
    "letters_rejected_then_accepted", "cases_by_policy", "cases_opened_here", "flows",
    "handled", "grades", "capped", "three_excellent_years", "demotion_cases", "promoted",
    "withdrawn", "repeated_ratings", "appeal_upheld", "appeal_changed", "appeal_revoked",
    "exemption_exempted", "exemption_mitigated",
    *(f"handling_{h}" for h in HANDLINGS),
)  # fmt: skip


def plan_year(seed: int = YEAR, scale: float = 1.0) -> Plan:
    """The year as steps: pure, the same for the same ``seed`` and ``scale``."""
    plan = Script(seed, scale)
    build_city(plan)
    build_cadres(plan)
    assign_tasks(plan)
    personnel_moves(plan)
    reform_efforts(plan)
    for effort in plan.efforts:
        for cadre in effort["participants"]:
            cadre.roles.add("reform")
    inspections(plan)
    exposures(plan)
    letters(plan)
    cases(plan)
    assessments(plan)
    everyday_ratings(plan)
    commendations(plan)
    key_work(plan)
    facts = {key: list(plan.facts.get(key, [])) for key in FACT_LISTS}
    facts.update({k: v for k, v in plan.facts.items() if k not in facts})
    facts["units"] = len(plan.units)
    facts["cadres_by_rank"] = dict(Counter(c.rank for c in plan.cadres))
    facts["situations"] = sorted({f["situation"] for f in plan.findings})
    return Plan(plan.seed, plan.scale, plan.steps, facts)


def describe(plan: Plan) -> list[str]:
    counts = plan.counts()
    facts = plan.facts
    ranks = facts["cadres_by_rank"]

    def of(method: str, name: str, value: str) -> int:
        return sum(1 for p in plan.commands(method) if p.get(name) == value)

    measures = Counter(p["measure"] + (f":{p['form']}" if p.get("form") else "")
                       for p in plan.commands("impose_measure"))  # fmt: skip
    handlings = Counter(p["handling"] for p in plan.commands("decide_handling"))
    appeals = Counter(p["outcome"] for p in plan.commands("decide_appeal"))
    grades = Counter(g for _, y, g in facts["grades"] if y == YEAR)
    channels = Counter(p["channel"] for p in plan.commands("submit_rating"))
    exposures = Counter(p["exposure"] for p in plan.commands("expose_finding"))
    letters = len(facts["letters"])
    kinds = Counter(p["kind"] for p in plan.commands("open_inspection"))
    accepted = sum(1 for _, ok in facts["letters"] if ok)
    overdue_by_year_end = plan.letters_overdue_on(date(YEAR, 12, 31))
    return [
        f"units {counts['cadre_registry.register_unit']} · city-level leaders "
        f"{ranks.get('city_level', 0)} · county-level cadres {ranks.get('county_division', 0)}"
        f" · section-level {ranks.get('township_section', 0)} · staff {ranks.get('staff', 0)}",
        f"key work shares {of('assign_responsibility', 'kind', 'key_work_share')} · liaison "
        f"tasks {of('assign_responsibility', 'kind', 'liaison_task')} · posting changes "
        f"{counts['cadre_registry.transfer'] + counts['cadre_registry.appoint']}",
        "inspections "
        + str(sum(kinds.values()))
        + " ("
        + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
        + ") · findings "
        f"{counts['inspections.record_finding']} in {len(facts['situations'])} situations · "
        "exposures " + ", ".join(f"{k} {n}" for k, n in sorted(exposures.items())),
        f"rectification letters {letters}: accepted {accepted} "
        f"({len(facts.get('letters_rejected_then_accepted', []))} after a rejected report), "
        f"reported {len(facts.get('letters_reported', []))}, awaiting a report "
        f"{len(facts.get('letters_left', [])) + len(facts.get('letters_open', []))}; "
        f"{overdue_by_year_end} past their deadline by year end",
        f"ratings {counts['evaluations.submit_rating']} ("
        + ", ".join(f"{k} {n}" for k, n in sorted(channels.items()))
        + ") · assessments "
        f"{counts['evaluations.conclude_annual_assessment']} ({YEAR}: "
        + ", ".join(f"{g} {grades[g]}" for g in GRADE_ORDER)
        + f"; {len(facts['capped'])} "
        "capped by a measure; " + f"{len(facts['three_excellent_years'])} excellent three "
        "years running)",
        f"cases {counts['accountability.open_case'] + counts['accountability.find_case']} "
        f"(opened by the service from findings and grades "
        f"{counts['accountability.find_case']}, opened here {counts['accountability.open_case']})"
        f" · statements {counts['accountability.record_statement']} · closed "
        f"{counts['accountability.close_case']}",
        "measures " + ", ".join(f"{k} {n}" for k, n in sorted(measures.items())),
        "handlings " + ", ".join(f"{k} {n}" for k, n in sorted(handlings.items())),
        f"reform efforts {counts['accountability.register_reform_effort']} (each started by a "
        f"major decision: {counts['inspections.record_major_decision']}) · exemptions "
        f"{counts['accountability.grant_exemption']} · appeals "
        + ", ".join(f"{k} {n}" for k, n in sorted(appeals.items()))
        + f" · commendations {counts['accountability.commend']} · publications "
        f"{counts['accountability.publish_result']} (withdrawn "
        f"{counts['accountability.withdraw_publication']}) · commendations published "
        f"{counts['accountability.publish_commendation']}",
        f"key work: targets {counts['inspections.set_task_target']} · milestones "
        f"{counts['inspections.set_task_milestone']} · progress reports "
        f"{counts['inspections.report_progress']} (verified "
        f"{counts['inspections.verify_progress_report']}, disputed "
        f"{counts['inspections.dispute_progress_report']}); at the deadline check, unmet "
        "milestones open cases and tasks met on time propose commendations",
    ]
