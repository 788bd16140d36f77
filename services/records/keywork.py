"""The key work's progress (重点工作进展), public: a projection of the registry's tasks and the
inspections log's implementation chain (DOMAIN.md "The implementation chain").

One document per task (``shares``, by task id), whatever its kind: the registry's title,
kind and owner, and the chain's targets, milestones and reports as the published events
carry them (never an evidence reference nor a dispute's reason: ``schemas.events``). Only
key-work shares (``key_work_share``) are ever answered. A plan's events name their plan, not
the task, so ``plans`` maps one to the other (``task_plan_started`` comes first in its log).

Each side of the join refreshes the public fields of the shares it touches (the owner's name,
unit and post held now; each target's progress), so the result does not depend on which log
arrives first. A report counts as the chain counts it (``TaskPlan.counted``): not corrected by
a later one and not disputed; a disputed value is neither counted nor shown. An erased
owner's name is forgotten (``None``) and never shown again.
"""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import NAMESPACE_URL, uuid5

from events.readmodels.projections import Batch, Projection
from schemas.common import label
from schemas.inspections.chain import TARGET_OUTCOMES
from services.records.domain import POST_ENDED, POSTING_EVENTS

KEY_WORK = "key_work_share"

#: The namespace of the key-work page's public ids (``share_id``).
SHARE_ID_NAMESPACE = uuid5(NAMESPACE_URL, "urn:youwei:key-work-share")


def share_id(task_id: str) -> str:
    """A key-work share's public id: one-way from the task's id (the same in every rebuild)."""
    return str(uuid5(SHARE_ID_NAMESPACE, task_id))


def _doc(batch: Batch, collection: str, _id: str) -> dict[str, Any]:
    return batch.get(collection, _id) or {"_id": _id}


class KeyWork(Projection):
    name = "keywork"
    sources = ("cadre_registry", "inspections")
    collections: ClassVar[dict[str, tuple[tuple[str, ...], ...]]] = {
        "shares": (("kind",), ("owner_id",), ("unit_id",), ("share_id",)),
        "plans": (),
        "cadres": (),
        "units": (),
    }

    def prepare(self, events: list[dict[str, Any]], batch: Batch) -> None:
        """Load the plans, tasks, owners and units the events touch (the rest loads lazily)."""
        plans = [e["originator_id"] for e in events if e["type"].startswith("task_plan_")]
        batch.load("plans", plans)
        tasks = [e["data"]["task_id"] for e in events if e["type"] == "task_plan_started"]
        tasks += [(batch.documents["plans"].get(p) or {}).get("task_id") for p in plans]
        tasks += [e["originator_id"] for e in events if e["type"].startswith("responsibility_")]
        batch.load("shares", tasks)
        concern = {*POSTING_EVENTS, "cadre_personal_data_erased"}
        cadres = [e["originator_id"] for e in events if e["type"] in concern]
        batch.load_where("shares", "owner_id", cadres)
        batch.load_where("shares", "unit_id", [e["originator_id"] for e in events
                                               if e["type"] == "unit_registered"])  # fmt: skip
        shares = [d for d in batch.documents["shares"].values() if d]
        batch.load("cadres", cadres + [d.get("owner_id") for d in shares])
        held = [d.get("unit_id") for d in batch.documents["cadres"].values() if d]
        batch.load("units", held + [e["data"].get("unit_id") for e in events])

    def fold(self, event: dict[str, Any], batch: Batch) -> None:
        kind, data, originator = event["type"], event["data"], event["originator_id"]
        touched: list[dict[str, Any]] = []
        if kind == "unit_registered":
            batch.put("units", {**_doc(batch, "units", originator), "name": data["name"]})
            touched = batch.find("shares", "unit_id", originator)
        elif kind in POSTING_EVENTS or kind == "cadre_personal_data_erased":
            self._posting(originator, kind, data, batch)
            touched = batch.find("shares", "owner_id", originator)
        elif kind in ("responsibility_assigned", "responsibility_reassigned"):
            share = _doc(batch, "shares", originator)
            share["owner_id"] = data["owner_id"]
            if kind == "responsibility_assigned":
                share.update(kind=data["kind"], title=data["title"],
                             assigned_on=data["effective_date"])  # fmt: skip
            touched = [share]
        elif kind == "task_plan_started":
            batch.put("plans", {"_id": originator, "task_id": data["task_id"]})
        elif kind.startswith("task_plan_"):
            task_id = (batch.get("plans", originator) or {}).get("task_id")
            if task_id is not None:
                share = _doc(batch, "shares", task_id)
                self._chain(share, kind, data)
                touched = [share]
        for share in touched:
            self._refresh(share, batch)

    @staticmethod
    def _posting(cadre_id: str, kind: str, data: dict[str, Any], batch: Batch) -> None:
        """The unit and post the cadre holds now; the name, forgotten once erased."""
        cadre = _doc(batch, "cadres", cadre_id)
        if kind == "cadre_personal_data_erased":
            cadre.update(name=None, erased=True)
        else:
            if kind == "cadre_registered" and not cadre.get("erased"):
                cadre["name"] = data["name"]
            if kind in POST_ENDED:
                cadre.update(unit_id=None, post=None)
            cadre.update({k: data[k] for k in ("unit_id", "post") if data.get(k)})
        batch.put("cadres", cadre)

    @staticmethod
    def _chain(share: dict[str, Any], kind: str, data: dict[str, Any]) -> None:
        targets = share.setdefault("targets", {})
        milestones = share.setdefault("milestones", {})
        reports = share.setdefault("reports", {})
        if kind == "task_plan_target_set":
            details = data["details"]
            fields = ("indicator", "unit", "target_value", "due_on")
            targets[data["target_id"]] = {k: details.get(k) for k in fields}
        elif kind == "task_plan_milestone_set":
            details = data["details"]
            kept = milestones.get(data["milestone_id"]) or {}
            milestones[data["milestone_id"]] = {
                **{k: details.get(k) for k in ("target_id", "title", "value", "due_on")},
                "overdue_on": kept.get("overdue_on"),
            }
        elif kind == "task_plan_progress_reported":
            reports[data["report_id"]] = {
                "target_id": data["target_id"], "value": data["value"],
                "on": data["reported_on"], "order": len(reports), "counts": True,
            }  # fmt: skip
            if data.get("corrects") in reports:
                reports[data["corrects"]]["counts"] = False
        elif kind == "task_plan_report_reviewed" and data["report_id"] in reports:
            if not data["verified"]:
                reports[data["report_id"]]["counts"] = False
        elif kind == "task_plan_milestone_became_overdue" and data["milestone_id"] in milestones:
            milestones[data["milestone_id"]]["overdue_on"] = data["on"]
        elif kind == "task_plan_targets_concluded":
            share.update(concluded_on=data["on"], outcomes=data["outcomes"])

    @staticmethod
    def _refresh(share: dict[str, Any], batch: Batch) -> None:
        """The share's public fields from what the projection holds now."""
        cadre = batch.get("cadres", share.get("owner_id")) or {}
        unit = batch.get("units", cadre.get("unit_id")) or {}
        share.update({
            "share_id": share_id(share["_id"]),
            "owner_name": cadre.get("name"),
            "unit_id": cadre.get("unit_id"),
            "unit": unit.get("name"),
            "post": cadre.get("post"),
            "public_targets": public_targets(share),
        })  # fmt: skip
        batch.put("shares", share)


