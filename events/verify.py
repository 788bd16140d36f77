"""Check a log's hash chain from its stored documents (docs/log-format.md).

Streams the log in position order, so memory stays flat however long the log is, and
stops at the first break: the position where what is stored differs from what the chain
says it must be.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from pymongo.database import Database

from events.logformat import EVENT_FIELDS, GENESIS_HASH, event_hash
from events.mongodb import HEADS_COLLECTION

_FIELD_TYPES = {
    "_id": int,
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
    position: int
    reason: str


@dataclass(frozen=True)
class Verdict:
    log: str
    events_checked: int
    head_position: int | None
    head_hash: str | None
    first_break: Break | None

    @property
    def ok(self) -> bool:
        return self.first_break is None


def check_chain(
    log: str,
    documents: Iterable[dict],
    head: dict | None,
    progress: Callable[[int], None] | None = None,
) -> Verdict:
    """Verify ``documents`` (in position order) against each other and the log's head."""
    expected_position, prev_hash, checked = 1, GENESIS_HASH, 0

    def verdict(first_break: Break | None) -> Verdict:
        return Verdict(
            log,
            checked,
            None if head is None else head.get("position"),
            None if head is None else head.get("hash"),
            first_break,
        )

    for document in documents:
        problem = _document_problem(document)
        if problem is None and document["_id"] != expected_position:
            found = document["_id"]
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
        prev_hash = document["hash"]
        expected_position += 1
        checked += 1
        if progress is not None:
            progress(1)

    last_position = expected_position - 1
    if head is None:
        if last_position:
            return verdict(Break(last_position, "the log has events but no head document"))
        return verdict(None)
    head_position = head.get("position")
    if head_position != last_position or head.get("hash") != prev_hash:
        if isinstance(head_position, int) and head_position != last_position:
            position = min(head_position, last_position) + 1
        else:
            position = last_position
        return verdict(
            Break(
                position,
                f"the head says position {head_position} with hash {head.get('hash')}, "
                f"the stored events end at {last_position} with hash {prev_hash}",
            )
        )
    return verdict(None)


def _document_problem(document: dict) -> str | None:
    fields = set(document)
    if fields != set(EVENT_FIELDS):
        missing = sorted(set(EVENT_FIELDS) - fields)
        extra = sorted(fields - set(EVENT_FIELDS))
        return f"fields differ from the format: missing {missing}, unexpected {extra}"
    for name, kinds in _FIELD_TYPES.items():
        value = document[name]
        if not isinstance(value, kinds) or (kinds is int and isinstance(value, bool)):
            return f"field {name} has type {type(value).__name__}"
    return None


def stored_documents(database: Database, log: str) -> Iterator[dict]:
    return database[log].find({}, sort=[("_id", 1)], batch_size=1000)


def verify_log(
    database: Database, log: str, progress: Callable[[int], None] | None = None
) -> Verdict:
    head = database[HEADS_COLLECTION].find_one({"_id": log})
    return check_chain(log, stored_documents(database, log), head, progress)


def logs(database: Database) -> list[str]:
    """Every log in the database: each has a head document."""
    return sorted(head["_id"] for head in database[HEADS_COLLECTION].find({}, {"_id": 1}))
