"""The AsyncAPI 3.0 document of youwei's wire contract, generated from ``schemas/``.

Every RPC method of the policy's registry (``schemas.authorization.METHODS``) with its
request (its contract: the method's name in CamelCase in ``schemas.<service>``), its reply
and each error type; every published event type (``schemas.events.PUBLISHED``) with its
payload, headers and routing key. The JSON Schemas of the contracts are apispec's
(``MarshmallowPlugin``, the marshmallow → JSON Schema converter of the marshmallow project's
own ecosystem), not hand-written; the channels, operations and envelopes around them follow
docs/rpc-wire.md and docs/events.md.

The document is shipped as ``schemas/asyncapi.json`` and served by the records service at
``/asyncapi.json``. Regenerate it after changing a contract, a method or an event type::

    .venv/bin/python -m youwei.asyncapi

(``tests/test_asyncapi.py`` fails while the shipped file differs from what this generates.)
apispec is a development dependency: nothing at run time imports this module.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import inspect
import json
import re
import sys
from pathlib import Path
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, validate

from events.identity.agency import LISTENING_NAME, LISTENING_QUEUE, REPLY_QUEUE_ARGUMENTS
from schemas import authorization, errors
from schemas.events import HEADER_PREFIX, LOGS, PUBLISHED, PublicEvent

DOCUMENT = Path(__file__).resolve().parents[1] / "schemas" / "asyncapi.json"
RPC_EXCHANGE = "nameko-rpc"
RPC_REPLY_QUEUE = "rpc.reply-<user>-<reply key>"
ERRORS = {
    "InvalidCommand": errors.InvalidCommand,
    "NotFound": errors.NotFound,
    "Conflict": errors.Conflict,
    "RuleViolation": errors.RuleViolation,
    "Forbidden": errors.Forbidden,
    "MethodNotFound": "The service has no such method; the value is the method's name.",
    "MalformedRequest": 'The body is not {"args": [one object], "kwargs": {}} in JSON '
    "(docs/rpc-wire.md, section 3), or is compressed; the value says what is wrong.",
    "Unavailable": errors.Unavailable,
    "ServiceError": errors.ServiceError,
}
EVENT_HEADERS = ("log", "position", "event-id", "originator-id", "originator-version",
                 "correlation-id", "causation-id")  # fmt: skip
INTEGERS = ("position", "originator-version")
HOW_TO_CALL = (
    "Connect as your agency's RabbitMQ user (your user name is your identity). A call: "
    "declare a reply queue named rpc.reply-<your user>-<reply key> (the reply key: a UUID in "
    "lowercase hex with hyphens) with the arguments x-expires {expires} and x-queue-type "
    "classic, bind it to the exchange nameko-rpc with the reply key as routing key and "
    "consume from it; then publish the request to nameko-rpc with the routing key "
    "<service>.<method> and the AMQP properties user_id (your user name: required, the "
    "broker refuses any other), reply_to (the reply key: a routing key, not a queue name), "
    "correlation_id (a new UUID), content_type application/json, content_encoding utf-8, "
    "no compression header (a compressed body is refused, MalformedRequest). The reply "
    "comes to the reply queue with the request's correlation_id. To listen to events: a "
    "queue named {queue} (name: {name}), bound to <service>.events with "
    "one event type per binding. Step by step, with what each bad request gets: "
    "docs/rpc-wire.md and docs/events.md."
).format(
    expires=REPLY_QUEUE_ARGUMENTS["x-expires"],
    queue=LISTENING_QUEUE.format(user="<your user>", name="<name>"),
    name=LISTENING_NAME,
)


def contract_of(service: str, method: str) -> type[Schema]:
    """The schema of a method's one argument: its name in CamelCase in ``schemas.<service>``."""
    camel = "".join(part.capitalize() for part in method.split("_"))
    schema = getattr(importlib.import_module(f"schemas.{service}"), camel, None)
    if not (inspect.isclass(schema) and issubclass(schema, Schema)):
        raise LookupError(f"{service}.{method} has no contract schemas.{service}.{camel}")
    return schema


def _schema_name(schema: Any) -> str:
    cls = schema if inspect.isclass(schema) else type(schema)
    module = cls.__module__.removeprefix("schemas.").split(".")[0]
    return f"{module}.{cls.__name__}"


def inner_bounds(self: Any, field: Any, **kwargs: Any) -> dict[str, Any]:
    """The lengths and ranges of the validators inside a field's ``validate.And`` (the
    project's ``NAME``), which apispec does not look into."""
    inner = [v for a in field.validators if isinstance(a, validate.And) for v in a.validators]
    if not inner:
        return {}
    bare = copy.copy(field)
    bare.validators = inner
    return {**self.field2length(bare), **self.field2range(bare, ret=kwargs.get("ret", {}))}