def public_targets(share: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with its progress: the values counted (in the order reported), the last
    of them reached (the latest day's), and its milestones, each with the day it was met
    (on or before its due day); in the order the targets were set."""
    reports = sorted((share.get("reports") or {}).values(), key=lambda r: (r["on"], r["order"]))
    outcomes = share.get("outcomes") or {}
    answer = []
    for target_id, target in (share.get("targets") or {}).items():
        counted = [r for r in reports if r["target_id"] == target_id and r["counts"]]
        value = target["target_value"]
        met = [r["on"] for r in counted if r["value"] >= value]
        reached_on = min(met) if met else None
        outcome = outcomes.get(target_id)
        if outcome is None and reached_on is not None:
            outcome = "met_on_time" if reached_on <= target["due_on"] else "met_late"
        answer.append({
            **target,
            "reached": counted[-1]["value"] if counted else None,
            "reached_on": reached_on,
            "outcome": outcome,
            "progress": [{"on": r["on"], "value": r["value"]} for r in counted],
            "milestones": sorted(
                ({**{k: m[k] for k in ("title", "value", "due_on", "overdue_on")},
                  "met_on": next((r["on"] for r in counted
                                  if r["value"] >= m["value"] and r["on"] <= m["due_on"]), None)}
                 for m in (share.get("milestones") or {}).values()
                 if m["target_id"] == target_id),
                key=lambda m: m["due_on"]),
        })  # fmt: skip
    return answer


def public_share(document: dict[str, Any], today: str) -> dict[str, Any]:
    """A key-work share with its public fields only (``KEY_WORK_FIELDS``, in that order):
    never an internal id, an evidence reference, a disputed value or a dispute's reason. A
    target not reached whose due day is before ``today`` is ``missed``."""
    targets = []
    for target in document.get("public_targets") or []:
        outcome = target["outcome"] or ("missed" if target["due_on"] < today else "in_progress")
        reached, goal = target["reached"], target["target_value"]
        percent = round(100 * reached / goal, 1) if reached is not None and goal else 0.0
        targets.append({
            **{k: target[k] for k in ("indicator", "unit", "target_value", "due_on", "reached",
                                      "reached_on")},
            "percent": percent,
            "outcome": label(TARGET_OUTCOMES, outcome),
            "progress": target["progress"],
            "milestones": target["milestones"],
        })  # fmt: skip
    return {
        "share_id": document["share_id"],
        "title": document.get("title"),
        "owner_name": document.get("owner_name"),
        "unit": document.get("unit"),
        "post": document.get("post"),
        "assigned_on": document.get("assigned_on"),
        "targets": targets,
        "concluded_on": document.get("concluded_on"),
    }
