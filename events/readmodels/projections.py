"""Projections: read models built from the published events of several services' logs.

A ``Projection`` says which logs it reads and how one public event (``schemas.events``,
read with ``events.log.published.LogReader``) changes its documents (``fold``). A ``Projector``
feeds it batches: the next positions of every log behind its head, written in one
transaction with the logs' tracking records of the last positions applied, so each event is
applied exactly once and a projection resumes where it stopped. Logs are read independently
(a batch takes each log's events in that log's order, one log after another), so a
projection that joins across logs must give the same documents whatever order the logs
arrive in (``fold`` updates both sides of a join).

A batch is applied in memory (``Batch``): the documents its events touch are loaded once
(``prepare`` says which, in a few queries), the events are folded into them one by one, and
they are written back with one unordered ``bulk_write`` per collection. Joins read the
batch's own documents first, so an event sees what the events before it in the batch did.

The pointer document also counts the batches that changed a document of the live generation
(``revision``): with the generation, the version of what a query reads (``version``), which
moves only when an answer could change (a cache of answers keys on it: events/web).

Generations make a rebuild safe: a projection's collections are named
``<projection>_g<N>_<collection>`` and the document ``projections/<projection>`` names the
live generation. A rebuild replays every log into generation N+1 while N stays live, then
switches the pointer in one write. Every batch applied to the live generation also writes
the pointer document, conditioned on its generation, so a batch racing the switch either
commits before it or is refused (a write conflict) and never lands in a dropped generation.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Hashable, Iterable, Iterator
from datetime import datetime
from typing import Any, ClassVar

from eventsourcing.persistence import IntegrityError, Tracking
from nameko.extensions import DependencyProvider
from pymongo import ASCENDING, DeleteOne, InsertOne, ReplaceOne
from pymongo.client_session import ClientSession
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from events.log.datastore import (
    MongoDBDatastore,
    create_collection,
    database_errors,
    datastore_from_config,
)
from events.log.published import LogReader
from events.log.recorders import MongoDBTrackingRecorder
from events.readmodels.wakeup import Wakeup
from schemas.events import LOGS

log = logging.getLogger(__name__)
POINTERS = "projections"
BATCH = 5000
"""The log positions one batch applies, in all logs together."""
IN_CHUNK = 50


class GenerationSwitched(Exception):
    """The live generation changed while a batch was being applied to the old one."""


def _keys(value: Any) -> tuple[Any, ...]:
    """The values a query ``{field: value}`` matches a field holding ``value`` by (an array
    matches each of its elements), hashable ones only."""
    values = value if isinstance(value, list) else (value,)
    return tuple(v for v in values if isinstance(v, Hashable))


class Batch:
    """The documents one batch of events touches, keyed by collection and ``_id``: loaded
    once, changed in memory, written back by ``write``. A document read with ``get`` or
    ``find`` is the batch's own copy: whoever changes it calls ``put`` (or ``delete``)."""

    def __init__(self, db: dict[str, Collection], session: ClientSession | None) -> None:
        self.db, self.session = db, session
        self.documents: dict[str, dict[Any, dict[str, Any] | None]] = {n: {} for n in db}
        self.stored: dict[str, set[Any]] = {n: set() for n in db}  # ids found in the database
        self.absent: dict[str, set[Any]] = {n: set() for n in db}  # ids looked up, not found
        self.changed: dict[str, dict[Any, None]] = {n: {} for n in db}
        self.queried: dict[tuple[str, str], set[Any]] = {}
        self.indexes: dict[tuple[str, str], dict[Any, dict[Any, None]]] = {}
        self.indexed: dict[tuple[str, str], dict[Any, tuple[Any, ...]]] = {}

    # -- loading --------------------------------------------------------------------------
    def load(self, collection: str, ids: Iterable[Any]) -> None:
        """Load the documents of ``ids`` not in the batch yet, in as few queries as may be."""
        known = self.documents[collection]
        missing = list(dict.fromkeys(i for i in ids if i is not None and i not in known))
        if not missing:
            return
        for document in self._find(collection, "_id", missing):
            self._loaded(collection, document)
        for i in missing:
            if i not in known:
                known[i] = None
                self.absent[collection].add(i)

    def load_where(self, collection: str, field: str, values: Iterable[Any]) -> None:
        """Load every stored document whose ``field`` matches one of ``values`` (as
        ``{field: value}`` would), keeping the batch's own copies of those it has."""
        queried = self.queried.setdefault((collection, field), set())
        missing = list(dict.fromkeys(v for v in values if v not in queried))
        if not missing:
            return
        for document in self._find(collection, field, missing):
            if document["_id"] not in self.documents[collection]:
                self._loaded(collection, document)
        queried.update(missing)

    def _find(self, collection: str, field: str, values: list[Any]) -> Iterator[dict[str, Any]]:
        """``{field: {"$in": values}}``, in chunks of ``IN_CHUNK`` values (SecantusDB answers a
        long ``$in`` in time growing faster than its length)."""
        for start in range(0, len(values), IN_CHUNK):
            chunk = values[start : start + IN_CHUNK]
            yield from self.db[collection].find({field: {"$in": chunk}}, session=self.session)

    def _loaded(self, collection: str, document: dict[str, Any]) -> None:
        self.documents[collection][document["_id"]] = document
        self.stored[collection].add(document["_id"])
        self._index(collection, document["_id"], document)

    # -- reading and changing -------------------------------------------------------------
    def get(self, collection: str, _id: Any) -> dict[str, Any] | None:
        if _id is None:
            return None
        if _id not in self.documents[collection]:
            self.load(collection, [_id])
        return self.documents[collection][_id]

    def find(self, collection: str, field: str, value: Any) -> list[dict[str, Any]]:
        """The documents whose ``field`` is ``value`` or an array holding it, as the batch
        has them now."""
        self.load_where(collection, field, [value])
        key = (collection, field)
        if key not in self.indexes:
            self.indexes[key], self.indexed[key] = {}, {}
            for _id, document in self.documents[collection].items():
                self._index(collection, _id, document)
        documents = self.documents[collection]
        return [documents[i] for i in list(self.indexes[key].get(value, ()))]

    def put(self, collection: str, document: dict[str, Any]) -> None:
        self.documents[collection][document["_id"]] = document
        self.changed[collection][document["_id"]] = None
        self._index(collection, document["_id"], document)

    def delete(self, collection: str, _id: Any) -> None:
        if _id not in self.documents[collection]:
            self.load(collection, [_id])
        self.documents[collection][_id] = None
        self.changed[collection][_id] = None
        self._index(collection, _id, None)

    def _index(self, collection: str, _id: Any, document: dict[str, Any] | None) -> None:
        for (name, field), index in self.indexes.items():
            if name != collection:
                continue
            indexed = self.indexed[name, field]
            for value in indexed.pop(_id, ()):
                index[value].pop(_id, None)
            if document is not None and field in document:
                values = indexed[_id] = _keys(document[field])
                for value in values:
                    index.setdefault(value, {})[_id] = None

    # -- writing --------------------------------------------------------------------------
    def write(self) -> bool:
        """One unordered ``bulk_write`` per collection changed: new documents inserted,
        stored ones replaced, deleted ones deleted. True if anything was written."""
        wrote = False
        for collection, changed in self.changed.items():
            operations: list[InsertOne | ReplaceOne | DeleteOne] = []
            documents, stored = self.documents[collection], self.stored[collection]
            for _id in changed:
                document = documents.get(_id)
                if document is None:
                    if _id in stored:
                        operations.append(DeleteOne({"_id": _id}))
                elif _id in stored:
                    operations.append(ReplaceOne({"_id": _id}, document))
                elif _id in self.absent[collection]:
                    operations.append(InsertOne(document))
                else:
                    operations.append(ReplaceOne({"_id": _id}, document, upsert=True))
            if operations:
                self.db[collection].bulk_write(operations, ordered=False, session=self.session)
                wrote = True
        return wrote


