"""Check a log's hash chain from its stored documents (docs/log-format.md).

Streams the log in position order, so memory stays flat however long the log is, and
stops at the first break: the position where what is stored differs from what the chain
says it must be.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from pymongo.database import Database

from events.audit.checkpoints import CheckpointCheck, Keys, checkpoints_of, trust_chain
from events.audit.witness import Held, WitnessCheck
from events.log.chain import EVENT_FIELDS, GENESIS_HASH, event_hash
from events.log.recorders import HEADS_COLLECTION

HEX_DIGITS = "0123456789abcdef"
_FIELD_TYPES = {
    "position": int,
    "originator_id": (UUID, str),
    "originator_version": int,
    "topic": str,
    "state": bytes,
    "recorded_at": datetime,
    "prev_hash": str,
    "hash": str,
}


@dataclass(frozen=True)
class Break:
    """Where a log breaks: at ``position``, or, where only a range is known (a rewrite
    found by a checkpoint), after ``after`` (the last position that still holds) and at or
    before ``position``."""

    position: int
    reason: str
    after: int | None = None

    @property
    def where(self) -> str:
        if self.after is not None and self.after + 1 < self.position:
            return f"between positions {self.after + 1} and {self.position}"
        return f"at position {self.position}"


@dataclass(frozen=True)
class Verdict:
    log: str
    events_checked: int
    head_position: int | None
    head_hash: str | None
    first_break: Break | None
    checkpoints_checked: int = 0
    witnessed: tuple[str, ...] = ()  # what each thing held covered of the log

    @property
    def ok(self) -> bool:
        return self.first_break is None


def check_chain(
    log: str,
    documents: Iterable[dict],
    head: dict,
    progress: Callable[[int], None] | None = None,
    checkpoints: CheckpointCheck | None = None,
    witnesses: Sequence[WitnessCheck] = (),
) -> Verdict:
    """Verify ``documents`` (in position order) against each other, the log's head (one
    that ``head_problem`` accepts), its signed ``checkpoints`` and what each of the
    ``witnesses`` holds of it."""
    expected_position, prev_hash, checked = 1, GENESIS_HASH, 0

    def verdict(first_break: Break | None) -> Verdict:
        signed = checkpoints.checked if checkpoints is not None else 0
        covered = tuple(witness.covered() for witness in witnesses)
        return Verdict(log, checked, head["position"], head["hash"], first_break, signed,
                       covered)  # fmt: skip

    for document in documents:
        problem = _document_problem(document)
        if problem is None and document["position"] != expected_position:
            found = document["position"]
            gap = "events are missing" if found > expected_position else "out of order"
            problem = f"expected position {expected_position} next, found {found}: {gap}"
        if problem is None and document["prev_hash"] != prev_hash:
            problem = (
                f"prev_hash is {document['prev_hash']}, but the event before it hashes "
                f"to {prev_hash}"
            )
        if problem is None:
            recomputed = event_hash(log, document, prev_hash)
            if document["hash"] != recomputed:
                problem = (
                    f"stored hash {document['hash']} differs from {recomputed}, "
                    "the hash of the stored fields: a field was changed"
                )
        if problem is not None:
            return verdict(Break(expected_position, problem))
        for check in (checkpoints, *witnesses):
            problem = check.at(expected_position, document["hash"]) if check else None
            if problem is not None:
                return verdict(Break(expected_position, problem, check.parted_after))
        prev_hash = document["hash"]
        expected_position += 1
        checked += 1
        if progress is not None:
            progress(1)

    last_position = expected_position - 1
    removed = checkpoints.beyond(last_position) if checkpoints is not None else None
    for witness in witnesses:
        if removed is None:
            removed = witness.beyond(last_position)
    for witness in witnesses:
        if removed is None and checkpoints is not None:
            removed = witness.dropped(checkpoints.signatures)
    if removed is not None:
        return verdict(Break(*removed))
    head_position = head["position"]
    if (last_position, prev_hash) != (head_position, head["hash"]):
        if last_position < head_position:
            position = expected_position  # the first of the events missing at the end
        elif last_position > head_position:
            position = head_position + 1  # the first event beyond the head
        else:
            position = last_position
        return verdict(
            Break(
                position,
                f"the head says position {head_position} with hash {head['hash']}, "
                f"the stored events end at {last_position} with hash {prev_hash}",
            )
        )
    return verdict(None)


def head_problem(head: dict | None) -> str | None:
    if head is None:
        return "the log has no head document in log_heads"
    position, hash_ = head.get("position"), head.get("hash")
    if not isinstance(position, int) or isinstance(position, bool) or position < 0:
        return f"the head's position {position!r} is not an integer of at least 0"
    if not (isinstance(hash_, str) and len(hash_) == 64 and set(hash_) <= set(HEX_DIGITS)):
        return f"the head's hash {hash_!r} is not 64 lowercase hex digits"
    return None


def _document_problem(document: dict) -> str | None:
    fields = set(document) - {"_id"}
    if fields != set(EVENT_FIELDS):
        missing = sorted(set(EVENT_FIELDS) - fields)
        extra = sorted(fields - set(EVENT_FIELDS))
        return f"fields differ from the format: missing {missing}, unexpected {extra}"
    for name, kinds in _FIELD_TYPES.items():
        value = document[name]
        if not isinstance(value, kinds) or (kinds is int and isinstance(value, bool)):
            return f"field {name} has type {type(value).__name__}"
    return None


def stored_documents(
    database: Database, log: str, head_position: int, window: int = 1000
) -> Iterator[dict]:
    """The log's documents at positions 1..head_position, in order, read in bounded windows
    (which any server answers from the position index)."""
    after = 0
    while after < head_position:
        high = min(after + window, head_position)
        query = {"position": {"$gt": after, "$lte": high}}
        yield from database[log].find(query).sort("position", 1)
        after = high


def _outside_the_chain(database: Database, log: str) -> Break | None:
    """Documents that no walk from position 1 to the head meets. A live log grows while it
    is verified, so an event beyond the head is a break only if it is beyond a head read
    after it was found (an append commits its events and its head together). Checking the
    highest such event finds any forged one, whatever live appends lie below it."""
    collection = database[log]
    if collection.find_one({"position": {"$not": {"$type": ["int", "long"]}}}) is not None:
        return Break(0, "a document in the log has no integer position")
    if collection.find_one({"position": {"$lte": 0}}) is not None:
        return Break(0, "a document in the log has a position below 1")
    head = database[HEADS_COLLECTION].find_one({"_id": log}) or {}
    highest = collection.find_one(
        {"position": {"$gt": head.get("position", 0)}}, sort=[("position", -1)]
    )
    if highest is None:
        return None
    head = database[HEADS_COLLECTION].find_one({"_id": log}) or {}
    if highest["position"] > head.get("position", 0):
        return Break(
            highest["position"], f"an event beyond the head (position {head.get('position')})"
        )
    return None


def verify_log(
    database: Database,
    log: str,
    progress: Callable[[int], None] | None = None,
    trust: str | None = None,
    held: Sequence[Held] = (),
) -> Verdict:
    """Verify positions 1 to the head as read now, the log's checkpoints signed by keys
    trusted from ``trust`` (``trust_chain``) and what each of ``held`` holds of it, then
    look for documents outside the chain."""
    head = database[HEADS_COLLECTION].find_one({"_id": log})
    problem = head_problem(head)
    if problem is not None:
        return Verdict(log, 0, None, None, Break(0, problem))
    trusted, problems = trust_chain(Keys(database).all(), trust)
    if problems:
        return Verdict(log, 0, None, None, Break(0, "; ".join(problems)))
    checks = CheckpointCheck(checkpoints_of(database, log), trusted)
    witnesses = [one.check(log) for one in held]
    documents = stored_documents(database, log, head["position"])
    verdict = check_chain(log, documents, head, progress, checks, witnesses)
    if verdict.ok:
        outside = _outside_the_chain(database, log)
        if outside is not None:
            return replace(verdict, first_break=outside)
    return verdict


def logs(database: Database) -> list[str]:
    """Every log in the database: each has a head document."""
    return sorted(head["_id"] for head in database[HEADS_COLLECTION].find({}, {"_id": 1}))
