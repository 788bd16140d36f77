"""The relay: a service's log is its outbox.

A relay follows one log from the last position the broker confirmed and publishes each
published event (``schemas.events``) to the service's nameko event exchange
(``<service>.events``, routing key = the event type), with publisher confirms: a batch of
events is published, then the broker's confirms of all of them are awaited at once
(``BatchPublisher``), not one wait per event. It records a position only after the broker
confirmed every event up to it, so a crash at any point republishes (consumers recognize a
repeat by its log position) and never loses one. The lease is renewed with each confirmed
position and at least every third of its term, not read again before every batch.

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

from amqp import spec
from amqp.exceptions import MessageNacked, RecoverableConnectionError
from kombu import Connection, Exchange, Producer
from nameko.amqp.publish import DEFAULT_RETRY_POLICY
from nameko.constants import PERSISTENT
from nameko.extensions import DependencyProvider
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError, OperationFailure

from events.log.bells import bell
from events.log.datastore import MongoDBDatastore, datastore_from_config
from events.log.published import LogReader
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


class BatchPublisher:
    """Publishes messages to one exchange on a channel in confirm mode: a batch is sent
    whole, then its confirms are awaited together. ``publish`` returns once the broker
    confirmed every message of the batch, and raises (kombu's ``OperationalError`` when the
    broker cannot be reached after ``retry_policy``, ``MessageNacked``, a connection error)
    otherwise; the connection is then dropped and made again on the next batch."""

    def __init__(self, amqp_uri: str, exchange: Exchange, confirm_timeout: float = 30.0):
        self.amqp_uri = amqp_uri
        self.exchange = exchange
        self.confirm_timeout = confirm_timeout
        self.retry_policy = dict(DEFAULT_RETRY_POLICY)
        self._connection: Connection | None = None
        self._producer: Producer | None = None
        self._sent = 0  # the delivery tag of the channel's last message
        self._confirmed: set[int] = set()
        self._confirmed_upto = 0
        self._refused: int | None = None

    def _ready(self) -> Producer:
        if self._producer is None:
            connection = Connection(self.amqp_uri)
            try:
                connection.ensure_connection(**self.retry_policy)
                channel = connection.channel()
                channel.confirm_select()
                channel.events["basic_ack"].add(self._acked)
                channel.events["basic_nack"].add(self._nacked)
            except BaseException:
                connection.release()
                raise
            self._connection = connection
            self._producer = Producer(channel, self.exchange, serializer="json")
            self._producer.declare()
            self._sent = self._confirmed_upto = 0
            self._confirmed, self._refused = set(), None
        return self._producer

    def publish(self, messages: list[tuple[dict[str, Any], str, dict[str, Any]]]) -> None:
        """Publish ``(body, routing key, headers)`` each, persistent; wait for all confirms.
        A connection kept from an earlier batch that fails is made again once (a repeat of
        what it may have taken is harmless: consumers know events by position)."""
        if not messages:
            return
        if self._producer is not None:
            try:
                self._publish(messages)
            except (ConnectionError, OSError, RecoverableConnectionError):
                log.info("the relay's connection to %s failed; connecting again", self.exchange)
            else:
                return
        self._publish(messages)

    def _publish(self, messages: list[tuple[dict[str, Any], str, dict[str, Any]]]) -> None:
        try:
            producer = self._ready()
            for body, routing_key, headers in messages:
                producer.publish(body, routing_key=routing_key, headers=headers,
                                 delivery_mode=PERSISTENT)  # fmt: skip
                self._sent += 1
            deadline = time.monotonic() + self.confirm_timeout
            while self._confirmed_upto < self._sent:
                rest = deadline - time.monotonic()
                if rest <= 0:
                    raise TimeoutError(f"the broker did not confirm {self.exchange.name} in time")
                producer.channel.wait([spec.Basic.Ack, spec.Basic.Nack], timeout=rest)
                if self._refused is not None:
                    raise MessageNacked(f"the broker refused message {self._refused}")
        except BaseException:
            self.close()
            raise

    def _nacked(self, delivery_tag: int, multiple: bool) -> None:
        self._refused = delivery_tag

    def _acked(self, delivery_tag: int, multiple: bool) -> None:
        """Every confirm reaches this listener (several may arrive in one read)."""
        if multiple:
            self._confirmed_upto = max(self._confirmed_upto, delivery_tag)
        else:
            self._confirmed.add(delivery_tag)
        while self._confirmed_upto + 1 in self._confirmed:
            self._confirmed_upto += 1
            self._confirmed.discard(self._confirmed_upto)

    def close(self) -> None:
        connection, self._connection, self._producer = self._connection, None, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.release()


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
        self.bell = bell(self.reader.log)
        self.source = source
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid4().hex[:8]}"
        self.lease = Lease(datastore, self.reader.log, self.owner, lease_seconds)
        self.batch = batch
        self.idle_seconds = idle_seconds
        self.renew_seconds = min(lease_seconds / 3, 5.0)
        """The longest a caught-up relay waits before it renews its lease."""
        self.confirmed = 0
        self.exchange = Exchange(f"{source}.events", type="topic", durable=True)
        self.publisher = BatchPublisher(amqp_uri, self.exchange)
        self._renewed_at: float | None = None  # when this relay last held the lease for sure

    def _hold(self) -> int | None:
        """The confirmed position, holding the lease: read from the lease when it was last
        renewed more than a quarter of its term ago (or never), else this relay's own."""
        now = time.monotonic()
        if self._renewed_at is None or now - self._renewed_at > self.lease.seconds / 4:
            confirmed = self.lease.acquire()
            if confirmed is None:
                self._renewed_at = None
                return None
            self._renewed_at, self.confirmed = now, confirmed
        return self.confirmed

    def step(self) -> bool | None:
        """Publish the next batch of events and confirm their position. Returns whether
        there was anything to relay, or None when another relay holds the lease."""
        confirmed = self._hold()
        if confirmed is None:
            return None
        upto = min(self.reader.head(), confirmed + self.batch)
        if upto <= confirmed:
            return False
        self.publisher.publish(
            [self.message(event) for event in self.reader.public_events(confirmed, upto)]
        )
        renewed = time.monotonic()
        try:
            self.lease.confirm(upto)
        except LeaseLost:
            self._renewed_at = None
            raise
        self._renewed_at, self.confirmed = renewed, upto
        return True

    def message(self, event: dict[str, Any]) -> tuple[dict[str, Any], str, dict[str, Any]]:
        """The message of a public event: body, routing key, headers."""
        headers = {
            f"{HEADER_PREFIX}{key.replace('_', '-')}": event[key]
            for key in ("log", "position", "event_id", "originator_id", "originator_version",
                        "correlation_id", "causation_id")
            if event[key] is not None
        }  # fmt: skip
        return event, event["type"], headers

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
                    time.sleep(self.renew_seconds)
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
        the lease (``renew_seconds``). An append in this process rings the log's bell
        (``events.log.bells``) as it commits, and the change stream rings at an insert by
        anyone; the head (one read by key) is looked at every ``idle_seconds`` in case
        neither did, so an idle relay costs the database a few reads a second and a lease
        renewal every few seconds, and an append costs no wait at all."""
        deadline = time.monotonic() + self.renew_seconds
        while time.monotonic() < deadline:
            started, seen = time.monotonic(), self.bell.rings
            if doorbell is not None and doorbell.try_next() is not None:
                return
            if self.reader.head() > self.confirmed:
                return
            rest = min(self.idle_seconds - (time.monotonic() - started),
                       deadline - time.monotonic())  # fmt: skip
            if rest > 0 and self.bell.wait(seen, rest):
                return

    def close(self) -> None:
        self.publisher.close()
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