def _json_schemas() -> tuple[dict[str, Any], dict[tuple[str, str], str]]:
    """apispec's JSON Schemas of every method's contract and of the public event, by name;
    and (service, method) → the name of its contract's schema."""
    plugin = MarshmallowPlugin(_schema_name)
    spec = APISpec("youwei", "1", "3.1.0", plugins=[plugin])
    plugin.converter.add_attribute_function(inner_bounds)
    names: dict[tuple[str, str], str] = {}
    for service, methods in authorization.METHODS.items():
        for method in methods:
            schema = contract_of(service, method)
            names[service, method] = _schema_name(schema)
            if names[service, method] not in spec.components.schemas:
                spec.components.schema(names[service, method], schema=schema)
    spec.components.schema(_schema_name(PublicEvent), schema=PublicEvent)
    schemas = spec.to_dict()["components"]["schemas"]
    relayed = sorted(source for source, types in PUBLISHED.items() if types)
    event = schemas[_schema_name(PublicEvent)]["properties"]
    event["source"]["enum"] = relayed  # a log without published types is never relayed
    event["log"]["enum"] = sorted(LOGS[source] for source in relayed)
    return schemas, names


def _plain(text: str) -> str:
    """A docstring as a description: its bounds as numbers, no Python names."""
    for name in ("EXCERPT", "REASON", "MAX_ERRORS"):
        text = re.sub(rf"\b{name}\b", str(getattr(errors, name)), text)
    text = re.sub(r"\s*\(``[\w.]+``\)", "", text)
    return " ".join(text.replace("``", "`").split())


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name.replace('/', '~1')}"}


def _error_schemas() -> dict[str, Any]:
    schemas = {}
    for name, described in ERRORS.items():
        text = described if isinstance(described, str) else inspect.getdoc(described)
        schemas[f"error.{name}"] = {
            "type": "object", "description": _plain(text),
            "required": ["exc_type", "exc_path", "exc_args", "value"],
            "properties": {"exc_type": {"const": name}, "exc_path": {"type": "string"},
                           "exc_args": {"type": "array"}, "value": {"type": "string"}},
        }  # fmt: skip
    return schemas


def _rpc(service: str, method: str, contract: str) -> tuple[dict, dict, dict, dict]:
    """The channel, operation and messages (request, reply) of one method."""
    key = f"{service}.{method}"
    request = {
        "name": f"{key}.request", "title": f"{key} request", "contentType": "application/json",
        "description": "AMQP properties: user_id (your user), reply_to (your reply key), "
                       "correlation_id, content_type application/json, content_encoding "
                       "utf-8; no compression header.",
        "bindings": {"amqp": {"contentEncoding": "utf-8", "bindingVersion": "0.3.0"}},
        "payload": {"type": "object", "additionalProperties": False,
                    "required": ["args", "kwargs"],
                    "properties": {"args": {"type": "array", "minItems": 1, "maxItems": 1,
                                            "items": _ref("schemas", contract)},
                                   "kwargs": {"type": "object", "maxProperties": 0}}},
        "correlationId": {"location": "$message.header#/correlation_id",
                          "description": "the AMQP property correlation_id"},
    }  # fmt: skip
    errors_of = [_ref("schemas", f"error.{name}") for name in ERRORS]
    reply = {
        "name": f"{key}.reply", "title": f"{key} reply", "contentType": "application/json",
        "payload": {"type": "object", "additionalProperties": False,
                    "required": ["result", "error"],
                    "oneOf": [
                        {"properties": {"result": {"type": "object"},
                                        "error": {"type": "null"}}},
                        {"properties": {"result": {"type": "null"},
                                        "error": {"oneOf": errors_of}}},
                    ],
                    "properties": {"result": {}, "error": {}}},
        "correlationId": {"location": "$message.header#/correlation_id",
                          "description": "the AMQP property correlation_id of the request"},
    }  # fmt: skip
    channel = {
        "address": key, "title": f"requests to {key}",
        "messages": {"request": _ref("messages", f"{key}.request")},
        "bindings": {"amqp": {"is": "routingKey", "bindingVersion": "0.3.0",
                              "exchange": {"name": RPC_EXCHANGE, "type": "topic",
                                           "durable": True, "autoDelete": False}}},
    }  # fmt: skip
    operation = {
        "action": "receive", "title": key,
        "channel": {"$ref": f"#/channels/{key}"},
        "messages": [{"$ref": f"#/channels/{key}/messages/request"}],
        "bindings": {"amqp": {"deliveryMode": 2, "bindingVersion": "0.3.0"}},
        "reply": {"address": {"location": "$message.header#/reply_to",
                              "description": "the request's AMQP property reply_to (not a "
                                             "header): the reply key, a routing key on "
                                             "nameko-rpc, not a queue name"},
                  "channel": {"$ref": "#/channels/replies"},
                  "messages": [_ref("messages", f"{key}.reply")]},
    }  # fmt: skip
    return channel, operation, request, reply


