"""A service's log read as public events (the published language, ``schemas.events``).

Both the relay (which publishes them) and consumers (which catch up from the log when a
message arrives ahead of a gap) read logs through ``LogReader``, so a consumer sees the
same event whether the bus or the log brought it. Nothing here imports a service: stored
states are JSON, decoded with the transcodings every youwei application registers.

Correlation and causation come from the command record that ends each append
(``events.log.commands.CommandRecord``): an event's ``causation_id`` is the id of the command
that appended it, and its ``correlation_id`` the id that command carried forward from the
event that caused it (or its own id, for a command an agency sent).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from hashlib import sha1
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.persistence import Notification

from events.identity.personal import PersonalKeys, Sealer
from events.log.datastore import MongoDBDatastore
from events.log.recorders import MongoDBApplicationRecorder
from events.log.transcoding import transcoder
from schemas.events import LOGS, PUBLISHED, PUBLISHED_ITEMS

EVENT_NAMESPACE = UUID("9d3b1f4e-6a2c-4e8f-b1d7-52c0e8a4f613")
RECORD_TOPIC = "events.commands:CommandRecord.Recorded"
"""The topic of ``events.log.commands.CommandRecord``'s one event (a test keeps them equal)."""
BATCH = 500
AHEAD = 16
"""The positions past the last one asked for that a page reads with it."""
LOOKAHEAD = 1000
"""How far past the last event asked for a reader looks for the command record that ends
its append (an append of more events than this has no causation beyond it)."""


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@cache
def event_type(topic: str) -> str:
    """``services.inspections.domain:Finding.Recorded`` → ``finding_recorded``."""
    aggregate, _, name = topic.partition(":")[2].rpartition(".")
    return f"{snake(aggregate.rpartition('.')[2])}_{snake(name)}"


def event_id(log: str, position: int) -> UUID:
    return uuid5(EVENT_NAMESPACE, f"{log}:{position}")


def event_id_text(log: str, position: int) -> str:
    """``str(event_id(log, position))``, as ``uuid5`` makes it (SHA-1 of the namespace and
    the name, version and variant bits set) without making a ``UUID`` on the way."""
    digest = bytearray(sha1(EVENT_NAMESPACE.bytes + f"{log}:{position}".encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    x = digest.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


def plain(value: Any) -> Any:
    """A stored value as JSON: ids as strings, dates as ISO."""
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


class _Unplain(Exception):
    """A stored state holds a value ``plain_state`` does not turn plain itself."""


def _plain_object(d: dict[str, Any]) -> Any:
    if len(d) != 2 or "_type_" not in d or "_data_" not in d:
        return d
    kind, data = d["_type_"], d["_data_"]
    if kind == "uuid_hex":  # str(UUID(data)), without making the UUID
        return f"{data[:8]}-{data[8:12]}-{data[12:16]}-{data[16:20]}-{data[20:]}"
    if kind in ("datetime_iso", "date_iso"):  # stored as isoformat(), which plain gives
        return data
    if kind == "decimal_str":
        return Decimal(data)
    raise _Unplain(kind)


_PLAIN = json.JSONDecoder(object_hook=_plain_object)
SEALED = b'"_type_":"sealed"'


def plain_state(stored: bytes) -> dict[str, Any] | None:
    """A stored state decoded straight into its plain form (what ``plain`` gives of the
    state the transcoder decodes: ids as strings, dates and times as ISO), without making
    the objects first; None when it holds what only the transcoder can open (a sealed
    field)."""
    if SEALED in stored:
        return None
    try:
        return _PLAIN.decode(stored.decode("utf8"))
    except _Unplain:
        return None


class LogReader:
    def __init__(self, datastore: MongoDBDatastore, source: str) -> None:
        self.source = source
        self.log = LOGS[source]
        self.published = PUBLISHED[source]
        self.items = PUBLISHED_ITEMS.get(source, {})
        self.recorder = MongoDBApplicationRecorder(datastore, self.log)
        self.transcoder = transcoder()
        self.sealer = Sealer(PersonalKeys(datastore.database), self.transcoder)

    def head(self) -> int:
        return self.recorder.max_notification_id() or 0

    def public_events(self, after: int, upto: int) -> Iterator[dict[str, Any]]:
        """The published events at positions ``after`` + 1 to ``upto``, in order."""
        while after < upto:
            stop = min(upto, after + BATCH)
            ahead = stop + AHEAD  # most appends end within: no second read for their causes
            window = self.recorder.select_notifications(after + 1, ahead - after, stop=ahead)
            if window and not any(n.topic == RECORD_TOPIC for n in window if n.id >= stop):
                window += self._rest_of_last_append(window, window[-1].id)
            causes = self._causes(window)
            for notification in window:
                if notification.id > stop:
                    break
                if notification.topic == RECORD_TOPIC:
                    continue
                public = self.public_event(notification, *causes.get(notification.id, (None, None)))
                if public is not None:
                    yield public
            after = stop

    def _rest_of_last_append(self, window: list[Notification], stop: int) -> list[Notification]:
        """The events after ``stop`` up to the command record that ends the append the last
        of ``window`` belongs to (its causes are in that record)."""
        rest: list[Notification] = []
        if not window or window[-1].topic == RECORD_TOPIC:
            return rest
        head = self.head()
        position = stop
        while position < head and len(rest) < LOOKAHEAD:
            more = self.recorder.select_notifications(position + 1, 16, stop=head)
            if not more:
                break
            for notification in more:
                rest.append(notification)
                if notification.topic == RECORD_TOPIC:
                    return rest
            position = more[-1].id
        return rest

    def public_event(
        self, notification: Notification, correlation_id: str | None, causation_id: str | None
    ) -> dict[str, Any] | None:
        kind = event_type(notification.topic)
        fields = self.published.get(kind)
        if fields is None:
            return None
        state = plain_state(notification.state)
        if state is None:
            state = plain(self.sealer.open(self.transcoder.decode(notification.state)))
        data = {name: state.get(name) for name in fields}
        for name, keys in self.items.get(kind, {}).items():
            if isinstance(data.get(name), list):
                data[name] = [
                    {key: value for key, value in item.items() if key in keys}
                    for item in data[name]
                ]
        return {
            "type": kind,
            "source": self.source,
            "log": self.log,
            "position": notification.id,
            "event_id": event_id_text(self.log, notification.id),
            "originator_id": str(notification.originator_id),
            "originator_version": notification.originator_version,
            "timestamp": state.get("timestamp"),
            "correlation_id": correlation_id,
            "causation_id": causation_id,
            "data": data,
        }

    def _causes(self, window: list[Notification]) -> dict[int, tuple[str, str]]:
        """Position → (correlation id, causation id), from each command record's count of
        the events just before it."""
        causes: dict[int, tuple[str, str]] = {}
        for index, notification in enumerate(window):
            if notification.topic != RECORD_TOPIC:
                continue
            record = plain_state(notification.state) or plain(
                self.transcoder.decode(notification.state)
            )
            command_id = str(record["command_id"])
            correlation = (record.get("cause") or {}).get("correlation_id") or command_id
            for before in window[max(0, index - record.get("events", 0)) : index]:
                causes[before.id] = (str(correlation), command_id)
        return causes
