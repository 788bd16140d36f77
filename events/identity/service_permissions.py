"""The RabbitMQ permissions of a service's own user, derived from what the service declares
(issue 24, item 9): its RPC queue and reply queues on ``nameko-rpc``, its log's exchange
``<service>.events`` (its relay publishes there), and for each event handler its queue, that
queue's retry and parked queues and the upstream exchange it binds to. Nothing else: the
internet-facing records pod cannot declare, bind or read another service's queues, nor bind
its own queues to another service's requests or events (topic permissions limit the keys)."""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from typing import Any

from nameko.events import EventHandler
from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR
from nameko.rpc import Rpc, RpcProxy

from events.identity.agency import UUID_KEY
from schemas.events import LOGS

RPC_EXCHANGE = "nameko-rpc"
DEFAULT_EXCHANGE = "amq.default"  # the retry and parked queues are published to through it
METHOD = "[a-z_]+"


@dataclass
class Declared:
    """What a service declares on the broker, read from its class."""

    service: str
    rpc: bool = False
    calls: set[str] = field(default_factory=set)  # services it calls over RPC
    handlers: dict[str, tuple[str, str]] = field(default_factory=dict)  # queue: (source, type)
    publishes_events: bool = False
    #: the logs whose relays wake its projections (``events.readmodels.wakeup``: a queue of
    #: its own, ``<service>-wakeup-<hex>``, bound with ``#``): the logs it reads anyway
    wakes_on: set[str] = field(default_factory=set)


def declared(service_class: type) -> Declared:
    name = service_class.name
    found = Declared(name, publishes_events=name in LOGS)
    for method_name, method in inspect.getmembers(service_class, inspect.isfunction):
        for entrypoint in getattr(method, ENTRYPOINT_EXTENSIONS_ATTR, ()):
            if isinstance(entrypoint, Rpc):
                found.rpc = True
            elif isinstance(entrypoint, EventHandler):
                source, event_type = entrypoint.source_service, entrypoint.event_type
                queue = f"evt-{source}-{event_type}--{name}.{method_name}"
                found.handlers[queue] = (source, event_type)
    for value in vars(service_class).values():
        if isinstance(value, RpcProxy):
            found.calls.add(value.target_service)
        for projection in getattr(value, "projection_classes", ()):  # a ProjectionsRunner
            found.wakes_on.update(projection.sources)
    return found


def _either(*patterns: str) -> str:
    return "^(" + "|".join(patterns) + ")$"


def service_broker_permissions(service_class: type) -> dict[str, Any]:
    """``permissions`` (configure, write, read on the vhost) and ``topic_permissions`` (one per
    topic exchange: the routing keys it may publish with and bind with) of the service's user."""
    d = declared(service_class)
    service = re.escape(d.service)
    replies = rf"rpc\.reply-{service}-.*"
    own_events = re.escape(f"{d.service}.events")
    queues = [re.escape(q) for q in sorted(d.handlers)]
    handled = [rf"{q}(\.retry\.[0-9]+|\.parked)?" for q in queues]
    handled_sources = {f"{source}.events" for source, _ in d.handlers.values()}
    woken_by = {f"{source}.events" for source in d.wakes_on}
    sources = sorted(handled_sources | woken_by)
    rpc_queue = [re.escape(f"rpc-{d.service}")] if d.rpc else []
    published = [own_events] if d.publishes_events else []
    wakeup = [rf"{service}-wakeup-[0-9a-f]{{32}}"] if d.wakes_on else []
    configure = [re.escape(RPC_EXCHANGE), *rpc_queue, replies, *published,
                 *map(re.escape, sources), *handled, *wakeup]  # fmt: skip
    write = [re.escape(RPC_EXCHANGE), *rpc_queue, replies, *published, *handled, *wakeup]
    if d.handlers:
        write.append(re.escape(DEFAULT_EXCHANGE))
    read = [re.escape(RPC_EXCHANGE), *rpc_queue, replies, *map(re.escape, sources), *handled,
            *wakeup]  # fmt: skip
    calls = [rf"{re.escape(target)}\.{METHOD}" for target in sorted(d.calls)]
    topics = [{
        "exchange": RPC_EXCHANGE,
        # replies (to a caller's UUID) and its own calls; binds its RPC queue and its replies
        "write": _either(UUID_KEY.strip("^$"), *calls) if calls else UUID_KEY,
        "read": _either(*([rf"{service}\.\*"] if d.rpc else []), UUID_KEY.strip("^$")),
    }]  # fmt: skip
    if d.publishes_events:
        topics.append({"exchange": f"{d.service}.events", "write": f"^{METHOD}$", "read": "^$"})
    for source in sources:
        types = sorted(t for s, t in d.handlers.values() if f"{s}.events" == source)
        keys = [*map(re.escape, types), *(["#"] if source in woken_by else [])]
        topics.append({"exchange": source, "write": "^$", "read": _either(*keys)})
    return {
        "permissions": {
            "configure": _either(*configure),
            "write": _either(*write),
            "read": _either(*read),
        },
        "topic_permissions": topics,
    }
