"""Parked messages (``<queue>.parked``, see events/bus/consumer.py): list, show, replay.

Replaying moves each parked message back to the queue it came from, confirmed by the broker
before the parked copy is acknowledged, so a message is never lost between the two (at
worst it is delivered twice, which consumers recognize by its log position).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kombu import Connection, Queue

from events.bus.consumer import ATTEMPT_HEADER, ERROR_HEADER
from youwei.stack import amqp_uri, broker_queues

SUFFIX = ".parked"


def parked_queues(uri: str | None = None) -> list[dict[str, Any]]:
    """Each parked-message queue of the vhost, with how many messages it holds."""
    return [
        {"queue": q["name"], "messages": q.get("messages", 0)}
        for q in sorted(broker_queues(uri), key=lambda q: q["name"])
        if q["name"].endswith(SUFFIX)
    ]


@contextmanager
def _channel(uri: str | None) -> Iterator:
    with Connection(uri or amqp_uri(), transport_options={"confirm_publish": True}) as conn:
        yield conn.channel()


def _parked(queue: str) -> Queue:
    if not queue.endswith(SUFFIX):
        msg = f"{queue} is not a parked-message queue (its name ends with {SUFFIX})"
        raise ValueError(msg)
    return Queue(queue, durable=True, no_declare=True)


def show(queue: str, count: int = 10, uri: str | None = None) -> list[dict[str, Any]]:
    """Up to ``count`` parked messages, left where they are (read, then not acknowledged)."""
    shown = []
    with _channel(uri) as channel:
        bound = _parked(queue)(channel)
        for _ in range(count):
            message = bound.get(no_ack=False)
            if message is None:
                break
            headers = message.headers or {}
            shown.append({
                "error": headers.get(ERROR_HEADER),
                "attempts": headers.get(ATTEMPT_HEADER, 0),
                "headers": {k: v for k, v in headers.items() if k != ERROR_HEADER},
                "body": _body(message),
            })  # fmt: skip
        # closing the channel without acknowledging returns every message to the queue
    return shown


def replay(queue: str, count: int | None = None, uri: str | None = None) -> int:
    """Move up to ``count`` (default: all those parked now) parked messages back to their
    queue, attempts reset; return how many moved. Messages parked again meanwhile (still
    failing) are left for the next replay."""
    target = queue.removesuffix(SUFFIX)
    moved = 0
    with _channel(uri) as channel:
        bound = _parked(queue)(channel)
        parked_now = bound.queue_declare(passive=True).message_count
        limit = parked_now if count is None else min(count, parked_now)
        producer = channel.connection.client.Producer(channel)
        while moved < limit:
            message = bound.get(no_ack=False)
            if message is None:
                break
            headers = {k: v for k, v in (message.headers or {}).items()
                       if k not in (ATTEMPT_HEADER, ERROR_HEADER)}  # fmt: skip
            headers["youwei-replayed-after"] = (message.headers or {}).get(ERROR_HEADER, "")
            producer.publish(
                message.body, exchange="", routing_key=target, headers=headers,
                content_type=message.content_type, content_encoding=message.content_encoding,
                delivery_mode=2,
            )  # fmt: skip
            message.ack()
            moved += 1
    return moved


def _body(message: Any) -> Any:
    try:
        return json.loads(message.body)
    except (TypeError, ValueError):
        return message.body if isinstance(message.body, str) else repr(message.body)