def _event(source: str, event_type: str, fields: tuple[str, ...], schema: str) -> dict:
    """The message of one published event type."""
    headers = {f"{HEADER_PREFIX}{name}": {"type": "integer" if name in INTEGERS else "string"}
               for name in EVENT_HEADERS}  # fmt: skip
    return {
        "name": f"{source}.{event_type}", "title": f"{source} {event_type}",
        "contentType": "application/json",
        "headers": {"type": "object", "properties": headers,
                    "required": [f"{HEADER_PREFIX}{name}" for name in EVENT_HEADERS[:5]]},
        "payload": {"allOf": [
            _ref("schemas", schema),
            {"properties": {
                "type": {"const": event_type}, "source": {"const": source},
                "data": {"type": "object", "additionalProperties": False,
                         "properties": {field: {} for field in fields}}}},
        ]},
        "correlationId": {"location": "$message.payload#/correlation_id"},
    }  # fmt: skip


def document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document (as JSON-ready data). Its version is the authorization
    policy's and a digest of the rest of it: two different contracts never share one."""
    schemas, contracts = _json_schemas()
    schemas |= _error_schemas()
    channels: dict[str, Any] = {
        "replies": {
            "address": "{replyKey}", "title": "a caller's reply key",
            "description": "Replies are published to nameko-rpc with the request's reply_to "
                           "as routing key, to be bound by the caller's queue "
                           f"{RPC_REPLY_QUEUE}, arguments {json.dumps(REPLY_QUEUE_ARGUMENTS)} "
                           "(docs/rpc-wire.md, section 2).",
            "parameters": {"replyKey": {"description": "a UUID chosen by the caller"}},
            "messages": {},
            "bindings": {"amqp": {"is": "routingKey", "bindingVersion": "0.3.0",
                                  "exchange": {"name": RPC_EXCHANGE, "type": "topic",
                                               "durable": True, "autoDelete": False}}},
        },
    }  # fmt: skip
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for (service, method), contract in sorted(contracts.items()):
        channel, operation, request, reply = _rpc(service, method, contract)
        key = f"{service}.{method}"
        channels[key] = channel
        channels["replies"]["messages"][f"{key}.reply"] = _ref("messages", f"{key}.reply")
        operations[key] = operation
        messages[f"{key}.request"], messages[f"{key}.reply"] = request, reply
    event_schema = _schema_name(PublicEvent)
    for source, types in sorted(PUBLISHED.items()):
        for event_type, fields in sorted(types.items()):
            key = f"{source}.events.{event_type}"
            messages[f"{source}.{event_type}"] = _event(source, event_type, fields, event_schema)
            channels[key] = {
                "address": event_type, "title": f"{event_type} on {source}.events",
                "messages": {"event": _ref("messages", f"{source}.{event_type}")},
                "bindings": {"amqp": {"is": "routingKey", "bindingVersion": "0.3.0",
                                      "exchange": {"name": f"{source}.events", "type": "topic",
                                                   "durable": True, "autoDelete": False}}},
            }  # fmt: skip
            operations[key] = {
                "action": "send", "channel": {"$ref": f"#/channels/{key}"},
                "messages": [{"$ref": f"#/channels/{key}/messages/event"}],
            }  # fmt: skip
    contract = {
        "asyncapi": "3.0.0",
        "info": {
            "title": "youwei (有为)",
            "description": "The services' RPC methods (requests to nameko-rpc, replies to "
                           "the caller's reply key) and the events they publish "
                           f"(<service>.events). {HOW_TO_CALL}",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }  # fmt: skip
    digest = hashlib.sha256(json.dumps(contract, sort_keys=True).encode()).hexdigest()[:12]
    contract["info"]["version"] = f"{authorization.VERSION}+{digest}"
    return contract


def text() -> str:
    return json.dumps(document(), indent=1, ensure_ascii=False, sort_keys=True) + "\n"


if __name__ == "__main__":
    DOCUMENT.write_text(text(), encoding="utf-8")
    print(f"wrote {DOCUMENT}", file=sys.stderr)
