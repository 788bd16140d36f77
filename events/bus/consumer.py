"""Consuming relayed events: a nameko entrypoint that retries and parks, and the
application side that applies a policy to each upstream event exactly once.

The bus is the doorbell, the log is the truth. A message says "the log of ``source`` has an
event at ``position``"; the consumer applies its policy to every event of that log from the
last position it tracked up to that one, read from the log itself
(``events.log.published.LogReader``). Each effect is saved with its command record and its
tracking record (policy, upstream log, position) in one transaction, so a redelivered or
duplicated message finds the position tracked and does nothing, and a message that arrives
ahead of a gap makes the consumer read the gap from the log first. A consumer that starts
catches up from the log alone.

A handler that raises is retried after growing delays (a queue per delay whose messages
expire back into the handler's queue: RabbitMQ's dead-lettering with a TTL), then parked in
``<queue>.parked`` with the error; but while the database is unreachable (no fault of the
message's) it waits the longest delay again and again, and is never parked. Malformed or
unknown messages are parked at once. Parked messages are listed, shown and replayed with
``youwei dlq``.
"""

from __future__ import annotations

import logging
import traceback
from functools import partial
from typing import Any

from eventsourcing.persistence import OperationalError
from kombu import Queue
from marshmallow import ValidationError
from nameko.amqp.publish import Publisher
from nameko.constants import PERSISTENT
from nameko.containers import ContainerBeingKilled
from nameko.events import EventHandler
from nameko.exceptions import MalformedRequest, RemoteError
from pymongo.errors import ConnectionFailure

from events.runtime.inbox import GuardedQueueConsumer, context_headers, decode_json, excerpt
from events.runtime.metrics import PARKS, RETRIES
from schemas.events import LOGS, PublicEvent

log = logging.getLogger(__name__)
RETRY_DELAYS = (1.0, 5.0, 30.0)
ATTEMPT_HEADER = "youwei-attempt"
ERROR_HEADER = "youwei-error"


def database_unavailable(error: BaseException) -> bool:
    """Whether ``error`` says the database could not be reached (also when a service called
    over RPC says so), rather than that the message cannot be handled."""
    if isinstance(error, RemoteError):
        return error.exc_type == "Unavailable"  # events.identity.agency's answer for this
    return isinstance(error, OperationalError | ConnectionFailure)


def retry_queues(queue_name: str, delays: tuple[float, ...]) -> list[Queue]:
    """One queue per delay; a message in it expires back into ``queue_name``."""
    return [
        Queue(
            f"{queue_name}.retry.{attempt}",
            durable=True,
            queue_arguments={
                "x-message-ttl": int(delay * 1000),
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": queue_name,
            },
        )
        for attempt, delay in enumerate(delays, start=1)
    ]


def parked_queue(queue_name: str) -> Queue:
    return Queue(f"{queue_name}.parked", durable=True)


class LogEventHandler(EventHandler):
    """``@log_event_handler(source, event_type)``: the decorated method gets each relayed
    event (its public form, validated) of that type from ``source``'s log; and once at
    start, a catch-up event (``position`` None: up to the log's head). No message stops
    the service (``events.runtime.inbox``): one that is not a valid event is parked at once."""

    queue_consumer = GuardedQueueConsumer()

    def setup(self) -> None:
        super().setup()
        config = self.container.config
        self.delays = tuple(float(d) for d in config.get("EVENT_RETRY_DELAYS") or RETRY_DELAYS)
        name = self.queue.name
        self.retries = retry_queues(name, self.delays)
        self.parked = parked_queue(name)
        self.publisher = Publisher(
            config["AMQP_URI"],
            use_confirms=True,
            serializer="json",
            delivery_mode=PERSISTENT,
            declare=[*self.retries, self.parked],
        )

    def start(self) -> None:
        super().start()
        catch_up = {"type": None, "source": self.source_service,
                    "log": LOGS.get(self.source_service), "position": None}  # fmt: skip
        self.container.spawn_worker(self, (catch_up,), {}, handle_result=self._caught_up)

    def _caught_up(self, worker_ctx, result=None, exc_info=None):
        if exc_info is not None:
            log.error("catching up %s from the log of %s failed: %s", self.method_name,
                      self.source_service, exc_info[1])  # fmt: skip
        return result, exc_info

    def consume(self, message: Any) -> None:
        """A message as it came (``events.runtime.inbox.GuardedQueueConsumer``): one that is not
        the documented JSON is parked as it is."""
        try:
            body = decode_json(message)
        except MalformedRequest as error:
            self.park(message.body, message, f"malformed: {error}")
            self.queue_consumer.ack_message(message)
            return
        self.handle_message(body, message)

    def handle_message(self, body: Any, message: Any) -> None:
        try:
            event = PublicEvent().load(body)
            if event["source"] != self.source_service or event["type"] != self.event_type:
                raise ValidationError(f"a {event['source']}.{event['type']} event, not "
                                      f"{self.source_service}.{self.event_type}")  # fmt: skip
        except Exception as error:  # anything that is not a valid public event
            self.park(body, message, f"malformed: {excerpt(str(error), 500)}")
            self.queue_consumer.ack_message(message)
            return
        event["event_id"] = str(event["event_id"])
        for key in ("correlation_id", "causation_id"):
            event[key] = str(event[key]) if event[key] else None
        handle_result = partial(self.handle_result, message)
        try:
            self.container.spawn_worker(self, (event,), {}, handle_result=handle_result,
                                        context_data=context_headers(message.headers))  # fmt: skip
        except ContainerBeingKilled:
            self.queue_consumer.requeue_message(message)

    def handle_message_processed(self, message, result=None, exc_info=None) -> None:
        """Retry a failed handler after the next delay, or park it; acknowledge. Never
        raises (it runs in the worker's thread, whose failure would stop the service)."""
        try:
            if exc_info is not None:
                self._retry_or_park(message, exc_info)
        except Exception:
            log.exception("retrying or parking a message of %s failed; the log still has "
                          "its event, read again on the next message", self.queue.name)  # fmt: skip
        self.queue_consumer.ack_message(message)

    def _retry_or_park(self, message: Any, exc_info: Any) -> None:
        headers = message.headers if isinstance(message.headers, dict) else {}
        attempt = headers.get(ATTEMPT_HEADER, 0)
        if not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 0:
            attempt = 0
        error = "".join(traceback.format_exception_only(exc_info[0], exc_info[1])).strip()
        if self.delays and database_unavailable(exc_info[1]):
            attempt = min(attempt, len(self.delays) - 1)  # wait for the database, never park
        if attempt < len(self.delays):
            self.publisher.publish(
                message.payload, exchange="", routing_key=self.retries[attempt].name,
                headers={**headers, ATTEMPT_HEADER: attempt + 1, ERROR_HEADER: error[:2000]},
            )  # fmt: skip
            RETRIES.labels(self.container.service_name, self.queue.name).inc()
        else:
            self.park(message.payload, message, error)

    def park(self, body: Any, message: Any, error: str) -> None:
        log.warning("parking a message of %s: %s", self.queue.name, error)
        headers = message.headers if isinstance(getattr(message, "headers", None), dict) else {}
        headers = {**headers, ERROR_HEADER: error[:2000]}
        self.publisher.publish(
            body, exchange="", routing_key=self.parked.name, headers=headers,
            serializer="json" if not isinstance(body, bytes | str) else "raw",
        )  # fmt: skip
        reason = "malformed" if error.startswith("malformed") else "failed"
        PARKS.labels(self.container.service_name, self.queue.name, reason).inc()


log_event_handler = LogEventHandler.decorator
