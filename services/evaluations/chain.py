"""What a cadre's tasks achieved, by year (落实链条, 4. Evaluation, DOMAIN.md): kept from the
inspections service's conclusions of tasks, for the owner the registry names on the day a
task's targets were concluded, and shown beside the grade. It changes no grade: the grade
is the grading rules' alone (a rule would cite it, in a new rules version)."""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from events.log.commands import Decision

NAMESPACE = uuid5(NAMESPACE_URL, "youwei:evaluations:cadre-tasks")
OUTCOMES = ("met_on_time", "met_late", "missed")


class CadreTasks(Aggregate):
    """A cadre's concluded tasks: per task, each target's outcome and the year it was due."""

    @staticmethod
    def create_id(cadre_id: UUID) -> UUID:
        return uuid5(NAMESPACE, str(cadre_id))

    @event("Opened")
    def __init__(self, cadre_id: UUID) -> None:
        self.cadre_id = cadre_id
        self.tasks: dict[str, dict[str, Any]] = {}

    @event("Achieved")
    def achieved(self, task_id: str, targets: list[dict[str, Any]], concluded_on: str) -> None:
        self.tasks[task_id] = {"targets": targets, "concluded_on": concluded_on}

    def in_year(self, year: int) -> dict[str, int]:
        """How many targets due in ``year`` were met on time, met late, missed."""
        counts = dict.fromkeys(OUTCOMES, 0)
        for task in self.tasks.values():
            for target in task["targets"]:
                if target["year"] == year:
                    counts[target["outcome"]] += 1
        return counts


def record_achieved(
    tasks: CadreTasks | None, owner_id: UUID, upstream: dict[str, Any], due: dict[str, str]
) -> Decision:
    """Record what a concluded task achieved for its owner (once per task). ``due``: each
    target's due day (the inspections service's plan)."""
    data = upstream["data"]
    tasks = tasks or CadreTasks(owner_id)
    if data["task_id"] in tasks.tasks:
        return [], {"ignored": "already recorded"}
    targets = [
        {"target_id": target_id, "outcome": outcome,
         "year": int((due.get(target_id) or data["on"])[:4])}
        for target_id, outcome in sorted(data["outcomes"].items())
    ]  # fmt: skip
    tasks.achieved(data["task_id"], targets, data["on"])
    return [tasks], {"cadre_id": str(owner_id), "task_id": data["task_id"]}
