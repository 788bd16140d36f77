"""The recorders of the ``eventsourcing`` library's persistence module for MongoDB
(``events.log.mongodb``): where a log's events, and the tracking of what was applied, are stored.

Each application's log is one collection, ``<app>_events``: a document per event with its
``position`` in the log (1, 2, 3, ... with no gaps), chained by SHA-256 hashes as
``docs/log-format.md`` specifies. A head document per log in ``log_heads`` holds the last
position and hash; every append moves it inside the appending transaction, so
positions are issued in commit order (a second writer conflicts until the first commits).
Nothing here ever updates or deletes an event.

Every transaction is durable (``events.log.datastore``). An append whose commit
outcome was unknown (the reply lost with the connection, or the transaction run again after a
transient error) and that finds its own events stored whole returns their positions: it did
succeed. Otherwise an event already stored is a conflict (``IntegrityError``), as
eventsourcing requires.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    DatabaseError,
    IntegrityError,
    Notification,
    ProcessRecorder,
    ProgrammingError,
    StoredEvent,
    Subscription,
    Tracking,
    TrackingRecorder,
)
from pymongo.client_session import ClientSession
from pymongo.errors import (
    BulkWriteError,
    DuplicateKeyError,
    OperationFailure,
)

from events.log.bells import bell
from events.log.chain import GENESIS_HASH, chain, now_millis
from events.log.datastore import (
    MongoDBDatastore,
    commit_outcome_unknown,
    create_collection,
    database_errors,
)
from events.log.groupcommit import GroupCommitter, Pending

HEADS_COLLECTION = "log_heads"
_EVENT_PROJECTION = {"_id": 0, "originator_id": 1, "originator_version": 1, "topic": 1, "state": 1}
_NOTIFICATION_PROJECTION = {**_EVENT_PROJECTION, "position": 1}


class MongoDBAggregateRecorder(AggregateRecorder):
    """Aggregate sequences without a log: what eventsourcing uses for snapshots."""

    def __init__(self, datastore: MongoDBDatastore, events_collection: str) -> None:
        self.datastore = datastore
        self.events_collection_name = events_collection
        self.events = datastore.collection(events_collection)

    def create_table(self) -> None:
        create_collection(self.events)
        with database_errors():
            self.events.create_index(
                [("originator_id", 1), ("originator_version", 1)],
                unique=True,
                name="originator_version_unique",
            )

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        if not stored_events:
            return
        documents = [_stored_event_row(event) for event in stored_events]
        self.datastore.transaction(
            lambda session: self.events.insert_many(documents, session=session)
        )

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> list[StoredEvent]:
        query: dict[str, Any] = {"originator_id": originator_id}
        versions: dict[str, int] = {}
        if gt is not None:
            versions["$gt"] = gt
        if lte is not None:
            versions["$lte"] = lte
        if versions:
            query["originator_version"] = versions
        with database_errors():
            cursor = self.events.find(query, _EVENT_PROJECTION).sort(
                "originator_version", -1 if desc else 1
            )
            if limit is not None:
                cursor = cursor.limit(limit)
            return [
                StoredEvent(
                    originator_id=doc["originator_id"],
                    originator_version=doc["originator_version"],
                    topic=doc["topic"],
                    state=doc["state"],
                )
                for doc in cursor
            ]


def _stored_event_row(event: StoredEvent) -> dict[str, Any]:
    return {
        "originator_id": event.originator_id,
        "originator_version": event.originator_version,
        "topic": event.topic,
        "state": event.state,
    }


@dataclass(frozen=True)
class _Append:
    """What one caller asked to append: events, and for a process, its tracking record."""

    rows: list[dict[str, Any]]
    tracking: Tracking | None


class MongoDBApplicationRecorder(MongoDBAggregateRecorder, ApplicationRecorder):
    """The application's log: gap-free positions in commit order, hash-chained."""

    def __init__(
        self,
        datastore: MongoDBDatastore,
        events_collection: str,
        max_group_events: int = 1000,
        subscribe_poll_seconds: float = 0.5,
    ) -> None:
        super().__init__(datastore, events_collection)
        self.log = events_collection
        self.heads = datastore.collection(HEADS_COLLECTION)
        self.subscribe_poll_seconds = subscribe_poll_seconds
        self._committer = GroupCommitter(self._write_group, max_group_events)
        self._last_head: dict[str, Any] | None = None  # written only by the group's leader
        self._bell = bell(events_collection)

    def create_table(self) -> None:
        super().create_table()
        with database_errors():
            self.events.create_index("position", unique=True, name="position_unique")
        create_collection(self.heads)
        with database_errors(), contextlib.suppress(DuplicateKeyError):
            self.heads.update_one(
                {"_id": self.log},
                {"$setOnInsert": {"position": 0, "hash": GENESIS_HASH}},
                upsert=True,
            )

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        tracking = kwargs.get("tracking")
        if not stored_events and tracking is None:
            return []
        append = _Append([_stored_event_row(e) for e in stored_events], tracking)
        return self._committer.submit(append, size=max(1, len(append.rows)))

    def _write_group(self, group: Sequence[Pending]) -> None:
        """Write the group in one transaction; if that is refused, each append alone,
        so that one conflicting append fails without failing its neighbours. Then ring the
        log's bell (``events.log.bells``): its relay in this process reads the group now."""
        try:
            self._write_each(group)
        finally:
            self._bell.ring()

    def _write_each(self, group: Sequence[Pending]) -> None:
        try:
            results = self._transact_appends([p.item for p in group])
        except IntegrityError as error:
            if len(group) == 1:
                group[0].settle(error=error)
                return
        else:
            for pending, result in zip(group, results, strict=True):
                pending.settle(result)
            return
        for pending in group:
            try:
                [result] = self._transact_appends([pending.item])
            except IntegrityError as error:
                pending.settle(error=error)
            else:
                pending.settle(result)

    def _transact_appends(self, appends: Sequence[_Append]) -> list[list[int]]:
        """Commit the appends; return the positions each got. When the commit's outcome
        was unknown (its reply lost, or the transaction run again after a transient error)
        and the appends are found stored whole, that is their success."""
        attempts = 0

        def append(session: ClientSession) -> tuple[list[list[int]], dict[str, Any] | None]:
            nonlocal attempts
            if attempts:  # the head moved under another process's append: let it finish
                time.sleep(random.uniform(0, min(0.05, 0.002 * 2**attempts)))
            attempts += 1
            return self._append(session, appends)

        try:
            ids, head = self.datastore.transaction(append)
        except DatabaseError as error:
            if attempts > 1 or commit_outcome_unknown(error):
                stored = [self._stored_already(item) for item in appends]
                if all(positions is not None for positions in stored):
                    self._last_head = None  # read the head again next time
                    return stored  # type: ignore[return-value]
            raise
        if head is not None:
            self._last_head = head
        return ids

    def _stored_already(self, append: _Append) -> list[int] | None:
        """The positions of an append found stored as a whole (the same events, topics and
        states, at consecutive positions, and its tracking recorded): a commit that landed
        though its reply was lost. None when any of it is missing or differs: a conflict."""
        found = []
        with database_errors():
            for row in append.rows:
                stored = self.events.find_one(
                    {"originator_id": row["originator_id"],
                     "originator_version": row["originator_version"]},
                    {"_id": 0, "position": 1, "topic": 1, "state": 1},
                )  # fmt: skip
                if stored is None or (stored["topic"], stored["state"]) != (
                    row["topic"], row["state"],
                ):  # fmt: skip
                    return None
                found.append(stored["position"])
        if found and found != list(range(found[0], found[0] + len(found))):
            return None
        if append.tracking is not None and not self._tracked(append.tracking):
            return None
        return found if found or append.tracking is not None else None

    def _tracked(self, tracking: Tracking) -> bool:
        return False

    def _append(
        self, session: ClientSession, appends: Sequence[_Append]
    ) -> tuple[list[list[int]], dict[str, Any] | None]:
        rows = [row for append in appends for row in append.rows]
        ids: list[list[int]] = []
        head = None
        if rows:
            documents = self._move_head(session, rows)
            try:
                self.events.insert_many(documents, session=session)
            except BulkWriteError as error:
                if (error.details.get("writeErrors") or [{}])[0].get("keyPattern") == {
                    "position": 1
                }:
                    msg = f"log {self.log!r}: its head is behind its events (position taken)"
                    raise DatabaseError(msg) from error
                raise
            first = documents[0]["position"]
            for append in appends:
                ids.append(list(range(first, first + len(append.rows))))
                first += len(append.rows)
            head = {"position": documents[-1]["position"], "hash": documents[-1]["hash"]}
        else:
            ids = [[] for _ in appends]
        for append in appends:
            if append.tracking is not None:
                self._record_tracking(session, append.tracking)
        return ids, head

    def _move_head(self, session: ClientSession, rows: list[dict[str, Any]]) -> list[dict]:
        """Chain ``rows`` onto the log's head and move the head past them: the write that
        orders appends. The head this recorder last wrote is tried first (usually right:
        one round trip); if another process moved it since, it is read and tried again."""
        recorded_at = now_millis()
        for head in (self._last_head, None):
            if head is None:
                head = self.heads.find_one({"_id": self.log}, session=session)
                if head is None:
                    msg = f"log {self.log!r} has no head document: create it with CREATE_TABLE=yes"
                    raise ProgrammingError(msg)
            documents = chain(self.log, head["position"] + 1, head["hash"], rows, recorded_at)
            moved = self.heads.update_one(
                {"_id": self.log, "position": head["position"], "hash": head["hash"]},
                {"$set": {"position": documents[-1]["position"], "hash": documents[-1]["hash"]}},
                session=session,
            )
            if moved.matched_count:
                return documents
        msg = f"log {self.log!r}: its head changed inside a transaction"
        raise DatabaseError(msg)

    def _record_tracking(self, session: ClientSession, tracking: Tracking) -> None:
        msg = f"{type(self).__name__} records no tracking"
        raise ProgrammingError(msg)

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> list[Notification]:
        """Read by bounded position ranges: positions have no gaps, so the next ``limit``
        events lie in the next ``limit`` positions, and a bounded range is answered from
        the index by any server (SecantusDB scans to the end for an open one)."""
        after = 0 if start is None else (start - 1 if inclusive_of_start else start)
        if not topics:
            upper = after + limit if stop is None else min(after + limit, stop)
            return self._notifications({"position": {"$gt": after, "$lte": upper}}, limit)
        upper = self.max_notification_id() or 0
        if stop is not None:
            upper = min(upper, stop)
        window = max(limit, 1000)
        found: list[Notification] = []
        while len(found) < limit and after < upper:
            high = min(after + window, upper)
            query = {"position": {"$gt": after, "$lte": high}, "topic": {"$in": list(topics)}}
            found += self._notifications(query, limit - len(found))
            after = high
        return found

    def _notifications(self, query: dict[str, Any], limit: int) -> list[Notification]:
        with database_errors():
            cursor = self.events.find(query, _NOTIFICATION_PROJECTION).sort("position", 1)
            return [
                Notification(
                    id=doc["position"],
                    originator_id=doc["originator_id"],
                    originator_version=doc["originator_version"],
                    topic=doc["topic"],
                    state=doc["state"],
                )
                for doc in cursor.limit(limit)
            ]

    def max_notification_id(self) -> int | None:
        """The head's position: written with the events, read without sorting the log."""
        with database_errors():
            head = self.heads.find_one({"_id": self.log})
        return head["position"] if head and head["position"] else None

    def subscribe(self, gt: int | None = None, topics: Sequence[str] = ()) -> MongoDBSubscription:
        return MongoDBSubscription(self, gt=gt, topics=topics)


