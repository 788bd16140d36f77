"""The evaluations application: ratings through the five channels, summaries, and annual
assessments by versioned rules. Citizens are never identified: a rating keeps only a keyed
hash (HMAC-SHA256, key ``EVALUATIONS_RATER_KEY``) of the channel's rater reference."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.application import project_aggregate
from eventsourcing.persistence import Mapper, StoredEvent
from pymongo.errors import BulkWriteError

from events.identity.personal import Erased, PersonalKeys, Sealed, subject_of
from events.log.commands import CommandApplication, Decision
from events.log.datastore import DUPLICATE_KEY
from schemas.common import label
from schemas.errors import Conflict, NotFound, RuleViolation
from schemas.evaluations.reference import (
    ASSESSMENT_RULES,
    CHANNELS,
    CURRENT_RULES,
    GRADES,
)
from services.evaluations.chain import OUTCOMES, CadreTasks, record_achieved
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
ERASING = "an erasure of this rater is under way: retry later"
RATED = "services.evaluations.domain:CadreRatings.Rated"
_KNOWN_KEYS: ContextVar[dict[str, bytes | None] | None] = ContextVar("known_keys", default=None)


class BulkKeys(PersonalKeys):
    """Personal keys read for a whole bulk command in a few round trips (``known``), not one
    or two per rating; a subject not known that way is looked up as usual."""

    @contextlib.contextmanager
    def known(self, keys: dict[str, bytes | None]) -> Iterator[None]:
        token = _KNOWN_KEYS.set(keys)
        try:
            yield
        finally:
            _KNOWN_KEYS.reset(token)

    def key(self, subject: str) -> bytes | None:
        keys = _KNOWN_KEYS.get()
        if keys is not None and subject in keys:
            return keys[subject]
        return super().key(subject)

    def key_to_seal(self, subject: str, renew: bool = False) -> bytes:
        keys = _KNOWN_KEYS.get()
        if keys is not None and keys.get(subject):
            return keys[subject]
        return super().key_to_seal(subject, renew)

    def lookup(self, subjects: Iterable[str]) -> tuple[dict[str, bytes | None], set[str]]:
        """The live keys of ``subjects`` (made for those who have none yet; None for an
        erased one, renewed when it seals), and the subjects being erased. New raters are
        the common case: their keys are inserted at once, and only the subjects that
        already had a document are read."""
        fresh = {s: AESGCM.generate_key(256) for s in set(subjects)}
        if not fresh:  # every rating of the command was refused
            return {}, set()
        existing = set()
        try:
            self.keys.insert_many(
                [{"_id": s, "key": key, "created_at": datetime.now(UTC)}
                 for s, key in fresh.items()], ordered=False,
            )  # fmt: skip
        except BulkWriteError as error:
            failed = error.details.get("writeErrors") or []
            if any(e.get("code") != DUPLICATE_KEY for e in failed):
                raise
            existing = {e["op"]["_id"] for e in failed}
        found = {d["_id"]: d for d in self.keys.find({"_id": {"$in": list(existing)}})}
        if set(found) != existing:
            raise Conflict("a personal key disappeared while it was being read: retry")
        keys = {s: key for s, key in fresh.items() if s not in existing}
        erasing = {s for s, d in found.items() if d.get("erasing")}
        keys |= {s: d.get("key") for s, d in found.items() if s not in erasing}
        return keys, erasing


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

    def construct_mapper(self) -> Mapper:
        mapper = super().construct_mapper()
        self.personal_keys = mapper.sealer.keys = BulkKeys(self.factory.datastore.database)
        return mapper

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

    def submit_ratings(self, command: dict[str, Any], refused: dict[int, str]) -> dict[str, Any]:
        """Many ratings in one command and one append: each is ``recorded``, a ``duplicate``
        (a rater's repeat, kept but not counted, as ``submit_rating`` keeps it) or
        ``refused`` with its reason (``refused``: index → reason, decided by the caller: the
        policy, the cadre; here: a rater being erased). A retry answers the same outcomes."""
        ratings = command["ratings"]
        for rating in ratings:  # raw references go no further than here
            rating["rater_hash"] = self.rater_hash(rating["channel"], rating.pop("rater_ref"))
        subjects = {subject_of(r["rater_hash"]) for i, r in enumerate(ratings) if i not in refused}
        known: dict[str, bytes | None] = {}  # the keys this command seals with

        def decide() -> Decision:
            keys, erasing = self.personal_keys.lookup(subjects)
            if erasing and self.finish_erasures():
                keys, erasing = self.personal_keys.lookup(subjects)
            aggregates = self._ratings_of({
                (r["cadre_id"], r["period"]) for i, r in enumerate(ratings) if i not in refused
            }, keys)  # fmt: skip
            changed: dict[UUID, CadreRatings] = {}
            outcomes: list[dict[str, Any]] = []
            for index, rating in enumerate(ratings):
                reason = refused.get(index)
                if reason is None and subject_of(rating["rater_hash"]) in erasing:
                    reason = ERASING
                if reason is not None:
                    outcomes.append({"outcome": "refused", "reason": reason})
                    continue
                key = CadreRatings.create_id(rating["cadre_id"], rating["period"])
                ratings_ = aggregates.get(key) or CadreRatings(rating["cadre_id"], rating["period"])
                aggregates[key] = changed[key] = ratings_
                counted = ratings_.rate(rating["channel"], rating["value"], rating["rater_hash"])
                outcomes.append({"outcome": "recorded" if counted else "duplicate"})
            totals = {kind: sum(o["outcome"] == kind for o in outcomes)
                      for kind in ("recorded", "duplicate", "refused")}  # fmt: skip
            known.clear()
            known.update(keys)
            return list(changed.values()), {**totals, "outcomes": outcomes}

        for _ in range(2):
            try:
                with self.personal_keys.known(known):
                    return self.execute("submit_ratings", command, decide)
            except Erased:  # marked since it was looked up: decided again, it is refused
                continue
        raise Conflict(ERASING)

    def _ratings_of(
        self, keys: set[tuple[UUID, str]], raters: dict[str, bytes | None]
    ) -> dict[UUID, CadreRatings]:
        """The ratings aggregates of (cadre, period) ``keys`` that exist, read in one query,
        as a command rating them needs them: a stored rating says who gave it only if its
        rater is among ``raters`` (subject → key, of the command's raters), the only ones it
        can be a repeat of; the others read as by nobody, without a key look-up or a
        decryption each (a sealed value names its subject: ``events.identity.personal``)."""
        ids = [CadreRatings.create_id(cadre, period) for cadre, period in keys]
        stored = [
            StoredEvent(d["originator_id"], d["originator_version"], d["topic"], d["state"])
            for d in self.recorder.events.find(
                {"originator_id": {"$in": ids}},
                {"_id": 0, "originator_id": 1, "originator_version": 1, "topic": 1, "state": 1},
            ).sort([("originator_id", 1), ("originator_version", 1)])
        ]
        subjects = {
            value.subject
            for event in stored
            if event.topic == RATED
            for value in self.mapper.transcoder.decode(event.state).values()
            if isinstance(value, Sealed)
        }
        known = {subject: raters.get(subject) for subject in subjects}
        by_id: dict[UUID, list] = {}
        with self.personal_keys.known(known):
            for event in stored:
                by_id.setdefault(event.originator_id, []).append(self.mapper.to_domain_event(event))
        return {
            aggregate_id: project_aggregate(None, events) for aggregate_id, events in by_id.items()
        }

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
            achieved = self.tasks_achieved(assessment)
            return [assessment], {**assessment_view(assessment), "tasks_achieved": achieved}

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
        return {**assessment_view(assessment), "tasks_achieved": self.tasks_achieved(assessment)}

    def tasks_achieved(self, assessment: Assessment) -> dict[str, int]:
        """Beside the grade: how many of the cadre's targets due that year were met on time,
        met late or missed (``services.evaluations.chain``)."""
        tasks = self.find(CadreTasks.create_id(assessment.cadre_id), CadreTasks)
        return tasks.in_year(assessment.year) if tasks else dict.fromkeys(OUTCOMES, 0)

    def record_tasks_achieved(
        self, event: dict[str, Any], owner_and_due: Callable[[str], tuple[UUID | None, dict]]
    ) -> int:
        """A task's targets concluded: what they achieved, for its owner that day."""

        def decide(upstream: dict[str, Any]) -> Decision:
            owner, due = owner_and_due(upstream["data"]["task_id"])
            if owner is None:
                return [], {"ignored": "the task has no serving owner"}
            tasks = self.find(CadreTasks.create_id(owner), CadreTasks)
            return record_achieved(tasks, owner, upstream, due)

        return self.process(
            event, "record_tasks_achieved", ["task_plan_targets_concluded"], decide, batch=1
        )

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
