"""Read models of a service's own log, for queries the aggregates cannot answer (lists
filtered and paged).

A ``LogView`` keeps documents in a collection of its own, beside a tracking record of the
last log position it applied. Each batch of events and its tracking record are written in
one transaction, so every event is applied exactly once and a view resumes where it stopped.
A query first brings the view up to the log's head (``catch_up``), so a caller reads what
its own earlier commands wrote. Drop the collections and the view rebuilds from the log.
"""

from __future__ import annotations

import contextlib
from typing import Any

from eventsourcing.application import Application
from eventsourcing.domain import DomainEvent
from eventsourcing.persistence import IntegrityError, Tracking
from pymongo import ASCENDING
from pymongo.client_session import ClientSession
from pymongo.collection import Collection

from events.log.datastore import create_collection
from events.log.recorders import MongoDBApplicationRecorder, MongoDBTrackingRecorder

BATCH = 500


class LogView(MongoDBTrackingRecorder):
    """Subclasses name the view (``name``), its indexes, and how an event changes it
    (``apply``, writing through ``session``)."""

    name = ""
    indexes: tuple[tuple[str, ...], ...] = ()

    def __init__(self, application: Application) -> None:
        recorder = application.recorder
        if not isinstance(recorder, MongoDBApplicationRecorder):
            msg = f"{type(self).__name__} reads a log recorded by events.mongodb"
            raise TypeError(msg)
        super().__init__(recorder.datastore, f"{self.name}_tracking")
        self.application = application
        self.log = recorder
        self.documents: Collection = recorder.datastore.collection(self.name)
        self.create_table()
        create_collection(self.documents)
        for keys in self.indexes:
            self.documents.create_index([(key, ASCENDING) for key in keys])

    def catch_up(self) -> int:
        """Apply every event up to the log's head now; return the position reached."""
        head = self.log.max_notification_id() or 0
        reached = self.max_tracking_id(self.application.name) or 0
        while reached < head:
            notifications = self.log.select_notifications(reached + 1, BATCH, stop=head)
            events = [self.application.mapper.to_domain_event(n) for n in notifications]
            tracking = Tracking(self.application.name, notifications[-1].id)

            def write(session: ClientSession, events=events, tracking=tracking, after=reached):
                tracked = self.tracking.find_one(
                    {"_id": tracking.application_name}, session=session
                )
                if (tracked or {}).get("notification_id", 0) != after:
                    return  # another worker applied some of these first: read again
                for domain_event in events:
                    self.apply(domain_event, session)
                self._record_tracking(session, tracking)

            with contextlib.suppress(IntegrityError):  # another worker applied it first
                self.datastore.transaction(write)
            reached = self.max_tracking_id(self.application.name) or 0
        return reached

    def apply(self, event: DomainEvent, session: ClientSession) -> None:
        raise NotImplementedError

    def page(
        self, query: dict[str, Any], sort: list[tuple[str, int]], page: int, page_size: int
    ) -> tuple[int, list[dict[str, Any]]]:
        """The view's documents matching ``query``: how many in all, and one page of them."""
        self.catch_up()
        total = self.documents.count_documents(query)
        cursor = self.documents.find(query, {"_id": False}).sort(sort)
        return total, list(cursor.skip((page - 1) * page_size).limit(page_size))


def paged(query: dict[str, Any], total: int, key: str, items: list) -> dict[str, Any]:
    """A list query's answer: how many match in all, which page this is, and its items."""
    return {"total": total, "page": query["page"], "page_size": query["page_size"], key: items}
