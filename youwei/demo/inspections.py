"""The year's inspections (undercover visits with mixed teams, inspection tours,
supervision and responsibility checks), their findings and exposures, and the rectification
letters with their reports and reviews."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from schemas.inspections.reference import SITUATIONS

from .data import DESCRIPTIONS, KEY_WORK, OUTSIDERS, TYPES_OF, UNDERCOVER_THEMES
from .script import Script, Unit, chinese_name, digest, on, zh
from .steps import YEAR, Ref


def inspections(plan: Script) -> None:
    rng = plan.rng
    count = plan.scaled(60, 4)
    kinds = ["undercover_visit", "inspection_tour", "supervision_check",
             "responsibility_check"]  # fmt: skip
    kinds += rng.choices(kinds, weights=(40, 20, 23, 17), k=count - 4)
    span = (on(11, 20) - on(2, 16)).days
    starts = [on(2, 16) + timedelta(days=int((n + rng.random()) * span / count))
              for n in range(count)]  # fmt: skip
    kinds = kinds[:2] + rng.sample(kinds[2:], len(kinds) - 2)
    targets = [u for u in plan.units if u.group in ("bureau", "county_body", "township",
                                                    "other") and u.cadres]  # fmt: skip
    window_units = [u for u in targets if u.group in ("bureau", "township")] or targets
    situations = list(SITUATIONS)
    rng.shuffle(situations)
    wanted_findings = plan.scaled(240, 16)
    per_inspection = [wanted_findings // count + (1 if n < wanted_findings % count else 0)
                      for n in range(count)]  # fmt: skip
    plan.findings = []
    commission = "市纪委监委第{n}监督检查室"
    for n, (kind, started) in enumerate(zip(kinds, starts, strict=True)):
        team = [{"name": f"{chinese_name(rng, 'male', plan.names)}"
                         f"（{commission.format(n=rng.choice('一二三四五六'))}）",
                 "role": "commission"} for _ in range(rng.randint(1, 2))]  # fmt: skip
        if kind == "undercover_visit":
            for role, org in rng.sample(OUTSIDERS, rng.randint(1, 3)):
                gender = rng.choice(("male", "female"))
                team.append({"name": f"{chinese_name(rng, gender, plan.names)}（{org}）",
                             "role": role})  # fmt: skip
            title = f"{started.month}月{rng.choice(UNDERCOVER_THEMES)}暗访"
            units = rng.sample(window_units, min(len(window_units), rng.randint(1, 3)))
        elif kind == "inspection_tour":
            units = [rng.choice(targets)]
            title = f"市委第{rng.choice('一二三四五')}巡察组对{units[0].name}开展常规巡察"
        elif kind == "supervision_check":
            units = rng.sample(targets, min(len(targets), rng.randint(1, 3)))
            theme = rng.choice(list(KEY_WORK))
            title = f"市委督查室、市政府督查室{theme}专项督查"
        else:
            units = [rng.choice(targets)]
            title = f"{YEAR}年度党风廉政建设和作风建设责任制检查（{units[0].name}）"
            if rng.random() < 0.5:
                name = chinese_name(rng, "female", plan.names)
                team.append({"name": f"{name}（政风行风监督员）",
                             "role": "conduct_supervisor"})  # fmt: skip
        key = plan.add(f"inspection/{n:03d}", "inspections", "open_inspection",
                       "云岭市纪委监委", kind=kind, title=title, started_on=started,
                       team=team)  # fmt: skip
        for k in range(per_inspection[n]):
            unit = units[k % len(units)]
            situation = situations.pop() if situations else rng.choice(list(SITUATIONS))
            record_finding(plan, key, kind, started, unit, situation, f"{n:03d}-{k}")


def record_finding(
    plan: Script, inspection: str, kind: str, started: date, unit: Unit, situation: str, number: str
) -> None:
    rng = plan.rng
    found = started + timedelta(days=rng.randint(0, 4))
    eligible = [c for c in unit.cadres if c.rank != "city_level"
                and not c.roles & {"moved", "reform"}
                and sum(f["cadre"] is c for f in plan.findings) < 2]  # fmt: skip
    cadre = rng.choice(eligible) if eligible and rng.random() < 0.65 else None
    description = rng.choice(DESCRIPTIONS[situation]).format(
        unit=unit.name if cadre is None else f"{unit.name}{cadre.post}{cadre.name}",
        n=rng.randint(2, 9),
    )
    fields: dict[str, Any] = {
        "inspection_id": Ref(inspection, "inspection_id"),
        "unit_id": Ref(unit.key, "unit_id"),
        "situation": situation,
        "description": description,
        "typical": rng.random() < 0.2,
        "found_on": found,
    }
    if cadre is not None:
        fields["cadre_id"] = Ref(cadre.key, "cadre_id")
        cadre.roles.add("found")
        if situation in TYPES_OF and rng.random() < 0.6:
            fields["cadre_type"] = TYPES_OF[situation]
    if kind == "undercover_visit":
        films = [f"暗访视频 {found:%Y%m%d}-{number} 第{s}段" for s in range(1, rng.randint(2, 4))]
        fields["evidence"] = [{"reference": film, "sha256": digest(film)} for film in films]
    elif rng.random() < 0.5:
        record = f"检查记录 {found:%Y%m%d}-{number}（台账、询问笔录）"
        fields["evidence"] = [{"reference": record, "sha256": digest(record)}]
    key = plan.add(f"finding/{number}", "inspections", "record_finding", "云岭市纪委监委",
                   **fields)  # fmt: skip
    plan.findings.append({"key": key, "inspection": inspection, "kind": kind, "unit": unit,
                          "cadre": cadre, "situation": situation, "found": found,
                          "typical": fields["typical"]})  # fmt: skip


def exposures(plan: Script) -> None:
    rng = plan.rng
    typical = [f for f in plan.findings if f["typical"]]
    if len(typical) < 3:  # at least one of each kind of exposure
        typical += [f for f in plan.findings if not f["typical"]][: 3 - len(typical)]
    required = ["internal_circular", "undercover_film", "media"]
    for n, finding in enumerate(typical):
        kinds = ["internal_circular"]
        if finding["kind"] == "undercover_visit" or n == 1:
            kinds.append("undercover_film")
        if rng.random() < 0.3 or n == 2:
            kinds.append("media")
        for kind in kinds:
            if kind in required:
                required.remove(kind)
            day = finding["found"] + timedelta(days=rng.randint(5, 25))
            plan.add(f"{finding['key']}/expose/{kind}", "inspections", "expose_finding",
                     "云岭市纪委监委", finding_id=Ref(finding["key"], "finding_id"),
                     exposure=kind, exposed_on=day)  # fmt: skip


def letters(plan: Script) -> None:
    rng = plan.rng
    groups: dict[tuple[str, Unit], list[dict]] = defaultdict(list)
    for finding in plan.findings:
        groups[(finding["inspection"], finding["unit"])].append(finding)
    wanted = plan.scaled(60, 4)
    early = [g for g in groups.items() if max(f["found"] for f in g[1]) <= on(8, 31)]
    late = [g for g in groups.items() if g not in early]
    chosen = early[: max(4, wanted * 3 // 4)]
    chosen += late[: max(0, wanted - len(chosen))]
    outcomes = ["left", "accepted", "rejected_then_accepted", "reported"]
    for n, ((_, unit), findings) in enumerate(chosen):
        issued = max(f["found"] for f in findings) + timedelta(days=rng.randint(7, 20))
        deadline = issued + timedelta(days=rng.choice((30, 45, 60)))
        if deadline > on(10, 31):
            outcome = "accepted" if deadline <= on(12, 20) and rng.random() < 0.5 else "open"
        elif outcomes:
            outcome = outcomes.pop(0)
        else:
            outcome = rng.choices(["accepted", "rejected_then_accepted", "left", "reported"],
                                  weights=(60, 15, 15, 10))[0]  # fmt: skip
        head = next((c for c in unit.cadres if c.task), None)
        if head is None and unit.group == "township":
            county = next(c for c in plan.counties if c["root"] is unit.parent)
            head = next((c for c in county["bodies"]["政府"].cadres if c.task), None)
        situations = "、".join(dict.fromkeys(zh(SITUATIONS, f["situation"]) for f in findings))
        fields: dict[str, Any] = {
            "unit_id": Ref(unit.key, "unit_id"),
            "finding_ids": [Ref(f["key"], "finding_id") for f in findings],
            "requirements": f"针对“{situations}”问题，请于{deadline:%Y年%m月%d日}前整改到位，"
                            "举一反三建立长效机制，并书面报告整改情况。",
            "issued_on": issued,
            "deadline": deadline,
        }  # fmt: skip
        if head is not None:
            fields["task_id"] = Ref(head.task, "task_id")
        key = plan.add(f"letter/{n:03d}", "inspections", "issue_rectification_letter",
                       "云岭市纪委监委", lane=f"letter/{n:03d}", **fields)  # fmt: skip
        accepted = outcome in ("accepted", "rejected_then_accepted")
        plan.facts["letters"].append((deadline, accepted))
        plan.facts[f"letters_{outcome}"].append(key)
        if outcome in ("left", "open"):
            continue
        lane = key
        reported = issued + timedelta(days=rng.randint(10, (deadline - issued).days - 12))
        plan.add(f"{key}/report/1", "inspections", "report_rectification",
                 "云岭市纪委监委", lane=lane, letter_id=Ref(key, "letter_id"),
                 report=f"{unit.name}已对相关责任人进行批评教育，建立首问负责、限时办结和"
                        "窗口值守制度，整改情况已在单位内部公示。",
                 reported_on=reported)  # fmt: skip
        if outcome == "reported":
            continue
        reviewed = reported + timedelta(days=rng.randint(2, 5))
        if outcome == "rejected_then_accepted":
            plan.add(f"{key}/review/1", "inspections", "review_rectification",
                     "云岭市纪委监委", lane=lane, letter_id=Ref(key, "letter_id"),
                     accepted=False, reason="整改报告未附佐证材料，回访发现问题仍有反弹，"
                                           "请补充整改后重新报告。",
                     reviewed_on=reviewed)  # fmt: skip
            reported = reviewed + timedelta(days=2)
            plan.add(f"{key}/report/2", "inspections", "report_rectification",
                     "云岭市纪委监委", lane=lane, letter_id=Ref(key, "letter_id"),
                     report="已补充整改佐证材料（制度文件、值守记录、回访台账），反弹问题已整改。",
                     reported_on=reported)  # fmt: skip
            reviewed = reported + timedelta(days=2)
        plan.add(f"{key}/review/final", "inspections", "review_rectification",
                 "云岭市纪委监委", lane=lane, letter_id=Ref(key, "letter_id"),
                 accepted=True, reason="经现场复查和群众回访，整改措施落实到位，予以验收。",
                 reviewed_on=reviewed)  # fmt: skip
