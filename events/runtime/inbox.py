"""Every message a service consumes gets an outcome, and no message stops the service.

nameko kills a service's container when anything raises on its consuming path: kombu failing
to decode a body (an unknown content type, invalid UTF-8, JSON nested 100,000 deep), a
responder without ``reply_to``, a header that breaks the worker's context
(``nameko.call_id_stack: [1, 2]``). A message that was never acknowledged then comes back
and kills the service again when it restarts. Here is the boundary between the broker's
bytes and a worker, for the RPC entrypoint (``events.identity.agency``) and the event consumers
(``events.bus.consumer``):

- ``GuardedQueueConsumer`` hands each message, undecoded, to its provider's ``consume``, in
  a thread that never raises: whatever goes wrong is logged, counted and the message
  acknowledged (nothing is requeued to loop). Its messages are never inflated: kombu
  decompresses a body whose ``compression`` header names a codec as it builds the message,
  before anyone could check its size (300 KB of zlib become 300 MB), so the header is taken
  off first (``UninflatedMessage``) and the body refused.
- ``decode_json`` reads a body as the documented JSON (``application/json``, UTF-8, at most
  ``MAX_BODY_BYTES``, nested at most ``MAX_DEPTH`` deep, no duplicate keys, no ``NaN``);
  ``rpc_argument`` checks an RPC body's shape, ``{"args": [one object], "kwargs": {}}``.
- ``context_headers`` keeps, of a message's headers, only a well-formed
  ``nameko.call_id_stack``: nothing a caller sends reaches a worker's context otherwise.
- ``reply_address`` and ``publish_reply``: replies are JSON whatever the request's content
  type, to its ``reply_to`` routing key with its ``correlation_id``, both checked first.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable
from functools import cache, partial
from typing import Any

from kombu import Exchange
from kombu.message import Message as KombuMessage
from nameko.amqp.publish import Publisher
from nameko.constants import HEADER_PREFIX
from nameko.exceptions import MalformedRequest, safe_for_serialization
from nameko.messaging import QueueConsumer
from prometheus_client import Counter

from events.runtime.metrics import REGISTRY

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
"""The largest body a service reads (1 MiB); a larger one is a ``MalformedRequest``."""
MAX_DEPTH = 32
"""How deep JSON arrays and objects may nest in a body."""
MAX_CALL_STACK = 10
"""How many entries of a caller's ``nameko.call_id_stack`` are kept (nameko tracks 10)."""
EXCERPT = 100
"""Errors quote at most this many characters of what a caller sent."""

CALL_ID = re.compile(r"[A-Za-z0-9_.:-]{1,200}\Z")
SHORT_STRING = re.compile(r"[\x21-\x7e]{1,255}\Z")
"""A routing key or correlation id the services answer to: printable ASCII, no spaces."""

REJECTED = Counter(
    "youwei_messages_rejected",
    "Messages a service consumed and answered without running a worker (malformed, no "
    "user_id, unknown method), or could not answer at all (no usable reply_to), by reason",
    ["service", "queue", "reason"],
    registry=REGISTRY,
)


