"""Ratings and annual assessments: aggregates and the assessment rules. Pure code."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from schemas.errors import RuleViolation
from schemas.evaluations.reference import CHANNELS, GRADE_ORDER, assessment_opens, score

NAMESPACE = UUID("0b8f6f8e-4d0c-4f7e-9d6a-3a1c2e5b7d11")


class CadreRatings(Aggregate):
    """What every channel said of one cadre in one period (a month). A rater (known only by
    a keyed hash of the channel's reference) counts once per channel and period."""

    @staticmethod
    def create_id(cadre_id: UUID, period: str) -> UUID:
        return uuid5(NAMESPACE, f"ratings:{cadre_id}:{period}")

    @event("Opened")
    def __init__(self, cadre_id: UUID, period: str) -> None:
        self.cadre_id = cadre_id
        self.period = period
        self.ratings: list[dict[str, Any]] = []

    def rate(self, channel: str, value: str | int, rater_hash: str) -> bool:
        """Record a rating; return whether it counts (False: this rater already rated)."""
        counted = not any(
            r["channel"] == channel and r["rater_hash"] == rater_hash for r in self.ratings
        )
        self._rated(channel, value, score(channel, value), rater_hash, counted)
        return counted

    @event("Rated")
    def _rated(
        self, channel: str, value: str | int, score: float, rater_hash: str, counted: bool
    ) -> None:
        self.ratings.append(
            {"channel": channel, "value": value, "score": score,
             "rater_hash": rater_hash, "counted": counted}
        )  # fmt: skip


def summarize(ratings: list[dict[str, Any]]) -> dict[str, Any]:
    """Per channel and per source (official / public): ratings received, counted, the mean."""
    by_channel: dict[str, list[dict]] = defaultdict(list)
    for rating in ratings:
        by_channel[rating["channel"]].append(rating)
    channels = {}
    by_source: dict[str, list[float]] = defaultdict(list)
    for channel, received in sorted(by_channel.items()):
        scores = [r["score"] for r in received if r["counted"]]
        channels[channel] = {
            "received": len(received),
            "counted": len(scores),
            "duplicates": len(received) - len(scores),
            "mean_score": round(sum(scores) / len(scores), 2) if scores else None,
        }
        by_source[CHANNELS[channel][2]] += scores
    sources = {
        source: {
            "counted": len(by_source[source]),
            "mean_score": round(sum(by_source[source]) / len(by_source[source]), 2)
            if by_source[source]
            else None,
        }
        for source in ("official", "public")
    }
    return {"channels": channels, "sources": sources}


def assess(
    ratings: list[dict[str, Any]],
    rules: dict[str, Any],
    version: str,
    measures: list[str] = (),
) -> dict[str, Any]:
    """The annual grade from a year's ratings, by ``rules`` (one version of them), and the
    measures in force that the cadre was given that year (``measures``: their kinds)."""
    summary = summarize(ratings)
    for source, minimum in rules["minimum_ratings"].items():
        counted = summary["sources"][source]["counted"]
        if counted < minimum:
            raise RuleViolation(
                "evaluations.minimum_ratings",
                f"{counted} counted {source} ratings; rules {version} need at least {minimum}",
            )
    final = sum(
        weight * summary["sources"][source]["mean_score"]
        for source, weight in rules["weights"].items()
    )
    grade = next((g for g, lowest in rules["thresholds"].items() if final >= lowest), "incompetent")
    vetoes = []
    for veto in rules["vetoes"]:
        counted = [r for r in ratings if r["counted"] and r["channel"] == veto["channel"]]
        share = sum(r["value"] == veto["value"] for r in counted) / len(counted) if counted else 0
        capped = GRADE_ORDER.index(veto["grade_at_most"]) > GRADE_ORDER.index(grade)
        if share >= veto["share_at_least"] and capped:
            grade = veto["grade_at_most"]
            vetoes.append(veto["rule"])
    for veto in rules.get("measure_vetoes", []):
        capped = GRADE_ORDER.index(veto["grade_at_most"]) > GRADE_ORDER.index(grade)
        if capped and set(measures) & set(veto["measures"]):
            grade = veto["grade_at_most"]
            vetoes.append(veto["rule"])
    return {
        "grade": grade,
        "final_score": round(final, 2),
        "summary": summary,
        "vetoes": vetoes,
        "rules_version": version,
    }


def check_assessment_day(year: int, concluded_on: date, today: date, version: str) -> None:
    """A year is assessed on a day no later than today, and not before its assessment
    period opens (``assessment_opens`` of the rules ``version``)."""
    if concluded_on > today:
        raise RuleViolation(
            "evaluations.not_after_today",
            f"concluded_on {concluded_on} is after the city's today ({today})",
        )
    opens = assessment_opens(year, version)
    if concluded_on < opens:
        raise RuleViolation(
            "evaluations.assessment_period",
            f"the {year} assessment period opens on {opens} (rules {version}); "
            f"it cannot be concluded on {concluded_on}",
        )


class Assessment(Aggregate):
    """A cadre's concluded annual assessment (年度考核), with the rules version it used and
    the day it was concluded (None: recorded before assessments were dated)."""

    @staticmethod
    def create_id(cadre_id: UUID, year: int) -> UUID:
        return uuid5(NAMESPACE, f"assessment:{cadre_id}:{year}")

    @event("Concluded")
    def __init__(
        self, cadre_id: UUID, year: int, outcome: dict[str, Any], concluded_on: date | None = None
    ) -> None:
        self.cadre_id = cadre_id
        self.year = year
        self.outcome = outcome
        self.concluded_on = concluded_on


class CadreSanctions(Aggregate):
    """The measures a cadre was given (from accountability's decisions), by year, as the
    assessment's vetoes need them; a measure revoked on appeal no longer counts."""

    @staticmethod
    def create_id(cadre_id: UUID) -> UUID:
        return uuid5(NAMESPACE, f"sanctions:{cadre_id}")

    @event("Opened")
    def __init__(self, cadre_id: UUID) -> None:
        self.cadre_id = cadre_id
        self.measures: dict[str, dict[str, Any]] = {}

    def record(self, decision_id: str, kind: str, year: int) -> None:
        if decision_id not in self.measures:
            self._recorded(decision_id, kind, year)

    def revoke(self, decision_id: str) -> bool:
        if self.measures.get(decision_id, {}).get("in_force"):
            self._revoked(decision_id)
            return True
        return False

    def change(self, decision_id: str, kind: str) -> bool:
        if decision_id in self.measures:
            self._changed(decision_id, kind)
            return True
        return False

    def in_year(self, year: int) -> list[str]:
        return sorted(m["kind"] for m in self.measures.values()
                      if m["in_force"] and m["year"] == year)  # fmt: skip

    @event("Recorded")
    def _recorded(self, decision_id: str, kind: str, year: int) -> None:
        self.measures[decision_id] = {"kind": kind, "year": year, "in_force": True}

    @event("Revoked")
    def _revoked(self, decision_id: str) -> None:
        self.measures[decision_id]["in_force"] = False

    @event("Changed")
    def _changed(self, decision_id: str, kind: str) -> None:
        self.measures[decision_id]["kind"] = kind


class RaterErasure(Aggregate):
    """That a rater's references were erased, when and why; never whose (their keys are
    destroyed, so every rating they gave reads as by nobody: events.identity.personal)."""

    @event("Recorded")
    def __init__(self, reason: str, erased_on: date) -> None:
        self.reason = reason
        self.erased_on = erased_on
