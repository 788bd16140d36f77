"""One task's implementation chain (落实链条, DOMAIN.md) as the personnel projection keeps
it: every event of any log that belongs to the task, kept per log in log order under the
record it hangs on (its *anchor*), and composed in order when asked (``task_chain``).

An event's anchor is the task itself (its assignment and changes of owner, its plan's
targets, milestones, reports, verifications, overdue milestones and conclusion, a major
decision naming it, a rectification letter naming it, a case on one of its overdue
milestones, a commendation its targets proposed) or a rectification letter (a case on an
overdue letter names only the letter, whose task is in another log: the task's chain takes
the letters it names). Later events of a plan, letter, case or commendation follow their
first through ``links`` (same log, so in order). Nothing here depends on the order the logs
are read in.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from events.readmodels.projections import Batch
from schemas.events import LOGS

SOURCES = ("cadre_registry", "evaluations", "inspections", "accountability")
#: Of a record's events, the kinds whose originator's later events follow it (``links``).
FOLLOWED = ("task_plan_", "rectification_letter_", "case_", "commendation_")
#: The fields that date a chain event, the first it has (a target's or milestone's setting
#: is dated inside its details).
CHAIN_DATES = ("reported_on", "on", "decided_on", "issued_on", "opened_on", "commended_on",
               "published_on", "withdrawn_on", "closed_on", "effective_date")  # fmt: skip


def chain_day(event: dict[str, Any]) -> str | None:
    """The day a chain event took effect, or None for one that carries no day."""
    data = event["data"]
    details = data.get("details")
    if isinstance(details, dict) and details.get("set_on"):
        return details["set_on"]
    for name in CHAIN_DATES:
        if isinstance(data.get(name), str):
            return data[name]
    return None


def _followed(event: dict[str, Any]) -> bool:
    return event["type"].startswith(FOLLOWED)


def _links(event: dict[str, Any]) -> str:
    """Where a record's anchors are kept: a case's in its document of ``cases`` (which the
    personnel projection loads for every event of a case anyway), others' in ``links``."""
    return "cases" if event["type"].startswith("case_") else "links"


def _first_anchors(event: dict[str, Any]) -> list[str] | None:
    """The anchors an event names itself (a record's first event), or None."""
    kind, data = event["type"], event["data"]
    if kind.startswith("responsibility_"):
        return [event["originator_id"]]
    if kind == "task_plan_started":
        return [data["task_id"]]
    if kind == "major_decision_recorded":
        return [str(t) for t in data.get("task_ids") or ()]
    if kind == "rectification_letter_issued":
        return [data["task_id"]] if data.get("task_id") else []
    if kind == "case_opened":
        return [
            str(b.get("task_id") or b.get("letter_id"))
            for b in data.get("basis") or ()
            if b.get("kind") == "overdue_milestone" or b.get("letter_id")
        ]
    if kind == "commendation_commended":
        return [data["task_id"]] if data.get("task_id") else []
    return None


def prepare(events: list[dict[str, Any]], batch: Batch) -> None:
    """Load the links of the events' records, then the chains they hang on."""
    batch.load("links", [e["originator_id"] for e in events
                         if _followed(e) and _links(e) == "links"])  # fmt: skip
    batch.load("cases", [e["originator_id"] for e in events if _links(e) == "cases"])
    anchors: list[str] = []
    for event in events:
        named = _first_anchors(event)
        if named is None and _followed(event):
            named = (batch.get(_links(event), event["originator_id"]) or {}).get("anchors") or []
        anchors += named or []
    batch.load("chains", anchors)


def fold(event: dict[str, Any], batch: Batch) -> None:
    if event["source"] not in SOURCES:
        return
    named = _first_anchors(event)
    if named is None and not _followed(event):
        return  # not of a chain (and nothing to look up: ``prepare`` loaded what is)
    links = _links(event)
    if named is None:
        named = (batch.get(links, event["originator_id"]) or {}).get("anchors") or []
    elif named and _followed(event):  # a record of the chain: its later events follow it
        kept_links = batch.get(links, event["originator_id"]) or {"_id": event["originator_id"]}
        batch.put(links, {**kept_links, "anchors": named})
    if not named:
        return
    kept = {
        "type": event["type"],
        "event_id": event["event_id"],
        "position": event["position"],
        "originator_id": event["originator_id"],
        "on": chain_day(event),
        "recorded_on": (event.get("timestamp") or "")[:10],
        "data": event["data"],
    }
    for anchor in named:
        chain = batch.get("chains", anchor) or {"_id": anchor}
        chain.setdefault("events", {}).setdefault(event["source"], []).append(kept)
        if event["type"] == "rectification_letter_issued":
            chain["letters"] = [*chain.get("letters", []), event["originator_id"]]
        batch.put("chains", chain)


