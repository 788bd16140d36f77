"""The records service's rules applied to the logs for an auditor (``youwei audit replay``
and ``history``): the projections as of a day by the business dates events carry, and the
rules an event brought into play. Reuses ``services.records`` (its projections, personnel
files and restriction rules); decides nothing of its own."""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from events.readmodels.projections import Batch, Generation, Projection
from schemas.records.reference import CURRENT_RESTRICTION_RULES
from services.records import chains, files
from services.records.domain import restrictions
from services.records.projections import DATE_FIELDS, effective_on

RULED = ("case_decided", "case_appeal_decided", "assessment_concluded")


def business_day(event: dict[str, Any]) -> str | None:
    """The day an event took effect by the dates it carries (decided, effective, published
    …; an assessment from its year's end), or None for an event that carries none."""
    return effective_on({**event, "timestamp": None}) or None


class AsOf(Projection):
    """``projection`` fed only the events that took effect by ``day`` (and those that carry
    no business date, such as a unit's registration), whenever they were recorded. Counts
    the dated events it applied (``applied``) and left for later (``later``)."""

    collections: ClassVar[dict[str, tuple[tuple[str, ...], ...]]] = {}

    def __init__(self, projection: Projection, day: date) -> None:
        self.projection, self.day = projection, day.isoformat()
        self.name, self.sources = projection.name, projection.sources
        self.collections = projection.collections  # type: ignore[misc]
        self.query_indexes = projection.query_indexes  # type: ignore[misc]
        self.applied: set[tuple[str, int]] = set()
        self.later: set[tuple[str, int]] = set()

    def _by_the_day(self, event: dict[str, Any]) -> bool:
        day = business_day(event)
        return day is None or day <= self.day

    def prepare(self, events: list[dict[str, Any]], batch: Batch) -> None:
        self.projection.prepare([e for e in events if self._by_the_day(e)], batch)

    def fold(self, event: dict[str, Any], batch: Batch) -> None:
        where = (event["log"], event["position"])
        if not self._by_the_day(event):
            self.later.add(where)
            return
        if business_day(event) is not None:
            self.applied.add(where)
        self.projection.fold(event, batch)


def personnel_files(generation: Generation, day: date) -> list[dict[str, Any]]:
    """Every registered cadre's personnel file as of ``day`` (``services.records.files``),
    with restrictions and eligibility citing rule, version and causing events."""
    db = generation.db
    units = {u["_id"]: u["name"] for u in db["units"].find({}, {"name": 1})}
    return [
        files.personnel_file(
            document,
            units,
            day,
            CURRENT_RESTRICTION_RULES,
            chains.chains_of(db, files.tasks_held(document), day),
        )
        for document in db["files"].find({"registered": True}).sort("_id", 1)
    ]


def business_dates(event: dict[str, Any]) -> dict[str, str]:
    data = event.get("data") or {}
    found = {name: data[name] for name in DATE_FIELDS if isinstance(data.get(name), str)}
    if event.get("type") == "assessment_concluded" and data.get("year"):
        found["counts_from"] = f"{data['year']}-12-31"
    if str(event.get("type")).startswith(("task_plan_", "major_decision_")):
        details = data.get("details") if isinstance(data.get("details"), dict) else {}
        dated = {**data, **details}
        for name in ("set_on", "due_on", "reported_on", "on"):
            if isinstance(dated.get(name), str):
                found[name] = dated[name]
    return found


def rules_applied(event: dict[str, Any]) -> list[dict[str, Any]]:
    """The restriction rules (``schemas.records.reference``) an event brings into play on
    its own, with their version and what they restrict from when to when."""
    if event.get("type") not in RULED:
        return []
    try:
        found = restrictions([event], CURRENT_RESTRICTION_RULES)
    except (KeyError, TypeError, ValueError):
        return []
    return [
        {"rule": r.rule, "rules_version": r.version, "source": r.source, "restricts": r.restricts,
         "starts": r.starts.isoformat(), "ends": r.ends.isoformat()}
        for r in found
    ]  # fmt: skip


def annotate(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """History events with their business dates and the rules they brought into play."""
    for event in events:
        event["business_dates"] = business_dates(event)
        event["rules"] = rules_applied(event)
        outcome = (event.get("data") or {}).get("outcome")
        if event.get("type") == "assessment_concluded" and isinstance(outcome, dict):
            event["grading_rules_version"] = outcome.get("rules_version")
    return events