class Projection:
    """Subclasses set ``name``, ``collections`` (name → indexes, each a tuple of keys) and
    ``sources`` (the services whose logs it reads), and write ``fold`` (and ``prepare``,
    which makes a batch fast and never changes what it gives)."""

    name = ""
    collections: ClassVar[dict[str, tuple[tuple[str, ...], ...]]] = {}
    query_indexes: ClassVar[dict[str, tuple[tuple[str, ...], ...]]] = {}
    """Indexes only queries use, never ``fold``: a rebuild makes them once it has caught up
    (every index costs each document written), before its generation goes live."""
    sources: tuple[str, ...] = tuple(LOGS)

    def prepare(self, events: list[dict[str, Any]], batch: Batch) -> None:
        """Load in bulk what folding ``events`` will read (anything not loaded here is
        loaded when read, one query each)."""

    def fold(self, event: dict[str, Any], batch: Batch) -> None:
        raise NotImplementedError

    def apply_batch(
        self, events: list[dict[str, Any]], db: dict[str, Collection], session: ClientSession
    ) -> bool:
        """Fold ``events`` (each log's in that log's order) into ``db`` through ``session``;
        True if a document changed."""
        batch = Batch(db, session)
        self.prepare(events, batch)
        for event in events:
            self.fold(event, batch)
        return batch.write()

    def apply(self, event: dict[str, Any], db: dict[str, Collection], session: ClientSession):
        """Fold one event: a batch of one."""
        return self.apply_batch([event], db, session)