class MongoDBSubscription(Subscription[MongoDBApplicationRecorder]):
    """Yields the log's notifications after ``gt``, then each new one as it commits.

    The log is read by position, so nothing is missed; a change stream on the events
    collection is only the doorbell that says when to read again (and a quiet poll
    bounds the wait if a ring is lost). It is opened before the first read, so no commit
    falls between them. No helper thread and no queue: the iterating thread (or
    greenthread) does the reading, and waiting is socket I/O that eventlet can switch on.
    """

    select_limit = 500

    def __init__(
        self,
        recorder: MongoDBApplicationRecorder,
        gt: int | None = None,
        topics: Sequence[str] = (),
    ) -> None:
        super().__init__(recorder=recorder, gt=gt, topics=topics)
        self._buffer: deque[Notification] = deque()
        self._read_up_to = gt or 0
        wait_ms = max(1, int(recorder.subscribe_poll_seconds * 1000))
        try:
            self._doorbell = recorder.events.watch(
                [
                    {"$match": {"operationType": "insert"}},
                    {"$project": {"fullDocument.position": 1}},
                ],
                max_await_time_ms=wait_ms,
            )
        except OperationFailure:  # no change streams (not a replica set): poll instead
            self._doorbell = None

    def __exit__(self, *args: object, **kwargs: Any) -> None:
        try:
            super().__exit__(*args, **kwargs)
        finally:
            if self._doorbell is not None:
                self._doorbell.close()

    def __next__(self) -> Notification:
        while not self._has_been_stopped:
            if self._buffer:
                notification = self._buffer.popleft()
                self._last_notification_id = notification.id
                return notification
            head = self._recorder.max_notification_id() or 0
            if head <= self._read_up_to:
                self._wait_for_ring()
                continue
            notifications = self._recorder.select_notifications(
                start=self._read_up_to,
                limit=self.select_limit,
                stop=head,
                topics=self._topics,
                inclusive_of_start=False,
            )
            self._buffer.extend(notifications)
            full_page = len(notifications) == self.select_limit
            self._read_up_to = notifications[-1].id if full_page else head
        raise StopIteration

    def _wait_for_ring(self) -> None:
        """Return when an event beyond what was read may have committed, or after a poll
        interval."""
        if self._doorbell is None:
            time.sleep(self._recorder.subscribe_poll_seconds)
            return
        with database_errors():
            while not self._has_been_stopped:
                change = self._doorbell.try_next()
                if change is None or change["fullDocument"]["position"] > self._read_up_to:
                    return


