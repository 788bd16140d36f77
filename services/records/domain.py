"""A cadre's personnel standing from the events of the logs (their public form, as
``schemas.events`` publishes them): the restrictions in force on any day, each citing its
rule, the rule's version and the events that caused it or lifted it; the consequences of
annual grades; the posting held; the whole file as of a day. Pure code: the ``records``
service's projection keeps each cadre's public events, and these functions read them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from schemas.accountability.reference import HANDLINGS
from schemas.records.reference import BAR_PROMOTION, CONSEQUENCE_RULES, RESTRICTION_RULES


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (the month's last day when it has fewer days)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)


@dataclass
class Restriction:
    rule: str
    version: str
    restricts: str
    source: str
    starts: date
    ends: date  # the first day it no longer applies
    caused_by: list[str]
    decision_id: str | None = None
    lifted_on: date | None = None
    lifted_by: list[str] = field(default_factory=list)

    def in_force(self, on: date) -> bool:
        lifted = self.lifted_on is not None and on >= self.lifted_on
        return self.starts <= on < self.ends and not lifted


def restrictions(events: list[dict[str, Any]], version: str) -> list[Restriction]:
    """The restrictions that a cadre's events (decisions on cases, appeals, assessments; in
    log order) cause under the rules of ``version``."""
    rules = RESTRICTION_RULES[version]
    found: list[Restriction] = []
    decided_on: dict[str, date] = {}  # decision → the day it was decided
    for event in events:
        data = event["data"]
        if event["type"] == "case_decided":
            facts = {data["decision_type"]: data["kind"], "form": data.get("form")}
            starts = decided_on[data["decision_id"]] = date.fromisoformat(data["decided_on"])
            decision = data["decision_id"]
        elif event["type"] == "assessment_concluded":
            facts = {"grade": data["outcome"]["grade"]}
            starts = date(data["year"] + 1, 1, 1)
            decision = None
        elif event["type"] == "case_appeal_decided" and data["outcome"] in ("revoked", "changed"):
            for restriction in found:
                if restriction.decision_id == data["decision_id"]:
                    restriction.lifted_on = date.fromisoformat(data["decided_on"])
                    restriction.lifted_by.append(event["event_id"])
            if data["outcome"] == "revoked" or not data.get("changed_to"):
                continue
            # A changed decision restricts as its new kind would have, from the original
            # decision's day (the time already served counts), whether or not the original
            # kind restricted anything.
            changed = data["changed_to"]
            decision_type = "handling" if changed["kind"] in HANDLINGS else "measure"
            facts = {decision_type: changed["kind"], "form": changed.get("form")}
            starts = decided_on.get(data["decision_id"]) or date.fromisoformat(data["decided_on"])
            decision = data["decision_id"]
        else:
            continue
        for name, rule in rules.items():
            if not any(facts.get(key) in values for key, values in rule["when"].items()):
                continue
            if rule.get("following_year"):
                ends = date(starts.year + 1, 1, 1)
            else:
                ends = add_months(starts, rule["months"])
            found.append(
                Restriction(
                    name,
                    version,
                    rule["restricts"],
                    rule["source"],
                    starts,
                    ends,
                    [event["event_id"]],
                    decision,
                )
            )
    return found


def eligible_for_promotion(found: list[Restriction], on: date) -> tuple[bool, list[str]]:
    """Whether nothing bars a promotion on ``on``, and if something does, why."""
    reasons = [
        f"{r.rule} (rules {r.version}, {r.source}): {r.restricts} until {r.ends.isoformat()}"
        for r in found
        if r.in_force(on) and r.restricts in BAR_PROMOTION
    ]
    return not reasons, reasons


@dataclass
class Consequence:
    rule: str
    version: str
    consequence: tuple[str, str]
    source: str
    year: int
    caused_by: list[str]


def consequences(assessments: list[dict[str, Any]], version: str) -> list[Consequence]:
    """What runs of annual grades lead to under the rules of ``version``: a rule fires in
    the year its grade has come ``years_running`` years in a row, and counts afresh after."""
    grades = {
        e["data"]["year"]: (e["data"]["outcome"]["grade"], e["event_id"]) for e in assessments
    }
    found = []
    for name, rule in CONSEQUENCE_RULES[version].items():
        streak: list[tuple[int, str]] = []
        for year in sorted(grades):
            grade, event_id = grades[year]
            if grade != rule["grade"] or (streak and streak[-1][0] != year - 1):
                streak = []
            if grade == rule["grade"]:
                streak.append((year, event_id))
            if len(streak) == rule["years_running"]:
                found.append(
                    Consequence(
                        name,
                        version,
                        rule["consequence"],
                        rule["source"],
                        year,
                        [e for _, e in streak],
                    )
                )
                streak = []
    return sorted(found, key=lambda c: (c.year, c.rule))


POSTING_EVENTS = {
    "cadre_registered",
    "cadre_appointed",
    "cadre_transferred",
    "cadre_changed_to_non_leadership",
    "cadre_sent_to_off_post_training",
    "cadre_dismissed",
    "cadre_ordered_to_resign",
    "cadre_demoted",
    "cadre_dismissed_from_service",
    "cadre_reinstated",
}
#: Events after which the cadre holds no post.
POST_ENDED = ("cadre_dismissed", "cadre_ordered_to_resign", "cadre_dismissed_from_service")
STATUS_AFTER = {
    "cadre_registered": "in_post",
    "cadre_appointed": "in_post",
    "cadre_transferred": "in_post",
    "cadre_sent_to_off_post_training": "off_post_training",
    "cadre_dismissed": "dismissed",
    "cadre_ordered_to_resign": "resigned",
    "cadre_dismissed_from_service": "dismissed_from_service",
}


def posting(registry_events: list[dict[str, Any]]) -> dict[str, Any]:
    """The unit, post, rank, kind of post and status that a cadre's registry events (in log
    order) leave, with the event that set them."""
    held: dict[str, Any] = {
        "unit_id": None,
        "post": None,
        "rank": None,
        "post_kind": None,
        "status": None,
        "since": None,
        "event_id": None,
    }
    for event in registry_events:
        if event["type"] not in POSTING_EVENTS:
            continue
        data = event["data"]
        if event["type"] in POST_ENDED:
            held.update(unit_id=None, post=None, post_kind=None)
        if event["type"] == "cadre_changed_to_non_leadership":
            held["post_kind"] = "non_leadership"
        held.update(
            {
                key: data[key]
                for key in ("unit_id", "post", "rank", "post_kind", "status")
                if data.get(key) is not None
            }
        )
        if event["type"] in STATUS_AFTER:
            held["status"] = STATUS_AFTER[event["type"]]
        held.update(since=data.get("effective_date"), event_id=event["event_id"])
    return held
