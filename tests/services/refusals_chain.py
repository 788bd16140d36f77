"""The implementation chain's commands in ``test_refusals``: what the small city sends of
them once, and how each is refused (another payload for a reused ``command_id``, the field
naming what it acts on, a rule)."""

from __future__ import annotations

from collections.abc import Callable

NOWHERE = "8a5e0000-0000-4000-8000-000000000000"
#: Days to come that no test's today reaches: nothing falls due while the module runs.
TARGET_DUE, MILESTONE_DUE = "2099-06-30", "2099-03-31"


def send_chain(c, ids: dict[str, str]) -> None:
    insp, task = "inspections", ids["task"]
    ids["target"] = c.send(
        "org",
        insp,
        "set_task_target",
        task_id=task,
        target_id=None,
        indicator="办件量",
        unit="件",
        target_value=100,
        due_on=TARGET_DUE,
        reason="分解",
        set_on="2026-03-01",
    )["target_id"]
    c.send(
        "org",
        insp,
        "set_task_milestone",
        task_id=task,
        milestone_id=None,
        target_id=ids["target"],
        title="过半",
        value=50,
        due_on=MILESTONE_DUE,
        reason="节点",
        set_on="2026-03-01",
    )
    ids["report"] = c.send(
        "org",
        insp,
        "report_progress",
        task_id=task,
        target_id=ids["target"],
        value=30,
        reported_on="2026-03-10",
        evidence=["台账"],
        frontline=[],
        corrects=None,
    )["report_id"]
    ids["report2"] = c.send(
        "org",
        insp,
        "report_progress",
        task_id=task,
        target_id=ids["target"],
        value=35,
        reported_on="2026-03-11",
        record=False,
    )["report_id"]
    c.send(
        "office",
        insp,
        "verify_progress_report",
        task_id=task,
        report_id=ids["report"],
        verified_on="2026-03-12",
    )
    c.send(
        "office",
        insp,
        "dispute_progress_report",
        task_id=task,
        report_id=ids["report2"],
        reason="与台账不符",
        disputed_on="2026-03-12",
    )
    steps = [{"step": "collective_deliberation", "done_on": "2026-01-20"}]
    c.send(
        "org",
        insp,
        "record_major_decision",
        title="改革方案",
        decided_on="2026-02-01",
        procedure=steps,
        task_ids=[task],
        reform_effort_ids=[],
    )


OTHER_PAYLOAD: dict[str, Callable[[dict], dict]] = {
    "set_task_target": lambda i: {"reason": "另一理由"},
    "set_task_milestone": lambda i: {"title": "另一节点"},
    "report_progress": lambda i: {"value": 31},
    "verify_progress_report": lambda i: {"verified_on": "2026-03-13"},
    "dispute_progress_report": lambda i: {"reason": "另一理由"},
    "record_major_decision": lambda i: {"title": "另一决策"},
}

REFERENCES = dict.fromkeys(
    (
        "set_task_target",
        "set_task_milestone",
        "report_progress",
        "verify_progress_report",
        "dispute_progress_report",
    ),
    "task_id",
)

RULES: dict[str, Callable[[dict], tuple[dict, str]]] = {
    "set_task_target": lambda i: ({"target_id": NOWHERE}, "inspections.unknown_target"),
    "set_task_milestone": lambda i: (
        {"due_on": "2099-12-31"},
        "inspections.milestone_within_target",
    ),
    "report_progress": lambda i: (
        {"corrects": i["report"], "reported_on": "2026-03-09"},
        "inspections.date_order",
    ),
    "verify_progress_report": lambda i: ({}, "inspections.report_reviewed"),
    "dispute_progress_report": lambda i: ({}, "inspections.report_reviewed"),
    "record_major_decision": lambda i: (
        {"decided_on": "2099-01-01"},
        "inspections.not_after_today",
    ),
}
