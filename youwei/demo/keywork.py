"""The year of the key work (落实链条): each key-work share gets a quantified target and a
mid-year milestone from the supervision office; its owner reports progress with front-line
work; the office verifies most reports and disputes some. At the stack's deadline check
(the year is over) the milestones left unmet become overdue and open cases against their
owners, and the tasks whose every target was met on time propose commendations."""

from __future__ import annotations

from .script import Script, on
from .steps import Ref

OFFICE = "中共云岭市委督查室"
INDICATORS = (
    ("城镇新增就业", "人", 2000), ("项目投资完成额", "万元", 50000),
    ("审批事项压缩", "项", 40), ("农村危房改造", "户", 600),
    ("招商引资到位资金", "万元", 80000), ("高标准农田建设", "亩", 9000),
)  # fmt: skip
SPLIT = "市委常委会重点工作任务分解（细化、量化）"
FALSE_CLAIM = "督查核实：自报数据与统计台账不符，虚报进度"
PLACES = ("大营街镇", "研和街道", "北城街道", "九龙街道", "玉溪高新区", "通海县杨广镇")
WHOM = ("返乡务工人员", "村民小组长", "园区企业负责人", "种植大户", "社区网格员")
SOLVED = ("用工对接难", "项目用地审批慢", "灌溉水源不足", "企业融资难", "危房改造补助迟发")
#: Of the shares, in turn: met on time; the milestone missed; a claim disputed (so the
#: milestone missed); the target met late; the target missed (a small year has the first
#: three).
FATES = ("on_time", "milestone_missed", "disputed", "on_time", "late", "on_time", "missed")


def key_work(plan: Script) -> None:
    rng = plan.rng
    tasks = [(c, t) for c in plan.cadres for t in c.key_work][: plan.scaled(83, 3)]
    for n, (leader, task) in enumerate(tasks):
        fate = FATES[n % len(FATES)]
        indicator, unit, value = INDICATORS[n % len(INDICATORS)]
        lane, owner = task, leader.name
        goal = plan.add(f"{task}/target", "inspections", "set_task_target", OFFICE, lane=lane,
                        task_id=Ref(task, "task_id"), target_id=None, indicator=indicator,
                        unit=unit, target_value=value, due_on=on(11, 30),
                        reason=SPLIT, set_on=on(1, 20))  # fmt: skip
        if n % 5 == 3:
            value = round(value * 1.2)
            plan.add(f"{task}/target/raised", "inspections", "set_task_target", OFFICE, lane=lane,
                     task_id=Ref(task, "task_id"), target_id=Ref(goal, "target_id"),
                     indicator=indicator, unit=unit, target_value=value, due_on=on(11, 30),
                     reason="省下达任务调增，目标相应提高", set_on=on(4, 1))  # fmt: skip
        plan.add(f"{task}/milestone", "inspections", "set_task_milestone", OFFICE, lane=lane,
                 task_id=Ref(task, "task_id"), milestone_id=None,
                 target_id=Ref(goal, "target_id"), title="年中过半", value=value / 2,
                 due_on=on(6, 30), reason="时间过半、任务过半", set_on=on(1, 20))  # fmt: skip
        mid = 0.42 if fate in ("milestone_missed", "disputed") else 0.5 + rng.random() / 5
        final = {"late": 0.9, "missed": 0.8}.get(fate, 1.0 + rng.random() / 10)
        days = [(on(6, 20), mid), (on(11, 20), final)]
        if fate == "late":
            days.append((on(12, 10), 1.05))
        for k, (day, share) in enumerate(days):
            report = plan.add(f"{task}/report/{k}", "inspections", "report_progress",
                              f"{owner}（责任领导）", lane=lane, task_id=Ref(task, "task_id"),
                              target_id=Ref(goal, "target_id"), value=round(value * share),
                              reported_on=day, evidence=[f"{indicator}统计台账 {day:%Y-%m}"],
                              frontline=[{"place": rng.choice(PLACES), "whom": rng.choice(WHOM),
                                          "problem_solved": rng.choice(SOLVED), "on": day}],
                              corrects=None)  # fmt: skip
            if k % 2 == 0 and fate != "disputed":  # a disputed claim instead
                plan.add(f"{report}/verified", "inspections", "verify_progress_report", OFFICE,
                         lane=lane, task_id=Ref(task, "task_id"),
                         report_id=Ref(report, "report_id"), verified_on=day)  # fmt: skip
        if fate == "disputed":
            claim = plan.add(f"{task}/report/claim", "inspections", "report_progress",
                             f"{owner}（责任领导）", lane=lane, task_id=Ref(task, "task_id"),
                             target_id=Ref(goal, "target_id"), value=round(value * 0.6),
                             reported_on=on(6, 25), evidence=["自报数据"], frontline=[],
                             corrects=None)  # fmt: skip
            plan.add(f"{claim}/disputed", "inspections", "dispute_progress_report", OFFICE,
                     lane=lane, task_id=Ref(task, "task_id"), report_id=Ref(claim, "report_id"),
                     reason=FALSE_CLAIM, disputed_on=on(6, 28))  # fmt: skip
        plan.facts.setdefault("key_work_fates", []).append((task, fate))
