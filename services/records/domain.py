"""A cadre's personnel standing from the events of the logs (their public form, as
``schemas.events`` publishes them): the restrictions in force on any day, each citing its
rule, the rule's version and the events that caused it or lifted it. Pure code: groundwork
of the ``records`` service (issue 6)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from schemas.records.reference import BAR_PROMOTION, RESTRICTION_RULES


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
    for event in events:
        data = event["data"]
        if event["type"] == "case_decided":
            facts = {data["decision_type"]: data["kind"], "form": data.get("form")}
            starts = date.fromisoformat(data["decided_on"])
            decision = data["decision_id"]
        elif event["type"] == "assessment_concluded":
            facts = {"grade": data["outcome"]["grade"]}
            starts = date(data["year"] + 1, 1, 1)
            decision = None
        elif event["type"] == "case_appeal_decided" and data["outcome"] == "revoked":
            for restriction in found:
                if restriction.decision_id == data["decision_id"]:
                    restriction.lifted_on = date.fromisoformat(data["decided_on"])
                    restriction.lifted_by.append(event["event_id"])
            continue
        else:
            continue
        for name, rule in rules.items():
            if not any(facts.get(key) in values for key, values in rule["when"].items()):
                continue
            if rule.get("following_year"):
                ends = date(starts.year + 1, 1, 1)
            else:
                ends = add_months(starts, rule["months"])
            found.append(Restriction(name, version, rule["restricts"], rule["source"], starts,
                                     ends, [event["event_id"]], decision))  # fmt: skip
    return found


def eligible_for_promotion(found: list[Restriction], on: date) -> tuple[bool, list[str]]:
    """Whether nothing bars a promotion on ``on``, and if something does, why."""
    reasons = [
        f"{r.rule} (rules {r.version}, {r.source}): {r.restricts} until {r.ends.isoformat()}"
        for r in found
        if r.in_force(on) and r.restricts in BAR_PROMOTION
    ]
    return not reasons, reasons
