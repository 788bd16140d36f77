"""The relay: a service's log is its outbox.

A relay follows one log from the last position the broker confirmed and publishes each
published event (``schemas.events``) to the service's nameko event exchange
(``<service>.events``, routing key = the event type), with publisher confirms. It records a
position only after the broker confirmed every event up to it, so a crash at any point
republishes (consumers recognize a repeat by its log position) and never loses one.

Exactly one relay per log is active, however many replicas run one: each holds a lease in
MongoDB (collection ``relay_leases``, one document per log with the owner, the lease's
expiry and the confirmed position), renewed as it works; when its holder dies, another
takes over once the lease expires.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from kombu import Exchange
from nameko.amqp.publish import Publisher
from nameko.constants import PERSISTENT
from nameko.extensions import DependencyProvider
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError, OperationFailure

from events.mongodb import MongoDBDatastore, datastore_from_config
from events.published import LogReader
from schemas.events import HEADER_PREFIX

log = logging.getLogger(__name__)
LEASES = "relay_leases"


class LeaseLost(Exception):
    """Another relay holds this log's lease now."""


class Lease:
    def __init__(self, datastore: MongoDBDatastore, log_name: str, owner: str, seconds: float):
        self.leases = datastore.collection(LEASES)
        self.log = log_name
        self.owner = owner
        self.seconds = seconds

    def _expiry(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.seconds)

    def acquire(self) -> int | None:
        """Hold (or renew) the lease; return the confirmed position, or None if another
        relay holds it."""
        now = datetime.now(UTC)
        held = self.leases.find_one_and_update(
            {"_id": self.log, "$or": [{"owner": self.owner}, {"expires_at": {"$lt": now}}]},
            {"$set": {"owner": self.owner, "expires_at": self._expiry()}},
            return_document=ReturnDocument.AFTER,
        )
        if held is None:
            try:
                self.leases.insert_one(
                    {"_id": self.log, "owner": self.owner, "expires_at": self._expiry(),
                     "position": 0}
                )  # fmt: skip
            except DuplicateKeyError:
                return None
            return 0
        return held["position"]

    def confirm(self, position: int) -> None:
        """Record that the broker confirmed everything up to ``position``."""
        moved = self.leases.update_one(
            {"_id": self.log, "owner": self.owner, "position": {"$lte": position}},
            {"$set": {"position": position, "expires_at": self._expiry()}},
        )
        if not moved.matched_count:
            raise LeaseLost(self.log)

    def release(self) -> None:
        self.leases.update_one(
            {"_id": self.log, "owner": self.owner},
            {"$set": {"expires_at": datetime.fromtimestamp(0, UTC)}},
        )


class Relay:
    def __init__(
        self,
        datastore: MongoDBDatastore,
        source: str,
        amqp_uri: str,
        *,
        owner: str | None = None,
        lease_seconds: float = 15.0,
        batch: int = 500,
        idle_seconds: float = 0.5,
    ) -> None:
        self.reader = LogReader(datastore, source)
        self.source = source
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid4().hex[:8]}"
        self.lease = Lease(datastore, self.reader.log, self.owner, lease_seconds)
        self.batch = batch
        self.idle_seconds = idle_seconds
        self.confirmed = 0
        self.exchange = Exchange(f"{source}.events", type="topic", durable=True)
        self.publisher = Publisher(
            amqp_uri,
            use_confirms=True,
            serializer="json",
            delivery_mode=PERSISTENT,
            declare=[self.exchange],
        )

    def step(self) -> bool | None:
        """Publish the next batch of events and confirm their position. Returns whether
        there was anything to relay, or None when another relay holds the lease."""
        confirmed = self.lease.acquire()
        if confirmed is None:
            return None
        self.confirmed = confirmed
        upto = min(self.reader.head(), confirmed + self.batch)
        if upto <= confirmed:
            return False
        for event in self.reader.public_events(confirmed, upto):
            self.publish(event)
        self.lease.confirm(upto)
        return True

    def publish(self, event: dict[str, Any]) -> None:
        headers = {
            f"{HEADER_PREFIX}{key.replace('_', '-')}": event[key]
            for key in ("log", "position", "event_id", "originator_id", "originator_version",
                        "correlation_id", "causation_id")
            if event[key] is not None
        }  # fmt: skip
        self.publisher.publish(
            event, exchange=self.exchange, routing_key=event["type"], headers=headers
        )

    def run(self, stopping) -> None:
        """Relay until ``stopping()`` is true; wait for new events when caught up."""
        doorbell = self._doorbell()
        try:
            while not stopping():
                try:
                    progressed = self.step()
                except LeaseLost:
                    log.warning("relay %s lost the lease of %s", self.owner, self.reader.log)
                    progressed = None
                if progressed is None:
                    time.sleep(min(self.lease.seconds / 3, 5.0))
                elif not progressed:
                    self._wait(doorbell)
        finally:
            if doorbell is not None:
                doorbell.close()

    def _doorbell(self):
        try:
            return self.reader.recorder.events.watch(
                [{"$match": {"operationType": "insert"}}],
                max_await_time_ms=int(self.idle_seconds * 1000),
            )
        except OperationFailure:
            return None

    def _wait(self, doorbell) -> None:
        """Wait until the log grows past what was confirmed, or until it is time to renew
        the lease (a third of it). The change stream rings at an insert; the head (one read
        by key) is looked at every ``idle_seconds`` in case it did not, so an idle relay
        costs the database a few reads a second and a lease renewal every few seconds."""
        deadline = time.monotonic() + min(self.lease.seconds / 3, 5.0)
        while time.monotonic() < deadline:
            started = time.monotonic()
            if doorbell is not None and doorbell.try_next() is not None:
                return
            if self.reader.head() > self.confirmed:
                return
            rest = self.idle_seconds - (time.monotonic() - started)
            if rest > 0:
                time.sleep(rest)

    def close(self) -> None:
        self.lease.release()


class RelayExtension(DependencyProvider):
    """Runs the relay of its service's log inside the service's nameko container (config:
    ``AMQP_URI``, ``EVENTSOURCING`` for the database, ``RELAY_LEASE_SECONDS``). With the
    lease, any number of replicas run it and one relays."""

    def setup(self) -> None:
        config = self.container.config
        self.datastore = datastore_from_config(config)
        self.relay = Relay(
            self.datastore,
            self.container.service_name,
            config["AMQP_URI"],
            lease_seconds=float(config.get("RELAY_LEASE_SECONDS") or 15.0),
        )
        self.stopping = False

    def start(self) -> None:
        self.container.spawn_managed_thread(self._run)

    def _run(self) -> None:
        try:
            while not self.stopping:
                try:
                    self.relay.run(lambda: self.stopping)
                except Exception:
                    log.exception("relay of %s failed; starting again", self.relay.reader.log)
                    time.sleep(1.0)
        finally:
            self.datastore.close()

    def stop(self) -> None:
        self.stopping = True
        with contextlib.suppress(Exception):
            self.relay.close()

    def kill(self) -> None:
        self.stop()