class Generation:
    """One generation of a projection's collections and its tracking records."""

    def __init__(
        self, datastore: MongoDBDatastore, projection: Projection, number: int, prefix: str = ""
    ):
        self.number = number
        prefix = prefix or f"{projection.name}_g{number}"
        self.prefix = prefix
        self.db = {
            name: datastore.collection(f"{prefix}_{name}") for name in projection.collections
        }
        self.tracking = MongoDBTrackingRecorder(datastore, f"{prefix}_tracking")

    def create(self, projection: Projection, query_indexes: bool = True) -> None:
        """Make the collections with their indexes (the query indexes later, by
        ``create_query_indexes``, when ``query_indexes`` is false)."""
        self.tracking.create_table()
        for name, indexes in projection.collections.items():
            create_collection(self.db[name])
            for keys in indexes:
                self.db[name].create_index([(key, ASCENDING) for key in keys])
        if query_indexes:
            self.create_query_indexes(projection)

    def create_query_indexes(self, projection: Projection) -> None:
        for name, indexes in projection.query_indexes.items():
            for keys in indexes:
                self.db[name].create_index([(key, ASCENDING) for key in keys])

    def position(self, log: str) -> int:
        return self.tracking.max_tracking_id(log) or 0

    def drop(self) -> None:
        for collection in (*self.db.values(), self.tracking.tracking):
            collection.drop()


