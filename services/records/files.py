"""Answers composed from the projections' documents: a cadre's personnel file as of a day,
their eligibility for promotion, and public records as the public may see them."""

from __future__ import annotations

from datetime import date
from typing import Any

from schemas.accountability.reference import (
    ACCOUNTABILITY_FORMS,
    APPEAL_OUTCOMES,
    COMMENDATIONS,
    DECISION_STATUSES,
    DECISION_TYPES,
    EXEMPTIONS,
    HANDLINGS,
    MEASURES,
)
from schemas.cadre_registry.reference import POST_KINDS, RANKS, STATUSES, TASK_KINDS
from schemas.common import label
from schemas.evaluations.reference import GRADES
from schemas.inspections.reference import CATEGORIES, SITUATIONS
from schemas.records.reference import (
    CURRENT_RESTRICTION_RULES,
    FILE_POST_CHANGES,
    RESPONSIBILITY_CHANGES,
    RESTRICTIONS,
)
from services.records import chains
from services.records.domain import (
    consequences,
    eligible_for_promotion,
    posting,
    restrictions,
)

SOURCES = ("cadre_registry", "evaluations", "inspections", "accountability")
DECISIONS = {**MEASURES, **HANDLINGS}


def _maybe(catalogue: dict[str, tuple], code: str | None) -> dict[str, str] | None:
    return None if code is None else label(catalogue, code)


def timeline(document: dict[str, Any], as_of: date | None) -> list[dict[str, Any]]:
    """A cadre's events from every log that took effect by ``as_of``, by day (and, within a
    day, by log and position)."""
    events = []
    for order, source in enumerate(SOURCES):
        for kept in (document.get("events") or {}).get(source) or []:
            if as_of is None or kept["on"] <= as_of.isoformat():
                events.append(({**kept, "source": source}, order))
    events.sort(key=lambda pair: (pair[0]["on"], pair[1], pair[0]["position"]))
    return [event for event, _ in events]


def tasks_held(document: dict[str, Any]) -> list[str]:
    """The tasks the file's cadre has been given (their chains belong to the file)."""
    return sorted(
        {
            e["originator_id"]
            for e in (document.get("events") or {}).get("cadre_registry") or []
            if e["type"].startswith("responsibility_")
            and e["data"].get("owner_id") == document["_id"]
        }
    )


