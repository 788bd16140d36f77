"""The implementation chain as the records service composes it (``services.records.chains``,
DOMAIN.md "The implementation chain", 4. Evaluation): pure, from hand-made documents."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest

from services.evaluations.chain import record_achieved
from services.records.chains import achievements, task_chain

pytestmark = pytest.mark.plain
TASK, PLAN, LETTER, CASE = "task-1", "plan-1", "letter-1", "case-1"


def kept(kind: str, position: int, on: str | None, originator: str, **data) -> dict:
    return {"type": kind, "event_id": f"e{kind}{position}", "position": position,
            "originator_id": originator, "on": on, "recorded_on": "2026-12-08",
            "data": data}  # fmt: skip


DOCUMENTS = {
    TASK: {
        "letters": [LETTER],
        "events": {
            "cadre_registry": [
                kept("responsibility_assigned", 3, "2026-01-01", TASK, owner_id="a", title="招商"),
                kept("responsibility_reassigned", 9, "2026-05-20", TASK, owner_id="b"),
            ],
            "inspections": [
                kept("task_plan_started", 4, None, PLAN, task_id=TASK),
                kept(
                    "task_plan_target_set",
                    5,
                    "2026-03-01",
                    PLAN,
                    target_id="t1",
                    details={"due_on": "2026-04-30"},
                ),
                kept(
                    "task_plan_target_set",
                    6,
                    "2026-03-01",
                    PLAN,
                    target_id="t2",
                    details={"due_on": "2027-01-31"},
                ),
                kept("rectification_letter_issued", 7, "2026-04-02", LETTER, task_id=TASK),
                kept(
                    "task_plan_targets_concluded",
                    8,
                    "2027-02-01",
                    PLAN,
                    task_id=TASK,
                    outcomes={"t1": "met_late", "t2": "missed"},
                ),
            ],
        },
    },
    LETTER: {
        "events": {
            "accountability": [
                kept("case_opened", 2, "2026-04-21", CASE, basis=[{"letter_id": LETTER}]),
            ]
        }
    },
}


def test_a_chain_in_order_with_the_letters_cases_and_a_start_dated_by_its_plan() -> None:
    steps = task_chain(TASK, DOCUMENTS)
    assert [(s["type"], s["on"]) for s in steps] == [
        ("responsibility_assigned", "2026-01-01"),
        ("task_plan_started", "2026-03-01"),  # carries no day: its plan's first
        ("task_plan_target_set", "2026-03-01"),
        ("task_plan_target_set", "2026-03-01"),
        ("rectification_letter_issued", "2026-04-02"),
        ("case_opened", "2026-04-21"),  # on the letter naming the task
        ("responsibility_reassigned", "2026-05-20"),
        ("task_plan_targets_concluded", "2027-02-01"),
    ]
    assert steps[5]["cites"] == "accountability:2" and "recorded_on" not in steps[5]
    assert len(task_chain(TASK, DOCUMENTS, date(2026, 4, 20))) == 5


def test_what_the_tasks_achieved_counts_for_the_owner_on_the_conclusions_day() -> None:
    chain = {TASK: task_chain(TASK, DOCUMENTS)}
    assert achievements("a", chain) == []  # no longer the owner when it was concluded
    by_year = achievements("b", chain)
    assert [(y["year"], y["met_on_time"], y["met_late"], y["missed"]) for y in by_year] == [
        (2026, 0, 1, 0),  # the year each target was due
        (2027, 0, 0, 1),
    ]
    assert by_year[0]["tasks"][0]["title"] == "招商"
    assert by_year[0]["tasks"][0]["cites"] == "inspections:8"


def test_the_evaluations_keep_each_concluded_task_once_by_the_year_each_target_was_due() -> None:
    owner = uuid4()
    outcomes = {"t1": "met_on_time", "t2": "missed", "t3": "met_late"}
    concluded = {"data": {"task_id": "task-9", "on": "2027-01-01", "outcomes": outcomes}}
    due = {"t1": "2026-06-30", "t2": "2026-12-31", "t3": "2026-12-31"}
    [tasks], _ = record_achieved(None, owner, concluded, due)
    assert tasks.in_year(2026) == {"met_on_time": 1, "met_late": 1, "missed": 1}
    assert tasks.in_year(2027) == {"met_on_time": 0, "met_late": 0, "missed": 0}
    again, result = record_achieved(tasks, owner, concluded, due)
    assert again == [] and result == {"ignored": "already recorded"}
