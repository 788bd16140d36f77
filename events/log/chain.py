"""The stored form of a log event and its hash chain (specified in docs/log-format.md).

Everything here is pure: the recorder uses it to write, the verifier to check. The
encoding is deliberately simple so that anyone can re-implement it with hashlib alone.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from uuid import UUID

FORMAT_TAG = b"youwei-log-v1"
GENESIS_HASH = "0" * 64

#: The fields of every event document besides MongoDB's own ``_id``.
EVENT_FIELDS = (
    "position",
    "originator_id",
    "originator_version",
    "topic",
    "state",
    "recorded_at",
    "prev_hash",
    "hash",
)


def _int64(value: int) -> bytes:
    return value.to_bytes(8, "big", signed=True)


def _originator_id_bytes(originator_id: UUID | str) -> bytes:
    if isinstance(originator_id, UUID):
        return b"u" + originator_id.bytes
    if isinstance(originator_id, str):
        return b"s" + originator_id.encode("utf-8")
    msg = f"originator_id must be a UUID or a str, not {type(originator_id).__name__}"
    raise TypeError(msg)


def recorded_at_millis(recorded_at: datetime) -> int:
    """BSON dates hold milliseconds since the Unix epoch (UTC); the hash covers exactly that."""
    if recorded_at.tzinfo is None:
        recorded_at = recorded_at.replace(tzinfo=UTC)
    delta = recorded_at - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def now_millis() -> datetime:
    """The current UTC time, truncated to what a BSON date keeps."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def canonical_bytes(
    log: str,
    position: int,
    originator_id: UUID | str,
    originator_version: int,
    topic: str,
    state: bytes,
    recorded_at: datetime,
    prev_hash: str,
) -> bytes:
    """Each part, prefixed by its length as a 4-byte big-endian unsigned integer."""
    parts = (
        FORMAT_TAG,
        log.encode("utf-8"),
        _int64(position),
        _originator_id_bytes(originator_id),
        _int64(originator_version),
        topic.encode("utf-8"),
        bytes(state),
        _int64(recorded_at_millis(recorded_at)),
        bytes.fromhex(prev_hash),
    )
    return b"".join(len(part).to_bytes(4, "big") + part for part in parts)


def event_hash(log: str, document: dict, prev_hash: str) -> str:
    """SHA-256 (lowercase hex) of an event document chained to the previous event's hash."""
    return hashlib.sha256(
        canonical_bytes(
            log,
            document["position"],
            document["originator_id"],
            document["originator_version"],
            document["topic"],
            document["state"],
            document["recorded_at"],
            prev_hash,
        )
    ).hexdigest()


def chain(
    log: str, first_position: int, prev_hash: str, rows: list[dict], recorded_at: datetime
) -> list[dict]:
    """Event documents for ``rows`` (originator_id, originator_version, topic, state),
    numbered from ``first_position`` and chained from ``prev_hash``."""
    documents = []
    for offset, row in enumerate(rows):
        document = {
            "position": first_position + offset,
            "originator_id": row["originator_id"],
            "originator_version": row["originator_version"],
            "topic": row["topic"],
            "state": row["state"],
            "recorded_at": recorded_at,
            "prev_hash": prev_hash,
        }
        document["hash"] = prev_hash = event_hash(log, document, prev_hash)
        documents.append(document)
    return documents