def personnel_file(
    document: dict[str, Any],
    units: dict[str, str],
    as_of: date,
    version: str | None = None,
    task_chains: dict[str, list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """``task_chains``: the chain of each task the cadre held (``chains.chains_of``)."""
    version = version or CURRENT_RESTRICTION_RULES
    task_chains = task_chains or {}
    achieved = {a["year"]: a for a in chains.achievements(document["_id"], task_chains)}
    events = timeline(document, as_of)
    of = {source: [e for e in events if e["source"] == source] for source in SOURCES}
    held = posting(of["cadre_registry"])
    found = restrictions(of["evaluations"] + of["accountability"], version)
    found.sort(key=lambda r: (r.starts, r.rule))
    eligible, reasons = eligible_for_promotion(found, as_of)
    appeals = {
        e["data"]["decision_id"]: e
        for e in of["accountability"]
        if e["type"] == "case_appeal_decided"
    }
    decided = {
        e["data"]["decision_id"]: e for e in of["accountability"] if e["type"] == "case_decided"
    }
    return {
        "cadre_id": document["_id"],
        "name": document.get("name"),
        "personal_data_erased": any(
            e["type"] == "cadre_personal_data_erased" for e in of["cadre_registry"]
        ),
        "as_of": as_of.isoformat(),
        "posting": {
            "unit_id": held["unit_id"],
            "unit": units.get(held["unit_id"]) if held["unit_id"] else None,
            "post": held["post"],
            "rank": _maybe(RANKS, held["rank"]),
            "post_kind": _maybe(POST_KINDS, held["post_kind"]),
            "status": _maybe(STATUSES, held["status"]),
            "since": held["since"],
        },
        "posts": [
            _post_change(e, units) for e in of["cadre_registry"] if e["type"].startswith("cadre_")
        ],
        "responsibilities": [
            _responsibility(e, document["_id"])
            for e in of["cadre_registry"]
            if e["type"].startswith("responsibility_")
        ],
        "grades": [
            {
                "year": e["data"]["year"],
                "grade": label(GRADES, e["data"]["outcome"]["grade"]),
                "rules_version": e["data"]["outcome"].get("rules_version"),
                "event_id": e["event_id"],
                # beside the grade, not in it: what the year's tasks achieved
                "tasks_achieved": _achieved(achieved.get(e["data"]["year"])),
            }
            for e in of["evaluations"]
            if e["type"] == "assessment_concluded"
        ],
        "achievements": list(achieved.values()),
        "task_chains": [
            {"task_id": task_id, "steps": [_step(s) for s in steps]}
            for task_id, steps in task_chains.items()
        ],
        "findings": [
            {
                "finding_id": e["originator_id"],
                "situation": label(SITUATIONS, e["data"]["situation"]),
                "found_on": e["data"]["found_on"],
                "event_id": e["event_id"],
            }
            for e in of["inspections"]
            if e["type"] == "finding_recorded"
        ],
        "decisions": [
            _decision(e, appeals.get(e["data"]["decision_id"])) for e in decided.values()
        ],
        "exemptions": [
            {
                "outcome": label(EXEMPTIONS, e["data"]["outcome"]),
                "reform_effort_id": e["data"]["reform_effort_id"],
                "granted_on": e["on"],
                "event_id": e["event_id"],
            }
            for e in of["accountability"]
            if e["type"] == "case_exemption_granted"
        ],
        "appeals": [_appeal(e, decided.get(e["data"]["decision_id"])) for e in appeals.values()],
        "commendations": _commendations(of["accountability"]),
        "restrictions": [_restriction(r, as_of) for r in found],
        "consequences": [
            {
                "rule": c.rule,
                "rules_version": c.version,
                "source": c.source,
                "year": c.year,
                "consequence": {"code": c.rule, "zh": c.consequence[0], "en": c.consequence[1]},
                "caused_by": c.caused_by,
            }
            for c in consequences(of["evaluations"], version)
        ],
        "eligible_for_promotion": {"eligible": eligible, "reasons": reasons},
        "rules_version": version,
    }


def eligibility(document: dict[str, Any], on: date, version: str | None = None) -> dict:
    version = version or CURRENT_RESTRICTION_RULES
    events = timeline(document, on)
    found = restrictions(
        [e for e in events if e["source"] in ("evaluations", "accountability")], version
    )
    eligible, reasons = eligible_for_promotion(found, on)
    return {
        "cadre_id": document["_id"],
        "on": on.isoformat(),
        "eligible": eligible,
        "reasons": reasons,
        "restrictions_in_force": [_restriction(r, on) for r in found if r.in_force(on)],
        "rules_version": version,
    }


def _achieved(year: dict[str, Any] | None) -> dict[str, int]:
    return {outcome: (year or {}).get(outcome, 0) for outcome in chains.OUTCOMES}


def _step(step: dict[str, Any]) -> dict[str, Any]:
    """A step of a task's chain, citing its event (``log:position`` and id); its data (with
    codes as stored) is ``task_chain``'s."""
    return {k: step[k] for k in ("type", "on", "cites", "event_id", "originator_id")}


def _post_change(event: dict[str, Any], units: dict[str, str]) -> dict[str, Any]:
    data = event["data"]
    return {
        "change": label(FILE_POST_CHANGES, event["type"].removeprefix("cadre_")),
        "effective_date": data.get("effective_date"),
        "unit": units.get(data["unit_id"]) if data.get("unit_id") else None,
        "post": data.get("post"),
        "rank": _maybe(RANKS, data.get("rank")),
        "reason": data.get("reason"),
        "event_id": event["event_id"],
    }


def _responsibility(event: dict[str, Any], cadre_id: str) -> dict[str, Any]:
    """A task's change that concerns the cadre: ``change`` is ``assigned``,
    ``reassigned`` (``holds``: to them, or away from them) or ``owner_left`` (they left
    the post and the task needs a new owner)."""
    data = event["data"]
    change = event["type"].removeprefix("responsibility_")
    return {
        "responsibility_id": event["originator_id"],
        "change": label(RESPONSIBILITY_CHANGES, change),
        "kind": _maybe(TASK_KINDS, data.get("kind")),
        "title": data.get("title"),
        "holds": data["owner_id"] == cadre_id and change != "owner_left",
        "effective_date": data.get("effective_date"),
        "event_id": event["event_id"],
    }


def _kind(kind: str, form: str | None) -> dict[str, Any]:
    return {"kind": label(DECISIONS, kind), "form": _maybe(ACCOUNTABILITY_FORMS, form)}


def _changed_to(appeal: dict[str, Any] | None) -> dict[str, Any] | None:
    """What an appeal changed a decision to (its kind, form and new post), or None."""
    data = (appeal or {}).get("data") or {}
    changed = data.get("changed_to") if data.get("outcome") == "changed" else None
    if not changed:
        return None
    return {
        **_kind(changed["kind"], changed.get("form")),
        "unit_id": changed.get("unit_id"),
        "post": changed.get("post"),
        "rank": _maybe(RANKS, changed.get("rank")),
    }


def _decision(event: dict[str, Any], appeal: dict[str, Any] | None) -> dict[str, Any]:
    """A decision as it stands on the file's day: ``kind`` and ``form`` what it became
    (changed on appeal) or is, ``was`` what it was before an appeal changed it."""
    data = event["data"]
    outcome = appeal["data"]["outcome"] if appeal else None
    status = outcome if outcome in ("changed", "revoked") else "in_force"
    original = _kind(data["kind"], data.get("form"))
    changed = _changed_to(appeal)
    became = {"kind": changed["kind"], "form": changed["form"]} if changed else original
    return {
        "decision_id": data["decision_id"],
        "decision_type": label(DECISION_TYPES, data["decision_type"]),
        **became,
        "was": [original] if changed else [],
        "decided_on": data["decided_on"],
        "status": label(DECISION_STATUSES, status),
        "appeal": None
        if appeal is None
        else {
            "outcome": label(APPEAL_OUTCOMES, outcome),
            "decided_on": appeal["on"],
            "event_id": appeal["event_id"],
        },
        "event_id": event["event_id"],
    }


def _appeal(event: dict[str, Any], decision: dict[str, Any] | None) -> dict[str, Any]:
    """An appeal decided: its outcome, and for a changed decision what it was and became."""
    changed = _changed_to(event)
    was = None
    if changed and decision is not None:
        was = _kind(decision["data"]["kind"], decision["data"].get("form"))
    return {
        "decision_id": event["data"]["decision_id"],
        "outcome": label(APPEAL_OUTCOMES, event["data"]["outcome"]),
        "changed_from": was,
        "changed_to": changed,
        "decided_on": event["on"],
        "event_id": event["event_id"],
    }


def _commendations(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each commendation, with the rule that proposed it (if a rule did) and its
    publication on the honour roll as it stands on the file's day."""
    found: dict[str, dict[str, Any]] = {}
    for e in events:
        data = e["data"]
        if e["type"] == "commendation_commended":
            found[e["originator_id"]] = {
                "commendation_id": e["originator_id"],
                "kind": label(COMMENDATIONS, data["kind"]),
                "commended_on": e["on"],
                "rule": data.get("rule"),
                "rules_version": data.get("rules_version"),
                "source": data.get("source"),
                "published": None,
                "event_id": e["event_id"],
            }
        elif e["type"] == "commendation_published" and e["originator_id"] in found:
            found[e["originator_id"]]["published"] = {
                "citation": data["citation"],
                "published_on": data["published_on"],
                "withdrawn_on": None,
                "event_id": e["event_id"],
            }
        elif e["type"] == "commendation_publication_withdrawn" and e["originator_id"] in found:
            shown = found[e["originator_id"]]["published"]
            if shown is not None:
                shown["withdrawn_on"] = data["withdrawn_on"]
    return list(found.values())


def _restriction(restriction: Any, on: date) -> dict[str, Any]:
    zh, en = RESTRICTIONS[restriction.restricts]
    return {
        "rule": restriction.rule,
        "rules_version": restriction.version,
        "source": restriction.source,
        "restricts": {"code": restriction.restricts, "zh": zh, "en": en},
        "starts": restriction.starts.isoformat(),
        "ends": restriction.ends.isoformat(),
        "lifted_on": restriction.lifted_on.isoformat() if restriction.lifted_on else None,
        "in_force": restriction.in_force(on),
        "caused_by": restriction.caused_by,
        "lifted_by": restriction.lifted_by,
        "decision_id": restriction.decision_id,
    }


def public_record(document: dict[str, Any]) -> dict[str, Any]:
    """A record with the public fields only (``PUBLIC_RECORD_FIELDS``, in that order: never
    an id of a cadre, case or finding)."""
    record = {
        "record_id": document["_id"],
        "published_on": document["published_on"],
        "cadre_name": document.get("cadre_name"),
        "unit": document.get("unit"),
        "post": document.get("post"),
        "category": _maybe(CATEGORIES, document.get("category")),
        "situation": _maybe(SITUATIONS, document.get("situation")),
        "decision_type": _maybe(DECISION_TYPES, document.get("decision_type")),
        "decision": _maybe(DECISIONS, document.get("decision")),
        "form": _maybe(ACCOUNTABILITY_FORMS, document.get("form")),
        "decided_on": document.get("decided_on"),
        "summary": document.get("summary"),
    }
    return record


def honour(document: dict[str, Any]) -> dict[str, Any]:
    """An honour-roll entry with the public fields only (``HONOUR_FIELDS``, in that order)."""
    return {
        "honour_id": document["_id"],
        "published_on": document["published_on"],
        "cadre_name": document.get("cadre_name"),
        "unit": document.get("unit"),
        "post": document.get("post"),
        "kind": _maybe(COMMENDATIONS, document.get("kind")),
        "citation": document.get("public_citation"),
        "commended_on": document.get("commended_on"),
    }