def excerpt(value: Any, limit: int = EXCERPT) -> str:
    """At most ``limit`` characters of ``value``'s text, with an ellipsis when cut; never
    anything that cannot be encoded (a lone surrogate is shown escaped)."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) > limit:
        text = text[:limit] + "…"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def text_property(value: Any) -> str | None:
    """An AMQP short-string property as text, or None when absent or not text."""
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return value if isinstance(value, str) and value else None


# --- bodies ------------------------------------------------------------------------------


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        twice = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise ValueError(f"the key {excerpt(twice)!r} appears twice in one object")
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise ValueError(f"the number {excerpt(text)} is out of range")
    return number


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if level > MAX_DEPTH:
                break
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


def decode_json(message: Any) -> Any:
    """The message's body as JSON, or ``MalformedRequest`` saying what is wrong with it."""
    content_type = (text_property(message.content_type) or "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise MalformedRequest(
            f"content_type must be application/json, not {excerpt(message.content_type)}"
        )
    encoding = (text_property(message.content_encoding) or "utf-8").lower()
    if encoding not in ("utf-8", "utf8"):
        raise MalformedRequest(f"content_encoding must be utf-8, not {excerpt(encoding)}")
    compression = getattr(message, "refused_compression", None)
    if compression is not None:
        raise MalformedRequest(
            f"a compressed body is refused (compression: {excerpt(compression, 60)}); "
            "send the JSON uncompressed"
        )
    if getattr(message, "errors", None):
        raise MalformedRequest("the body could not be read")
    body = message.body
    if isinstance(body, str):
        body = body.encode("utf-8", "surrogatepass")
    if not isinstance(body, bytes):
        raise MalformedRequest("the body is not bytes")
    if len(body) > MAX_BODY_BYTES:
        raise MalformedRequest(f"the body is {len(body)} bytes; at most {MAX_BODY_BYTES}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MalformedRequest(f"the body is not UTF-8 (byte {error.start})") from None
    try:
        value = json.loads(
            text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant,
            parse_float=_finite,
        )  # fmt: skip
    except RecursionError:
        raise MalformedRequest(f"the body nests deeper than {MAX_DEPTH}") from None
    except ValueError as error:
        raise MalformedRequest(f"the body is not JSON: {excerpt(str(error), 200)}") from None
    if _depth(value) > MAX_DEPTH:
        raise MalformedRequest(f"the body nests deeper than {MAX_DEPTH}")
    return value


def rpc_argument(body: Any) -> dict[str, Any]:
    """The one argument of an RPC request body ``{"args": [object], "kwargs": {}}``."""
    shape = 'the body must be {"args": [one object], "kwargs": {}}'
    if not isinstance(body, dict) or set(body) != {"args", "kwargs"}:
        raise MalformedRequest(shape)
    args, kwargs = body["args"], body["kwargs"]
    if kwargs != {} or not isinstance(args, list) or len(args) != 1:
        raise MalformedRequest(shape)
    if not isinstance(args[0], dict):
        raise MalformedRequest(f"{shape}: the argument is a {type(args[0]).__name__}")
    return args[0]


# --- properties and headers -------------------------------------------------------------


def reply_address(message: Any) -> tuple[str, str | None] | None:
    """``(reply_to, correlation_id)`` when the message can be answered, else None."""
    properties = message.properties or {}
    reply_to = text_property(properties.get("reply_to"))
    if reply_to is None or not SHORT_STRING.match(reply_to):
        return None
    correlation_id = text_property(properties.get("correlation_id"))
    if correlation_id is not None and not SHORT_STRING.match(correlation_id):
        return None
    return reply_to, correlation_id


def context_headers(headers: Any) -> dict[str, Any]:
    """The worker context a caller's headers may set: a ``nameko.call_id_stack`` of call
    ids (strings), its last ``MAX_CALL_STACK``; any other header, or a malformed stack, is
    dropped."""
    stack = (
        (headers or {}).get(f"{HEADER_PREFIX}.call_id_stack") if isinstance(headers, dict) else None
    )
    if not isinstance(stack, list):
        return {}
    calls = [text_property(call) for call in stack[-MAX_CALL_STACK:]]
    if not all(call is not None and CALL_ID.match(call) for call in calls):
        return {}
    return {"call_id_stack": calls}


# --- replies -----------------------------------------------------------------------------


def error_reply(error: BaseException) -> dict[str, Any]:
    """nameko's error shape (``exc_type``, ``exc_path``, ``exc_args``, ``value``)."""
    return {
        "exc_type": type(error).__name__,
        "exc_path": f"{type(error).__module__}.{type(error).__name__}",
        "exc_args": [safe_for_serialization(arg) for arg in error.args],
        "value": safe_for_serialization(error),
    }


def publish_reply(
    config: dict[str, Any],
    exchange: Exchange,
    address: tuple[str, str | None],
    result: Any,
    error: dict[str, Any] | None,
) -> None:
    """Publish ``{"result", "error"}`` as JSON to the caller's reply key."""
    reply_to, correlation_id = address
    publisher = Publisher(
        config["AMQP_URI"], ssl=config.get("AMQP_SSL"), login_method=config.get("LOGIN_METHOD")
    )
    publisher.publish(
        {"result": result, "error": error},
        serializer="json",
        exchange=exchange,
        routing_key=reply_to,
        correlation_id=correlation_id,
    )


def incident() -> str:
    """An id under which an unexpected failure is logged, for the caller to quote."""
    return uuid.uuid4().hex[:16]


# --- the consumer ------------------------------------------------------------------------


class UninflatedMessage(KombuMessage):
    """kombu's message, without the ``compression`` header kombu would inflate the body by
    (unboundedly, in memory): the header's value is kept as ``refused_compression`` and the
    body left as it came.

    Mixed in after a transport's message class (``uninflated``), so that class's
    ``__init__`` passes its headers through this one on their way to kombu's."""

    def __init__(self, *args: Any, headers: Any = None, **kwargs: Any) -> None:
        self.refused_compression = None
        if isinstance(headers, dict) and "compression" in headers:
            headers = dict(headers)
            self.refused_compression = headers.pop("compression")
        super().__init__(*args, headers=headers, **kwargs)


@cache
def uninflated(message_class: type) -> type:
    """``message_class`` (a transport's subclass of kombu's message) never inflating."""
    return type(f"Uninflated{message_class.__name__}", (message_class, UninflatedMessage), {})


class GuardedQueueConsumer(QueueConsumer):
    """nameko's queue consumer, giving each message undecoded to its provider's
    ``consume(message)`` in a thread of its own that never raises into the container:
    kombu's decoding (and its errors) never run on the consuming loop."""

    def get_consumers(self, consumer_cls: Any, channel: Any) -> Any:
        consumers = super().get_consumers(consumer_cls, channel)
        channel.Message = uninflated(type(channel).Message)
        for provider, consumer in self._consumers.items():
            consumer.on_message = partial(self._take, provider)
            consumer.on_decode_error = lambda message, _error, p=provider: self._take(p, message)
        return consumers

    def _take(self, provider: Any, message: Any) -> None:
        key = excerpt((message.delivery_info or {}).get("routing_key"), 60)
        self.container.spawn_managed_thread(
            partial(self._consume, provider.consume, message),
            identifier=f"{type(provider).__name__}.consume[{key}]",
        )

    def _consume(self, consume: Callable[[Any], None], message: Any) -> None:
        try:
            consume(message)
        except Exception:
            log.exception("consuming a message failed; it is acknowledged and dropped")
            self.ack_message(message)

    def ack_message(self, message: Any) -> None:
        try:
            super().ack_message(message)
        except Exception as error:  # the channel is gone: the broker redelivers it
            log.warning("could not acknowledge a message: %s", error)
