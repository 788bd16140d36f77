"""Accountability cases: the reform efforts registered in advance, the cases the service
opens from findings and the ones opened here on reports, and each case's chain of steps
(statements, measures, handlings, exemptions, publications, appeals, closing)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from schemas.accountability.reference import ACCOUNTABILITY_FORMS, HANDLINGS, MEASURES
from schemas.inspections.reference import SITUATIONS

from .data import REFORMS, REPORTS
from .script import Cadre, Script, between, on, zh
from .steps import CaseDay, Ref

#: What happens to a case: (flow, detail), the ones every demo shows first.
REQUIRED_FLOWS = (
    ("measure", "admonishment"), ("handling", "dismissal"), ("appeal", "revoked"),
    ("measure", "talk"), ("measure", "written_inquiry"),
    ("measure", "accountability:circulated_criticism"), ("handling", "post_adjustment"),
    ("appeal", "upheld"), ("appeal", "changed"), ("handling", "ordered_resignation"),
    ("measure", "accountability:organizational_handling"),
    ("measure", "accountability:admonishment"), ("handling", "transfer"),
    ("measure", "accountability:disciplinary_sanction"), ("handling", "non_leadership"),
    ("handling", "off_post_training"), ("handling", "demotion"),
    ("appeal", "revoked_handling"), ("open", ""), ("dropped", ""),
)  # fmt: skip
FLOW_WEIGHTS = {
    ("open", ""): 18, ("dropped", ""): 6, ("measure", "talk"): 16,
    ("measure", "written_inquiry"): 10, ("measure", "admonishment"): 14,
    ("measure", "accountability:circulated_criticism"): 9,
    ("measure", "accountability:admonishment"): 4,
    ("measure", "accountability:organizational_handling"): 3,
    ("measure", "accountability:disciplinary_sanction"): 3,
    ("handling", "transfer"): 1, ("handling", "non_leadership"): 1,
    ("handling", "off_post_training"): 1, ("handling", "post_adjustment"): 1,
    ("handling", "dismissal"): 1, ("appeal", "upheld"): 3, ("appeal", "changed"): 2,
    ("appeal", "revoked"): 2,
}  # fmt: skip


def reform_efforts(plan: Script) -> None:
    rng = plan.rng
    plan.efforts = []
    for n, (title, risk) in enumerate(REFORMS[: plan.scaled(6, 1)]):
        unit = plan.bureaus[n % len(plan.bureaus)]
        pool = [c for c in plan.cadres if c.rank in ("county_division", "township_section")
                and not c.roles]  # fmt: skip
        participants = [c for c in unit.cadres if c in pool][:4]
        others = [c for c in pool if c not in participants]
        participants += rng.sample(others, min(len(others), rng.randint(2, 5)))
        registered = between(rng, on(1, 10), on(3, 20))
        starts = registered + timedelta(days=rng.randint(0, 10))
        key = plan.add(f"reform/{n}", "accountability", "register_reform_effort",
                       "中共云岭市委全面深化改革委员会办公室",
                       unit_id=Ref(unit.key, "unit_id"), title=title,
                       risk_assessment=f"风险评估：{risk}；已制定应急预案，实行过程留痕、"
                                       "定期评估，报市委深改委备案。",
                       risk_level=("medium", "high", "low")[n % 3],
                       participants=[Ref(c.key, "cadre_id") for c in participants],
                       registered_on=registered, starts_on=starts,
                       ends_on=on(12, 31) if n % 2 == 0 else None)  # fmt: skip
        decision = start_reform(plan, n, key, title, registered)
        plan.efforts.append({"key": key, "title": title, "participants": participants,
                             "starts": starts, "decision": decision})  # fmt: skip


def start_reform(plan: Script, n: int, effort: str, title: str, registered: date) -> str:
    """The major decision that started a reform effort, taken before its registration and
    with its procedure followed (科学民主依法决策, each step dated): what tolerance for
    reform needs of the decision behind a mistake (容错免责)."""
    decided = registered - timedelta(days=2 + n % 3)
    return plan.add(f"reform/{n}/decision", "inspections", "record_major_decision",
                    "中共云岭市委全面深化改革委员会办公室",
                    title=f"关于实施{title}的决定", decided_on=decided,
                    procedure=[{"step": "risk_assessment", "done_on": decided - timedelta(days=5)},
                               {"step": "legality_review", "done_on": decided - timedelta(days=2)},
                               {"step": "collective_deliberation", "done_on": decided}],
                    reform_effort_ids=[Ref(effort, "reform_effort_id")])  # fmt: skip


def fits(flow: tuple[str, str], cadre: Cadre) -> bool:
    kind, detail = flow
    if kind not in ("handling",) and detail != "revoked_handling":
        return True
    if cadre.roles & {"handled", "successor", "moved", "reform"} or cadre.rank == "city_level":
        return False
    if detail == "non_leadership":
        return cadre.post_kind == "leadership"
    if detail == "demotion":
        return cadre.rank in ("county_division", "township_section")
    if detail == "post_adjustment":
        return cadre.post_kind == "leadership" and cadre.tier == 0
    return True


def next_flow(plan: Script, cadre: Cadre) -> tuple[str, str]:
    for flow in plan.pending_flows:
        if fits(flow, cadre):
            plan.pending_flows.remove(flow)
            return flow
    while True:
        flows, weights = zip(*FLOW_WEIGHTS.items(), strict=True)
        flow = plan.rng.choices(flows, weights=weights)[0]
        if fits(flow, cadre):
            return flow


def cases(plan: Script) -> None:
    rng = plan.rng
    plan.pending_flows = list(REQUIRED_FLOWS)
    plan.sanctioned = []
    # findings about a cadre: the accountability service opens the case itself
    for finding in plan.findings:
        cadre = finding["cadre"]
        if cadre is None:
            continue
        case = plan.find_case(f"case/{finding['key']}", cadre, "finding",
                              finding_id=Ref(finding["key"], "finding_id"))  # fmt: skip
        problem = zh(SITUATIONS, finding["situation"])
        plan.facts["cases_by_policy"].append(case)
        chain(plan, case, cadre, finding["found"], next_flow(plan, cadre), problem,
              "督查暗访发现")  # fmt: skip
    # reports from the public, opened here; the first ones about mistakes made in reform
    # efforts registered in advance (容错免责)
    exemptions = max(2, len(plan.efforts))
    for n in range(max(plan.scaled(40, 12), exemptions + len(REQUIRED_FLOWS))):
        exemption = None
        if n < exemptions:
            effort = plan.efforts[n % len(plan.efforts)]
            outcome = "exempted" if n % 2 == 0 else "mitigated"
            cadre = rng.choice(effort["participants"])
            occurred = effort["starts"] + timedelta(days=rng.randint(15, 120))
            problem = f"在{effort['title']}中出现失误"
            summary = f"{cadre.label}{problem}，造成部分事项办理延误"
            exemption = (effort, outcome)
        else:
            pool = [c for c in plan.cadres if c.rank in ("county_division", "township_section")
                    and not c.roles & {"moved", "reform"}]  # fmt: skip
            cadre = rng.choice(pool)
            flow = next_flow(plan, cadre)
            template, situation = rng.choice(REPORTS)
            summary = template.format(unit=cadre.unit.name, post=cadre.post, name=cadre.name)
            problem = zh(SITUATIONS, situation)
            cadre.roles.add("reported")
            occurred = between(rng, on(1, 20), on(8, 31))
        opened = occurred + timedelta(days=rng.randint(5, 25))
        case = plan.add(f"case/report/{n:03d}", "accountability", "open_case",
                        "云岭市纪委监委", lane=f"case/report/{n:03d}",
                        cadre_id=Ref(cadre.key, "cadre_id"),
                        basis=[{"kind": "report",
                                "reference": f"12345热线工单 YL{occurred:%Y%m%d}"
                                             f"{rng.randint(1000, 9999)}"}],
                        summary=summary, occurred_on=occurred, opened_on=opened)  # fmt: skip
        plan.facts["cases_opened_here"].append(case)
        if exemption:
            cadre.roles.add("exempted")
            grant_exemption(plan, case, cadre, opened, *exemption)
        else:
            chain(plan, case, cadre, opened, flow, problem, "群众举报反映")
    # findings about a unit: its head answers for them (领导责任)
    unit_findings = [f for f in plan.findings if f["cadre"] is None]
    for n, finding in enumerate(unit_findings[: plan.scaled(20, 2)]):
        heads = [c for c in finding["unit"].cadres if c.rank != "city_level"
                 and c.tier == 0 and not c.roles & {"moved"}]  # fmt: skip
        if not heads:
            continue
        cadre = heads[0]
        problem = zh(SITUATIONS, finding["situation"])
        opened = finding["found"] + timedelta(days=rng.randint(7, 30))
        case = plan.add(f"case/unit/{n:03d}", "accountability", "open_case",
                        "云岭市纪委监委", lane=f"case/unit/{n:03d}",
                        cadre_id=Ref(cadre.key, "cadre_id"),
                        basis=[{"kind": "finding",
                                "finding_id": Ref(finding["key"], "finding_id")}],
                        summary=f"{finding['unit'].name}存在“{problem}”问题，"
                                f"{cadre.post}{cadre.name}负有主要领导责任",
                        occurred_on=finding["found"], opened_on=opened)  # fmt: skip
        plan.facts["cases_opened_here"].append(case)
        flow = rng.choice([("measure", "talk"), ("measure", "written_inquiry"),
                           ("measure", "accountability:circulated_criticism"),
                           ("measure", "admonishment")])  # fmt: skip
        chain(plan, case, cadre, opened, flow, problem, "督查暗访发现所在单位")


def chain(
    plan: Script,
    case: str,
    cadre: Cadre,
    opened: date,
    flow: tuple[str, str],
    problem: str,
    source: str,
) -> None:
    """The steps of a case after it opened, planned from ``opened``."""
    rng = plan.rng
    kind, detail = flow
    plan.facts["flows"].append((case, kind, detail))
    at = opened
    actor = "云岭市纪委监委"

    def later(low: int, high: int) -> CaseDay:
        nonlocal at
        at = at + timedelta(days=rng.randint(low, high))
        return plan.day(case, opened, at)

    if kind == "open":
        if rng.random() < 0.5:
            plan.add(f"{case}/statement", "accountability", "record_statement", actor,
                     lane=case, case_id=Ref(case, "case_id"),
                     statement="本人对反映的问题作出说明，情况正在进一步核实中。",
                     made_on=later(2, 8))  # fmt: skip
        return
    if kind == "dropped":
        plan.add(f"{case}/close", "accountability", "close_case", actor, lane=case,
                 case_id=Ref(case, "case_id"),
                 conclusion="经核查，反映问题不属实，予以了结，并向被反映人反馈。",
                 closed_on=later(10, 25))  # fmt: skip
        return
    if rng.random() < 0.5 or kind == "appeal":
        plan.add(f"{case}/statement", "accountability", "record_statement", actor,
                 lane=case, case_id=Ref(case, "case_id"),
                 statement=rng.choice(["对反映的问题无异议，愿意深刻检讨、立即整改。",
                                       "当日因参加上级会议外出，已向分管领导口头请假。",
                                       "问题属实，但系历史遗留问题，恳请组织综合考虑。"]),
                 made_on=later(2, 7))  # fmt: skip
    handling = detail if kind == "handling" else None
    if detail == "revoked_handling":
        handling = "dismissal"
    if handling:
        decision = decide_handling(plan, case, cadre, handling, later(5, 20), problem, source)
        what = zh(HANDLINGS, handling)
    else:
        measure = detail if kind == "measure" else rng.choice(["admonishment",
                                                               "accountability:circulated_criticism",
                                                               "written_inquiry"])  # fmt: skip
        name, _, form = measure.partition(":")
        fields = {"form": form} if form else {}
        what = zh(MEASURES, name) + (f"（{zh(ACCOUNTABILITY_FORMS, form)}）" if form else "")
        decision = plan.add(f"{case}/measure", "accountability", "impose_measure", actor,
                            lane=case, case_id=Ref(case, "case_id"), measure=name,
                            reason=f"{source}{cadre.name}同志存在“{problem}”问题，依据"
                                   f"《中国共产党问责条例》，给予{what}。",
                            decided_on=later(5, 20), **fields)  # fmt: skip
        if (
            name in ("admonishment", "accountability")
            and kind == "measure"
            and (case not in plan.facts["cases_by_policy"])
        ):
            plan.sanctioned.append((cadre, decision))
    published = None
    sanction = handling or "accountability" in detail or "admonishment" in detail
    if kind == "appeal" or (sanction and rng.random() < 0.85):
        published = plan.add(f"{case}/publish", "accountability", "publish_result",
                             "云岭市纪委监委", lane=case, case_id=Ref(case, "case_id"),
                             summary=f"{cadre.unit.name}{cadre.post}{cadre.name}存在“{problem}”"
                                     f"问题，被给予{what}。",
                             published_on=later(1, 5))  # fmt: skip
    if kind == "appeal":
        plan.add(f"{case}/appeal", "accountability", "file_appeal", actor, lane=case,
                 case_id=Ref(case, "case_id"), decision_id=Ref(decision, "decision_id"),
                 grounds="认为事实认定有误，有请假审批单及会议通知为证，申请复查。",
                 filed_on=later(3, 10))  # fmt: skip
        outcome = "revoked" if detail == "revoked_handling" else detail
        fields = {}
        lighter = "talk" if decision.endswith("measure") else "post_adjustment"
        if outcome == "changed":
            fields["changed_to"] = {"kind": lighter, "form": None}
        reasons = {"upheld": "经复查，原处理决定认定事实清楚、依据充分，予以维持。",
                   "changed": "经复查，情节较轻且已主动整改，变更为较轻处理。",
                   "revoked": "经复查，申诉理由成立，撤销原处理决定。"}  # fmt: skip
        plan.add(f"{case}/appeal/decided", "accountability", "decide_appeal", actor,
                 lane=case, case_id=Ref(case, "case_id"),
                 decision_id=Ref(decision, "decision_id"), outcome=outcome,
                 reason=reasons[outcome], decided_on=later(7, 20), **fields)  # fmt: skip
        plan.facts[f"appeal_{outcome}"].append(case)
        if published and outcome in ("revoked", "changed"):
            plan.add(f"{case}/withdraw", "accountability", "withdraw_publication", actor,
                     lane=case, case_id=Ref(case, "case_id"),
                     reason="原处理决定经申诉复查"
                            + ("撤销" if outcome == "revoked" else "变更") + "，撤回公开。",
                     withdrawn_on=later(0, 2))  # fmt: skip
            plan.facts["withdrawn"].append(case)
            if outcome == "changed":
                lighter_zh = zh({**MEASURES, **HANDLINGS}, lighter)
                plan.add(f"{case}/publish/again", "accountability", "publish_result", actor,
                         lane=case, case_id=Ref(case, "case_id"),
                         summary=f"{cadre.unit.name}{cadre.post}{cadre.name}存在“{problem}”"
                                 f"问题，经申诉复查，处理变更为{lighter_zh}。",
                         published_on=later(0, 2))  # fmt: skip
    plan.add(f"{case}/close", "accountability", "close_case", actor, lane=case,
             case_id=Ref(case, "case_id"),
             conclusion=f"{what}决定已执行，案件办结。" if kind != "appeal"
             else "申诉已复查办结，案件办结。", closed_on=later(3, 12))  # fmt: skip


def decide_handling(
    plan: Script,
    case: str,
    cadre: Cadre,
    handling: str,
    decided: CaseDay,
    problem: str,
    source: str,
) -> str:
    cadre.roles.add("handled")
    fields: dict[str, Any] = {}
    if handling == "transfer":
        target = plan.rng.choice([b for b in plan.bureaus if b is not cadre.unit]
                                 or plan.bureaus)  # fmt: skip
        fields = {"unit_id": Ref(target.key, "unit_id"), "post": "四级调研员"}
    elif handling == "post_adjustment":
        fields = {"post": cadre.unit.deputy_title}
    elif handling == "non_leadership":
        fields = {"post": "二级调研员" if cadre.rank == "county_division" else "一级主任科员"}
    elif handling == "demotion":
        lower = "township_section" if cadre.rank == "county_division" else "staff"
        fields = {"rank": lower, "post": "一级主任科员" if lower == "township_section"
                  else "一级科员"}  # fmt: skip
    decision = plan.add(f"{case}/handling", "accountability", "decide_handling",
                        "中共云岭市委组织部", lane=case, case_id=Ref(case, "case_id"),
                        handling=handling,
                        reason=f"{source}{cadre.name}同志存在“{problem}”问题，不适宜担任"
                               "现职，依据《推进领导干部能上能下规定》予以"
                               f"{zh(HANDLINGS, handling)}。",
                        decided_on=decided, **fields)  # fmt: skip
    plan.facts[f"handling_{handling}"].append(cadre.key)
    plan.facts["handled"].append((case, cadre.key, handling))
    if handling in ("dismissal", "ordered_resignation", "demotion") and cadre.task:
        successors = [c for c in plan.cadres if c.rank == "county_division" and c is not cadre
                      and not c.roles and c.unit is cadre.unit] or [
            c for c in plan.cadres if c.rank == "county_division" and not c.roles]  # fmt: skip
        if successors:
            successor = successors[0]
            successor.roles.add("successor")
            plan.add(f"{cadre.task}/to/{successor.key}", "cadre_registry",
                     "assign_responsibility", "中共云岭市委组织部", after=(decision,),
                     task_id=Ref(cadre.task, "task_id"),
                     owner_id=Ref(successor.key, "cadre_id"),
                     effective_date=CaseDay(decided.case, decided.day + timedelta(days=1),
                                            decided.planned_open,
                                            decided.by_policy))  # fmt: skip
    return decision


def grant_exemption(
    plan: Script, case: str, cadre: Cadre, opened: date, effort: dict, outcome: str
) -> None:
    rng = plan.rng
    actor = "云岭市纪委监委"
    at = opened + timedelta(days=rng.randint(10, 25))
    plan.add(f"{case}/exemption", "accountability", "grant_exemption", actor, lane=case,
             case_id=Ref(case, "case_id"), reform_effort_id=Ref(effort["key"],
                                                                 "reform_effort_id"),
             outcome=outcome,
             reasons=f"失误发生在经备案的“{effort['title']}”中，决策程序合规、未谋取私利、"
                     "积极主动挽回损失，符合容错免责情形。",
             decision_id=Ref(effort["decision"], "decision_id"),
             no_personal_gain={"holds": True,
                               "basis": "经查银行流水和相关事项审批记录，未发现谋取私利"},
             no_prohibition_broken={"holds": True,
                                    "basis": "经审查，未违反法律法规和上级明令禁止的规定"},
             granted_on=plan.day(case, opened, at))  # fmt: skip
    plan.facts[f"exemption_{outcome}"].append(case)
    plan.facts["flows"].append((case, "exemption", outcome))
    if outcome == "mitigated":
        at += timedelta(days=rng.randint(3, 10))
        plan.add(f"{case}/measure", "accountability", "impose_measure", actor, lane=case,
                 case_id=Ref(case, "case_id"), measure="talk",
                 reason="适用容错纠错机制，从轻处理，给予约谈。",
                 decided_on=plan.day(case, opened, at))  # fmt: skip
    at += timedelta(days=rng.randint(3, 10))
    plan.add(f"{case}/close", "accountability", "close_case", actor, lane=case,
             case_id=Ref(case, "case_id"),
             conclusion="予以容错免责，案件办结。" if outcome == "exempted"
             else "从轻处理，案件办结。", closed_on=plan.day(case, opened, at))  # fmt: skip