class MongoDBTrackingRecorder(TrackingRecorder):
    """One document per upstream log: the highest position processed. Positions only rise."""

    def __init__(self, datastore: MongoDBDatastore, tracking_collection: str) -> None:
        self.datastore = datastore
        self.tracking = datastore.collection(tracking_collection)

    def create_table(self) -> None:
        create_collection(self.tracking)  # its _id index is all it needs

    def insert_tracking(self, tracking: Tracking) -> None:
        with database_errors():
            self._record_tracking(None, tracking)

    def _record_tracking(self, session: ClientSession | None, tracking: Tracking) -> None:
        """A record at or below the last one finds no document to raise, so the upsert
        inserts a second document with the same ``_id``: a duplicate key, IntegrityError."""
        try:
            self.tracking.update_one(
                {
                    "_id": tracking.application_name,
                    "notification_id": {"$lt": tracking.notification_id},
                },
                {"$set": {"notification_id": tracking.notification_id}},
                upsert=True,
                session=session,
            )
        except DuplicateKeyError as error:
            msg = (
                f"tracking {tracking.application_name!r} position "
                f"{tracking.notification_id} is not above the last one recorded"
            )
            raise IntegrityError(msg) from error

    def _tracked(self, tracking: Tracking) -> bool:
        """Whether ``tracking`` (or a later position of its application) is recorded."""
        recorded = self.max_tracking_id(tracking.application_name) or 0
        return recorded >= tracking.notification_id

    def max_tracking_id(self, application_name: str) -> int | None:
        with database_errors():
            record = self.tracking.find_one({"_id": application_name})
        return None if record is None else record["notification_id"]


class MongoDBProcessRecorder(MongoDBTrackingRecorder, MongoDBApplicationRecorder, ProcessRecorder):
    """A log whose appends carry the tracking record of what caused them, atomically."""

    def __init__(
        self,
        datastore: MongoDBDatastore,
        events_collection: str,
        tracking_collection: str,
        max_group_events: int = 1000,
        subscribe_poll_seconds: float = 0.5,
    ) -> None:
        MongoDBApplicationRecorder.__init__(
            self, datastore, events_collection, max_group_events, subscribe_poll_seconds
        )
        MongoDBTrackingRecorder.__init__(self, datastore, tracking_collection)

    def create_table(self) -> None:
        MongoDBApplicationRecorder.create_table(self)
        MongoDBTrackingRecorder.create_table(self)
