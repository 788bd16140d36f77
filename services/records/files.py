"""Answers composed from the projections' documents: a cadre's personnel file as of a day,
their eligibility for promotion, and public records as the public may see them."""

from __future__ import annotations

from datetime import date
from typing import Any

from schemas.accountability.reference import (
    ACCOUNTABILITY_FORMS,
    APPEAL_OUTCOMES,
    COMMENDATIONS,
    EXEMPTIONS,
    HANDLINGS,
    MEASURES,
)
from schemas.cadre_registry.reference import POST_KINDS, RANKS, STATUSES
from schemas.common import label
from schemas.evaluations.reference import GRADES
from schemas.inspections.reference import CATEGORIES, SITUATIONS
from schemas.records.reference import CURRENT_RESTRICTION_RULES, RESTRICTIONS
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


def personnel_file(
    document: dict[str, Any], units: dict[str, str], as_of: date, version: str | None = None
) -> dict[str, Any]:
    version = version or CURRENT_RESTRICTION_RULES
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
            }
            for e in of["evaluations"]
            if e["type"] == "assessment_concluded"
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
            _decision(e, appeals.get(e["data"]["decision_id"]))
            for e in of["accountability"]
            if e["type"] == "case_decided"
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
        "appeals": [
            {
                "decision_id": e["data"]["decision_id"],
                "outcome": label(APPEAL_OUTCOMES, e["data"]["outcome"]),
                "decided_on": e["on"],
                "event_id": e["event_id"],
            }
            for e in appeals.values()
        ],
        "commendations": [
            {
                "kind": label(COMMENDATIONS, e["data"]["kind"]),
                "commended_on": e["on"],
                "event_id": e["event_id"],
            }
            for e in of["accountability"]
            if e["type"] == "commendation_commended"
        ],
        "restrictions": [_restriction(r, as_of) for r in found],
        "consequences": [
            {
                "rule": c.rule,
                "rules_version": c.version,
                "source": c.source,
                "year": c.year,
                "consequence": {"zh": c.consequence[0], "en": c.consequence[1]},
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


def _post_change(event: dict[str, Any], units: dict[str, str]) -> dict[str, Any]:
    data = event["data"]
    return {
        "change": event["type"].removeprefix("cadre_"),
        "effective_date": data.get("effective_date"),
        "unit": units.get(data["unit_id"]) if data.get("unit_id") else None,
        "post": data.get("post"),
        "rank": _maybe(RANKS, data.get("rank")),
        "reason": data.get("reason"),
        "event_id": event["event_id"],
    }


def _responsibility(event: dict[str, Any], cadre_id: str) -> dict[str, Any]:
    data = event["data"]
    return {
        "responsibility_id": event["originator_id"],
        "kind": data.get("kind"),
        "title": data.get("title"),
        "holds": data["owner_id"] == cadre_id,
        "effective_date": data.get("effective_date"),
        "event_id": event["event_id"],
    }


def _decision(event: dict[str, Any], appeal: dict[str, Any] | None) -> dict[str, Any]:
    data = event["data"]
    status = (
        "in_force"
        if appeal is None or appeal["data"]["outcome"] == "upheld"
        else (appeal["data"]["outcome"])
    )
    return {
        "decision_id": data["decision_id"],
        "decision_type": data["decision_type"],
        "kind": label(DECISIONS, data["kind"]),
        "form": _maybe(ACCOUNTABILITY_FORMS, data.get("form")),
        "decided_on": data["decided_on"],
        "status": status,
        "event_id": event["event_id"],
    }


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
        "decision_type": document.get("decision_type"),
        "decision": _maybe(DECISIONS, document.get("decision")),
        "form": _maybe(ACCOUNTABILITY_FORMS, document.get("form")),
        "decided_on": document.get("decided_on"),
        "summary": document.get("summary"),
    }
    return record