def task_chain(
    task_id: str, documents: dict[str, dict[str, Any]], as_of: date | None = None
) -> list[dict[str, Any]]:
    """The task's chain in order (by day, then log, then position), up to ``as_of``:
    ``documents`` holds the chain documents of the task and of the letters naming it. Each
    step cites its event as ``audit history`` does (``log:position`` and the event's id)."""
    task = documents.get(task_id) or {}
    anchors = [task_id, *task.get("letters", [])]
    kept = [
        (source, event)
        for anchor in anchors
        for source, events in ((documents.get(anchor) or {}).get("events") or {}).items()
        for event in events
    ]
    # an event that carries no day (a plan's start) takes its record's first day
    first: dict[str, str] = {}
    for _, event in kept:
        if event["on"] and event["on"] < first.get(event["originator_id"], "9999"):
            first[event["originator_id"]] = event["on"]
    steps: dict[str, dict[str, Any]] = {}
    for source, event in kept:
        day = event["on"] or first.get(event["originator_id"]) or event["recorded_on"]
        if as_of is None or day <= as_of.isoformat():
            steps[event["event_id"]] = {
                **{k: v for k, v in event.items() if k != "recorded_on"},
                "on": day,
                "source": source,
                "cites": f"{source}:{event['position']}",
                "log": LOGS[source],
            }
    return sorted(
        steps.values(), key=lambda s: (s["on"], SOURCES.index(s["source"]), s["position"])
    )


OUTCOMES = ("met_on_time", "met_late", "missed")


def achievements(cadre_id: str, steps_of: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """What the cadre's tasks achieved, by year (the year a target was due): how many
    targets were met on time, met late or missed, counted for the task's owner on the day
    its targets were concluded, each task citing its conclusion's event. ``steps_of``: each
    task's chain (``task_chain``)."""
    years: dict[int, dict[str, Any]] = {}
    for task_id, steps in steps_of.items():
        owner, due, title = None, {}, None
        for step in steps:
            data = step["data"]
            if step["type"] in ("responsibility_assigned", "responsibility_reassigned"):
                owner = data["owner_id"]
                title = data.get("title") or title
            elif step["type"] == "responsibility_owner_left":
                owner = None
            elif step["type"] == "task_plan_target_set":
                due[data["target_id"]] = data["details"]["due_on"]
            elif step["type"] == "task_plan_targets_concluded" and owner == cadre_id:
                for target_id, outcome in data["outcomes"].items():
                    year = int(due.get(target_id, step["on"])[:4])
                    shown = years.setdefault(year, {"tasks": {}})
                    shown[outcome] = shown.get(outcome, 0) + 1
                    task = shown["tasks"].setdefault(task_id, {
                        "task_id": task_id, "title": title, "concluded_on": step["on"],
                        "event_id": step["event_id"], "cites": step["cites"],
                        **dict.fromkeys(OUTCOMES, 0),
                    })  # fmt: skip
                    task[outcome] += 1
    return [
        {
            "year": year,
            **{outcome: shown.get(outcome, 0) for outcome in OUTCOMES},
            "tasks": list(shown["tasks"].values()),
        }
        for year, shown in sorted(years.items())
    ]


def chains_of(db: Any, task_ids: list[str], as_of: date | None) -> dict[str, list[dict]]:
    """Each task's chain (``task_chain``) read from the projection's ``chains``."""
    found = {d["_id"]: d for d in db["chains"].find({"_id": {"$in": sorted(set(task_ids))}})}
    letters = sorted({i for d in found.values() for i in d.get("letters", [])})
    found.update({d["_id"]: d for d in db["chains"].find({"_id": {"$in": letters}})})
    return {task_id: task_chain(task_id, found, as_of) for task_id in sorted(set(task_ids))}
