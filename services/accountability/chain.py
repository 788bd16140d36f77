"""The implementation chain's reward and punishment (落实链条, DOMAIN.md): what the
accountability service decides on the inspections service's events of a task, each citing
its rule (``schemas.accountability.reference.CHAIN_RULES``, versioned)."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from events.log.commands import Decision
from schemas.accountability.reference import CHAIN_RULES, COMMENDATIONS, CURRENT_CHAIN_RULES
from services.accountability.domain import Case, Commendation


def case_for_overdue_milestone(upstream: dict[str, Any], owner_id: UUID, today: date) -> Decision:
    """A milestone past its due day and unmet opens a case against the task's owner on the
    day it became overdue (the deadline check's day)."""
    data = upstream["data"]
    overdue_on = date.fromisoformat(data["on"])
    name, version = "milestone_overdue_case", CURRENT_CHAIN_RULES
    rule = CHAIN_RULES[version][name]
    basis = {
        "kind": "overdue_milestone",
        "task_id": UUID(data["task_id"]),
        "milestone_id": UUID(data["milestone_id"]),
    }
    proposal = {"handling": None, "rule": name, "rules_version": version, "source": rule["source"]}
    case = Case.open(
        owner_id,
        [basis],
        [{}],
        f"{rule['consequence']}; rule {name}, rules {version}",
        overdue_on,
        max(overdue_on, today),
        proposal,
    )
    return [case], {"case_id": str(case.id)}


def commendation_for_targets(
    upstream: dict[str, Any], owner_id: UUID | None, today: date
) -> Decision:
    """A task whose every target was met on time proposes a commendation of its owner."""
    data = upstream["data"]
    if not data["all_met_on_time"]:
        return [], {"ignored": "not every target was met on time"}
    if owner_id is None:
        return [], {"ignored": "the task has no serving owner"}
    name, version = "targets_met_on_time_commendation", CURRENT_CHAIN_RULES
    rule = CHAIN_RULES[version][name]
    zh, en = COMMENDATIONS[rule["kind"]]
    concluded_on = date.fromisoformat(data["on"])
    commendation = Commendation(
        owner_id,
        rule["kind"],
        f"任务 {data['task_id']} {rule['consequence']}，拟{zh} ({en}; rule {name}, rules "
        f"{version})",
        max(concluded_on, today),
        name,
        version,
        rule["source"],
        UUID(data["task_id"]),
    )
    return [commendation], {"commendation_id": str(commendation.id)}
