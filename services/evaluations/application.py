"""The evaluations application: ratings through the five channels, summaries, and annual
assessments by versioned rules. Citizens are never identified: a rating keeps only a keyed
hash (HMAC-SHA256, key ``EVALUATIONS_RATER_KEY``) of the channel's rater reference."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date
from typing import Any
from uuid import UUID

from events.commands import CommandApplication, Decision
from events.personal import Erased
from schemas.common import label
from schemas.errors import Conflict, NotFound, RuleViolation
from schemas.evaluations.reference import (
    ASSESSMENT_RULES,
    CHANNELS,
    CURRENT_RULES,
    GRADES,
)
from services.evaluations.domain import (
    Assessment,
    CadreRatings,
    CadreSanctions,
    RaterErasure,
    assess,
    check_assessment_day,
    summarize,
)

MEASURE_EVENTS = ("case_decided", "case_appeal_decided")


class Evaluations(CommandApplication):
    name = "Evaluations"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        key = self.env.get("EVALUATIONS_RATER_KEY")
        if not key:
            msg = "EVALUATIONS_RATER_KEY is not set: it keys the hashes of raters' references"
            raise OSError(msg)
        self._rater_key = key.encode()
        self.finish_erasures()

    def rater_hash(self, channel: str, rater_ref: str) -> str:
        return hmac.new(
            self._rater_key, f"{channel}:{rater_ref}".encode(), hashlib.sha256
        ).hexdigest()

    def erase_rater(self, command: dict[str, Any]) -> dict[str, Any]:
        """Record that a rater was erased, then destroy the keys of their references on every
        channel (``CommandApplication.erase``), so their ratings keep counting but no longer
        say who gave them. The raw reference goes no further than here: the payload (and so
        the command's digest, which tells a retry from a reused ``command_id``) keeps its
        keyed hash instead."""
        rater_ref = command.pop("rater_ref")
        command["rater_hash"] = self.rater_hash("*", rater_ref)

        def decide() -> Decision:
            erasure = RaterErasure(command["reason"], command["erased_on"])
            return [erasure], {"erasure_id": str(erasure.id)}

        persons = [self.rater_hash(channel, rater_ref) for channel in CHANNELS]
        return self.erase("erase_rater", command, decide, persons)

    def submit_rating(self, command: dict[str, Any]) -> dict[str, Any]:
        # The raw reference goes no further than here: not into events, not into the digest.
        rater_hash = self.rater_hash(command["channel"], command.pop("rater_ref"))
        command["rater_hash"] = rater_hash

        def decide() -> Decision:
            ratings = self._ratings(command["cadre_id"], command["period"])
            if ratings is None:
                ratings = CadreRatings(command["cadre_id"], command["period"])
            counted = ratings.rate(command["channel"], command["value"], rater_hash)
            return [ratings], {"counted": counted, "period": command["period"]}

        try:
            return self.execute("submit_rating", command, decide)
        except Erased:  # the rater's key is marked: an erasure is under way, or left unfinished
            self.finish_erasures()
        try:
            return self.execute("submit_rating", command, decide)
        except Erased:
            msg = "an erasure of this rater is under way: retry later"
            raise Conflict(msg) from None

    def ratings_summary(self, query: dict[str, Any]) -> dict[str, Any]:
        ratings = self._period_ratings(query["cadre_id"], query["period"])
        return {
            "cadre_id": str(query["cadre_id"]),
            "period": query["period"],
            **with_labels(summarize(ratings)),
        }

    def conclude_annual_assessment(self, command: dict[str, Any], today: date) -> dict[str, Any]:
        """``concluded_on`` (else ``today``, the city's) is no later than today and within
        the year's assessment period."""
        version = command["rules_version"] or CURRENT_RULES
        concluded_on = command.get("concluded_on") or today

        def decide() -> Decision:
            check_assessment_day(command["year"], concluded_on, today, version)
            assessment_id = Assessment.create_id(command["cadre_id"], command["year"])
            if self.find(assessment_id, Assessment) is not None:
                raise RuleViolation(
                    "evaluations.assessment_concluded",
                    f"the {command['year']} assessment of this cadre is already concluded",
                )
            ratings = self._period_ratings(command["cadre_id"], str(command["year"]))
            sanctions = self.find(CadreSanctions.create_id(command["cadre_id"]), CadreSanctions)
            measures = sanctions.in_year(command["year"]) if sanctions else []
            outcome = assess(ratings, ASSESSMENT_RULES[version], version, measures)
            assessment = Assessment(command["cadre_id"], command["year"], outcome, concluded_on)
            return [assessment], assessment_view(assessment)

        return self.execute("conclude_annual_assessment", command, decide)

    def record_measures(self, event: dict[str, Any]) -> int:
        """Measures decided on accountability cases (and their revocation or change on
        appeal), kept per cadre for the assessment of their year. One policy for both kinds
        of event, so that it sees them in log order."""

        def decide(upstream: dict[str, Any]) -> Decision:
            data = upstream["data"]
            if upstream["type"] == "case_decided" and data["decision_type"] != "measure":
                return [], {"ignored": "a handling"}
            sanctions_id = CadreSanctions.create_id(UUID(data["cadre_id"]))
            sanctions = self.find(sanctions_id, CadreSanctions)
            if upstream["type"] == "case_decided":
                sanctions = sanctions or CadreSanctions(UUID(data["cadre_id"]))
                year = int(data["decided_on"][:4])
                sanctions.record(data["decision_id"], data["kind"], year)
                return [sanctions], {"recorded": data["kind"], "year": year}
            if sanctions is None:
                return [], {"ignored": "no measure of this cadre is recorded"}
            if data["outcome"] == "revoked" and sanctions.revoke(data["decision_id"]):
                return [sanctions], {"revoked": data["decision_id"]}
            changed = data["changed_to"] or {}
            if data["outcome"] == "changed" and sanctions.change(
                data["decision_id"], changed.get("kind")
            ):
                return [sanctions], {"changed_to": changed.get("kind")}
            return [], {"ignored": f"an appeal {data['outcome']}"}

        return self.process(event, "record_measures", MEASURE_EVENTS, decide)

    def get_assessment(self, query: dict[str, Any]) -> dict[str, Any]:
        assessment = self.find(Assessment.create_id(query["cadre_id"], query["year"]), Assessment)
        if assessment is None:
            raise NotFound(f"no {query['year']} assessment of cadre {query['cadre_id']}")
        return assessment_view(assessment)

    def _period_ratings(self, cadre_id: UUID, period: str) -> list[dict[str, Any]]:
        """The ratings of a month, or of every month of a year."""
        months = [period] if "-" in period else [f"{period}-{m:02d}" for m in range(1, 13)]
        found = (self._ratings(cadre_id, month) for month in months)
        return [rating for ratings in found if ratings for rating in ratings.ratings]

    def _ratings(self, cadre_id: UUID, period: str) -> CadreRatings | None:
        return self.find(CadreRatings.create_id(cadre_id, period), CadreRatings)


def with_labels(summary: dict[str, Any]) -> dict[str, Any]:
    return {
        "channels": {
            channel: {"channel": label(CHANNELS, channel), **figures}
            for channel, figures in summary["channels"].items()
        },
        "sources": summary["sources"],
    }


def assessment_view(assessment: Assessment) -> dict[str, Any]:
    outcome = assessment.outcome
    return {
        "cadre_id": str(assessment.cadre_id),
        "year": assessment.year,
        "grade": label(GRADES, outcome["grade"]),
        "final_score": outcome["final_score"],
        "vetoes": outcome["vetoes"],
        "rules_version": outcome["rules_version"],
        "concluded_on": assessment.concluded_on.isoformat() if assessment.concluded_on else None,
        **with_labels(outcome["summary"]),
    }
