"""How youwei's events are stored: JSON, with the transcodings every application
registers (eventsourcing's for UUIDs, decimals and datetimes, and dates as ISO strings)."""

from __future__ import annotations

from datetime import date

from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Transcoding,
    UUIDAsHex,
)


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


def transcoder() -> JSONTranscoder:
    """A transcoder that reads any youwei log's stored states, without its service's code."""
    coder = JSONTranscoder()
    from events.identity.personal import SealedAsDict

    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), DateAsISO(), SealedAsDict()):
        coder.register(transcoding)
    return coder
