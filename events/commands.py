"""Commands that are safe to retry, for every service's eventsourcing application.

A command's outcome is recorded as a ``CommandRecord`` aggregate whose id derives from the
caller's ``command_id``, saved in the same append as the command's own events. A retry
finds the record and gets the first result back, recording nothing; the same ``command_id``
with another payload is refused. A concurrent change (another command saved an aggregate
this one read) makes the append fail as a whole; the command is then decided again on
fresh state, a few times, before the caller is told ``Conflict``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, TypeVar
from uuid import UUID, uuid5

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Transcoding

from schemas.errors import Conflict

A = TypeVar("A", bound=Aggregate)
COMMAND_NAMESPACE = UUID("6f1d7a52-3c1e-4a57-9a3e-0c5b7b1d2e90")
MAX_ATTEMPTS = 8


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class CommandRecord(Aggregate):
    """What one command did: its name, a digest of its payload, its result, who sent it."""

    @staticmethod
    def create_id(scope: str, command_id: UUID) -> UUID:
        return uuid5(COMMAND_NAMESPACE, f"{scope}:{command_id}")

    @event("Recorded")
    def __init__(
        self,
        scope: str,
        command_id: UUID,
        command: str,
        digest: str,
        result: dict[str, Any],
        actor: dict[str, str],
    ) -> None:
        self.scope = scope
        self.command_id = command_id
        self.command = command
        self.digest = digest
        self.result = result
        self.actor = actor


def payload_digest(command: str, payload: dict[str, Any]) -> str:
    canonical = json.dumps(
        {"command": command, "payload": payload}, sort_keys=True, default=str, ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


Decision = tuple[Sequence[Aggregate], dict[str, Any]]


class CommandApplication(Application[UUID]):
    """An eventsourcing application whose commands go through ``execute``."""

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def execute(
        self, command: str, payload: dict[str, Any], decide: Callable[[], Decision]
    ) -> dict[str, Any]:
        """Run ``decide`` (load aggregates, apply the command, return the changed aggregates
        and the result) and save its events with the command's record, once per
        ``command_id``."""
        record_id = CommandRecord.create_id(self.name, payload["command_id"])
        digest = payload_digest(command, payload)
        for _ in range(MAX_ATTEMPTS):
            previous = self.find(record_id, CommandRecord)
            if previous is not None:
                if previous.digest != digest:
                    msg = (
                        f"command_id {payload['command_id']} was already used for "
                        f"{previous.command} with another payload"
                    )
                    raise Conflict(msg)
                return previous.result
            changed, result = decide()
            record = CommandRecord(
                self.name, payload["command_id"], command, digest, result, payload["actor"]
            )
            try:
                self.save(*changed, record)
            except IntegrityError:
                continue  # another command changed what this one read, or this one won
            return result
        msg = f"{command}: too many concurrent changes to the same records; retry later"
        raise Conflict(msg)

    def find(self, aggregate_id: UUID, kind: type[A]) -> A | None:
        """The aggregate with this id if it exists and is a ``kind``, else None."""
        try:
            aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, kind) else None
