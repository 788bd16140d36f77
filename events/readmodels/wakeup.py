"""Wakes projections when the logs they follow grow, instead of leaving them to a poll.

A relay publishes each event to its service's exchange (``<service>.events``) once the
broker may have it, that is after its append committed (``events.bus.relay``). A
``Wakeup`` holds a queue of this process's own (exclusive: deleted with its connection)
bound to the exchanges of the logs a process's projections read, every routing key, and
calls ``wake`` at each message, unread (the body is never decoded). A message only wakes:
the projections still read the logs by position, so a message lost (the broker down, the
queue made again) costs at most one poll, and one without news costs one look at the heads.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from uuid import uuid4

from kombu import Connection, Consumer, Exchange, Queue, binding

log = logging.getLogger(__name__)


class Wakeup:
    def __init__(
        self, amqp_uri: str, sources: Iterable[str], wake: Callable[[], None], name: str
    ) -> None:
        self.amqp_uri = amqp_uri
        self.wake = wake
        self.queue = Queue(
            f"{name}-wakeup-{uuid4().hex}",
            bindings=[
                binding(Exchange(f"{source}.events", type="topic", durable=True), "#")
                for source in dict.fromkeys(sources)
            ],
            exclusive=True,
            auto_delete=True,
            durable=False,
        )

    def run(self, stopping: Callable[[], bool], tick: float = 1.0) -> None:
        """Listen until ``stopping()`` is true (looked at every ``tick`` seconds); connect
        again after a failure. Each (re)connection wakes once: what was published while
        there was no queue is then not waited for."""
        while not stopping():
            try:
                with Connection(self.amqp_uri, heartbeat=0) as connection:
                    channel = connection.channel()  # declaring the queue declares its exchanges
                    consumer = Consumer(channel, [self.queue], no_ack=True,
                                        on_message=lambda _message: self.wake())  # fmt: skip
                    with consumer:
                        self.wake()
                        while not stopping():
                            try:
                                connection.drain_events(timeout=tick)
                            except TimeoutError:
                                continue
            except Exception:
                if stopping():
                    return
                log.warning("the wake-up queue %s failed; connecting again", self.queue.name,
                            exc_info=True)  # fmt: skip
                self.wake()
                time.sleep(tick)