class Projector:
    """Feeds ``projection`` from the logs in ``logs_from`` (default: ``datastore``, where its
    collections are)."""

    def __init__(
        self,
        datastore: MongoDBDatastore,
        projection: Projection,
        logs_from: MongoDBDatastore | None = None,
    ) -> None:
        self.datastore = datastore
        self.projection = projection
        self.readers = {
            source: LogReader(logs_from or datastore, source) for source in projection.sources
        }
        self.pointers = datastore.collection(POINTERS)

    # -- generations --------------------------------------------------------------------
    def live(self) -> Generation:
        """The live generation (the first one is made on first use)."""
        pointer = self.pointers.find_one({"_id": self.projection.name})
        if pointer is None:
            first = Generation(self.datastore, self.projection, 1)
            first.create(self.projection)
            with contextlib.suppress(DuplicateKeyError):
                self.pointers.insert_one(
                    {"_id": self.projection.name, "generation": 1, "last_generation": 1}
                )
            pointer = self.pointers.find_one({"_id": self.projection.name})
        return Generation(self.datastore, self.projection, pointer["generation"])

    def new_generation(self) -> Generation:
        self.live()
        pointer = self.pointers.find_one_and_update(
            {"_id": self.projection.name}, {"$inc": {"last_generation": 1}}, return_document=True
        )
        generation = Generation(self.datastore, self.projection, pointer["last_generation"])
        generation.drop()  # what a rebuild that died half-way left
        generation.create(self.projection, query_indexes=False)
        return generation

    def switch(self, old: Generation, new: Generation) -> None:
        """Make ``new`` live in one write, then drop ``old``."""

        def write(session: ClientSession) -> None:
            switched = self.pointers.update_one(
                {"_id": self.projection.name, "generation": old.number},
                {"$set": {"generation": new.number}},
                session=session,
            )
            if switched.matched_count == 0:
                raise GenerationSwitched(f"{self.projection.name} is no longer at {old.number}")

        self.datastore.transaction(write)
        old.drop()

    # -- applying events ----------------------------------------------------------------
    def version(self) -> tuple[int, int]:
        """The live generation and its revision (batches that changed a document): equal
        versions, equal documents."""
        pointer = self.pointers.find_one({"_id": self.projection.name}) or {}
        return pointer.get("generation", 0), pointer.get("revision", 0)

    def heads(self) -> dict[str, int]:
        """Each log's head, in one query."""
        logs = {reader.log: source for source, reader in self.readers.items()}
        some = next(iter(self.readers.values()), None)
        with database_errors():
            found = {} if some is None else {
                logs[head["_id"]]: head["position"]
                for head in some.recorder.heads.find({"_id": {"$in": list(logs)}})
            }  # fmt: skip
        return {source: found.get(source) or 0 for source in self.readers}

    def positions(self, generation: Generation) -> dict[str, int]:
        """How far ``generation`` has applied each log, in one query."""
        logs = {LOGS[source]: source for source in self.readers}
        with database_errors():
            found = {
                logs[record["_id"]]: record["notification_id"]
                for record in generation.tracking.tracking.find({"_id": {"$in": list(logs)}})
            }
        return {source: found.get(source, 0) for source in self.readers}

    def catch_up(
        self,
        generation: Generation | None = None,
        heads: dict[str, int] | None = None,
        progress: Callable[[int], Any] | None = None,
    ) -> dict[str, int]:
        """Apply every log up to its head (or ``heads``) to ``generation`` (the live one by
        default); return the positions reached. ``progress(n)`` hears of each batch."""
        heads = heads or self.heads()
        while True:
            guarded = generation is None
            target = self.live() if guarded else generation
            try:
                reached = self.positions(target)
                while window := self._window(reached, heads):
                    events = [
                        event
                        for source, (after, upto) in window.items()
                        for event in self.readers[source].public_events(after, upto)
                    ]
                    if not self._apply_batch(target, window, events, guarded):
                        reached = self.positions(target)  # another worker went ahead
                        continue
                    reached = {**reached, **{s: upto for s, (_, upto) in window.items()}}
                    if progress is not None:
                        progress(sum(upto - after for after, upto in window.values()))
                return reached
            except GenerationSwitched:
                continue  # a rebuild went live: follow the new generation

    def _window(self, reached: dict[str, int], heads: dict[str, int]) -> dict[str, tuple[int, int]]:
        """The positions (after, upto) the next batch takes from each log behind its head:
        ``BATCH`` in all, shared in proportion to what each log has left, so that a rebuild
        walks the logs side by side and a document (a cadre's file, say) is written about
        once per batch for the events of every log rather than once per log."""
        left = {source: heads[source] - reached[source] for source in self.readers}
        left = {source: n for source, n in left.items() if n > 0}
        total = sum(left.values())
        return {
            source: (reached[source], reached[source] + min(n, max(1, BATCH * n // total)))
            for source, n in left.items()
        }

    def _apply_batch(self, generation, window, events, guarded) -> bool:
        """Apply ``events`` (of each log, the positions after to upto of ``window``) with
        the logs' tracking records in one transaction; False if another worker got there
        first."""
        logs = {self.readers[source].log: span for source, span in window.items()}

        def write(session: ClientSession) -> bool:
            if guarded:
                still_live = self.pointers.update_one(
                    {"_id": self.projection.name, "generation": generation.number},
                    {"$inc": {"batches": 1}},
                    session=session,
                )
                if still_live.matched_count == 0:
                    raise GenerationSwitched(self.projection.name)
            tracked = {
                record["_id"]: record["notification_id"]
                for record in generation.tracking.tracking.find(
                    {"_id": {"$in": list(logs)}}, session=session
                )
            }
            if any(tracked.get(log, 0) != after for log, (after, _) in logs.items()):
                return False  # read again inside the transaction: someone else moved on
            changed = self.projection.apply_batch(events, generation.db, session)
            if changed and guarded:
                self.pointers.update_one(
                    {"_id": self.projection.name}, {"$inc": {"revision": 1}}, session=session
                )
            for log, (_, upto) in logs.items():
                generation.tracking._record_tracking(session, Tracking(log, upto))
            return True

        try:
            return self.datastore.transaction(write)
        except IntegrityError:
            return False

    def rebuild(self, progress: Callable[[int], Any] | None = None) -> Generation:
        """Replay every log into a fresh generation, then make it live."""
        new = self.new_generation()
        self.catch_up(new, progress=progress)
        new.create_query_indexes(self.projection)
        while True:
            old = self.live()
            self.catch_up(new)  # what was appended meanwhile
            try:
                self.switch(old, new)
                return new
            except GenerationSwitched:
                continue


def positions_on(
    datastore: MongoDBDatastore, until: datetime, sources: tuple[str, ...] = tuple(LOGS)
) -> dict[str, int]:
    """Each log's (of ``sources``) last position recorded before ``until``."""
    positions = {}
    for source in sources:
        log_name = LOGS[source]
        last = datastore.collection(log_name).find_one(
            {"recorded_at": {"$lt": until}}, {"position": 1}, sort=[("position", -1)]
        )
        positions[source] = last["position"] if last else 0
    return positions


def documents(generation: Generation) -> dict[str, list[dict[str, Any]]]:
    return {name: sorted(c.find(), key=lambda d: d["_id"]) for name, c in generation.db.items()}


def replay(
    logs: MongoDBDatastore,
    scratch: MongoDBDatastore,
    projection: Projection,
    until: datetime,
    progress: Callable[[int], Any] | None = None,
) -> tuple[Generation, dict[str, int]]:
    """Build ``projection`` as it stood at ``until`` (from the events recorded before it)
    into the scratch database, live there; return it and the positions it reached."""
    heads = positions_on(logs, until, projection.sources)
    projector = Projector(scratch, projection, logs_from=logs)
    old, new = projector.live(), projector.new_generation()
    projector.catch_up(new, heads=heads, progress=progress)
    new.create_query_indexes(projection)
    projector.switch(old, new)
    return new, heads


def differences(
    replayed: Generation, logs: MongoDBDatastore, projection: Projection, heads: dict[str, int]
) -> tuple[str, list[str]]:
    """Compare a replayed generation with the live projection in ``logs``'s database if it
    stands at the same positions, or else with the live logs rebuilt to those positions (in
    a generation beside the replayed one, dropped after). Return what was compared with and
    a line per document that differs."""
    live = Projector(logs, projection)
    generation = live.live()
    if live.positions(generation) == heads:
        against, compared_with = generation, f"the live projection (generation {generation.number})"
    else:
        against = Generation(replayed.tracking.datastore, projection, 0,
                             prefix=f"{projection.name}_compare")  # fmt: skip
        against.drop()
        against.create(projection)
        Projector(replayed.tracking.datastore, projection, logs_from=logs).catch_up(
            against, heads=heads
        )
        compared_with = "the live logs rebuilt to the same positions"
    ours, theirs = documents(replayed), documents(against)
    lines = []
    for name in projection.collections:
        mine = {d["_id"]: d for d in ours[name]}
        other = {d["_id"]: d for d in theirs[name]}
        for key in sorted(set(mine) | set(other), key=str):
            if key not in other:
                lines.append(f"{name} {key}: only in the replay")
            elif key not in mine:
                lines.append(f"{name} {key}: only in {compared_with}")
            elif mine[key] != other[key]:
                fields = sorted(k for k in set(mine[key]) | set(other[key])
                                if mine[key].get(k) != other[key].get(k))  # fmt: skip
                lines.append(f"{name} {key}: differs in {', '.join(fields)}")
    if against is not generation:
        against.drop()
    return compared_with, lines


class ProjectionsRunner(DependencyProvider):
    """Keeps a service's projections caught up with the logs: a managed thread applies what
    is new whenever the logs they read grow (woken by their relays' messages, through a
    ``Wakeup`` queue of its own when ``AMQP_URI`` is configured) and at least every
    ``PROJECTIONS_POLL_SECONDS`` (default 1), the safety net for a wake-up missed. The
    service gets a mapping of projection name → ``Projector``; a query calls ``catch_up``
    first to read what every command acknowledged before it wrote."""

    def __init__(self, *projection_classes: type[Projection]) -> None:
        self.projection_classes = projection_classes

    def setup(self) -> None:
        config = self.container.config
        self.datastore = datastore_from_config(config)
        self.projectors = {
            cls.name: Projector(self.datastore, cls()) for cls in self.projection_classes
        }
        self.poll_seconds = float(config.get("PROJECTIONS_POLL_SECONDS") or 1.0)
        self.stopping = False
        self.woken = threading.Event()
        sources = [s for cls in self.projection_classes for s in cls.sources]
        amqp_uri = config.get("AMQP_URI")
        self.wakeup = (
            Wakeup(amqp_uri, sources, self.woken.set, self.container.service_name)
            if amqp_uri
            else None
        )

    def start(self) -> None:
        self.container.spawn_managed_thread(self._run)
        if self.wakeup is not None:
            self.container.spawn_managed_thread(
                lambda: self.wakeup.run(lambda: self.stopping, tick=min(1.0, self.poll_seconds))
            )

    def _run(self) -> None:
        try:
            while not self.stopping:
                self.woken.clear()  # a wake-up while catching up makes another round
                for name, projector in self.projectors.items():
                    try:
                        projector.catch_up()
                    except Exception:
                        log.exception("projection %s failed to catch up; trying again", name)
                self.woken.wait(self.poll_seconds)
        finally:
            self.datastore.close()

    def stop(self) -> None:
        self.stopping = True
        self.woken.set()

    def kill(self) -> None:
        self.stop()

    def get_dependency(self, worker_ctx: object) -> dict[str, Projector]:
        return self.projectors
