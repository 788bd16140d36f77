"""Ratings and annual assessments: aggregates and the assessment rules. Pure code."""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from schemas.errors import RuleViolation
from schemas.evaluations.reference import CHANNELS, GRADE_ORDER, score

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


def assess(ratings: list[dict[str, Any]], rules: dict[str, Any], version: str) -> dict[str, Any]:
    """The annual grade from a year's ratings, by ``rules`` (one version of them)."""
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
    return {
        "grade": grade,
        "final_score": round(final, 2),
        "summary": summary,
        "vetoes": vetoes,
        "rules_version": version,
    }


class Assessment(Aggregate):
    """A cadre's concluded annual assessment (年度考核), with the rules version it used."""

    @staticmethod
    def create_id(cadre_id: UUID, year: int) -> UUID:
        return uuid5(NAMESPACE, f"assessment:{cadre_id}:{year}")

    @event("Concluded")
    def __init__(self, cadre_id: UUID, year: int, outcome: dict[str, Any]) -> None:
        self.cadre_id = cadre_id
        self.year = year
        self.outcome = outcome
