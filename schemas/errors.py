"""The errors every youwei RPC method may raise: clients match ``RemoteError.exc_type``
(the class name) and read ``RemoteError.value`` (the message). A refused command changes
nothing."""

from __future__ import annotations

import json
import re
from typing import Any

#: The most characters of a field name an error repeats (a longer one is cut to this many,
#: ending in "…"); and of a reason (they never repeat the input, but a reason may name a
#: catalogue's codes).
EXCERPT = 100
REASON = 500
#: The most reasons an InvalidCommand lists; the rest are counted under ``_truncated``.
MAX_ERRORS = 20

_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


class CommandError(Exception):
    """Base of the errors below."""


def excerpt(value: object, limit: int = EXCERPT) -> str:
    """``value`` as an error may repeat it: control characters and lone surrogates written
    as ``\\uXXXX`` (so that the reply is always valid UTF-8), at most ``limit`` characters
    and "…"."""
    text = value if isinstance(value, str) else str(value)
    shown = _UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text[: limit + 1])
    return shown if len(shown) <= limit else shown[:limit] + "…"


def bounded(errors: Any) -> dict:
    """marshmallow's field → reasons (nested as objects), with every key and reason an
    excerpt (EXCERPT and REASON characters) and at most MAX_ERRORS reasons in all."""
    left = [MAX_ERRORS]
    omitted = [0]

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            kept = {}
            for key, value in node.items():
                if left[0] <= 0:
                    omitted[0] += count(value)
                else:
                    kept[excerpt(key)] = walk(value)
            return kept
        if isinstance(node, (list, tuple)):
            kept_items = []
            for value in node:
                if left[0] <= 0:
                    omitted[0] += count(value)
                else:
                    kept_items.append(walk(value))
            return kept_items
        left[0] -= 1
        return excerpt(node, REASON)

    def count(node: Any) -> int:
        if isinstance(node, dict):
            return sum(count(value) for value in node.values())
        if isinstance(node, (list, tuple)):
            return sum(count(value) for value in node)
        return 1

    shown = walk(errors if isinstance(errors, dict) else {"_schema": errors})
    if omitted[0]:
        shown["_truncated"] = [f"{omitted[0]} more reasons not shown"]
    return shown


class InvalidCommand(CommandError):
    """The payload is not a valid command. The message is JSON: field → list of reasons
    (nested fields as nested objects, as marshmallow reports them), bounded: each field name
    at most EXCERPT characters, each reason REASON, at most MAX_ERRORS reasons
    (``bounded``)."""

    def __init__(self, errors: dict) -> None:
        self.errors = bounded(errors)
        super().__init__(json.dumps(self.errors, ensure_ascii=False, sort_keys=True))


class NotFound(CommandError):
    """What a query asks for does not exist."""


class Conflict(CommandError):
    """A concurrent change won, or a ``command_id`` was reused with another payload."""


class RuleViolation(CommandError):
    """A domain rule refuses the command. The message starts with the rule's name."""

    def __init__(self, rule: str, reason: str) -> None:
        self.rule = rule
        super().__init__(f"{rule}: {reason}")


class Forbidden(CommandError):
    """The calling agency may not do this (``schemas.authorization``). The message is JSON:
    ``reason`` (a sentence), ``agency`` (the validated RabbitMQ user, or null when the
    request had no ``user_id``), ``method``, ``roles``, ``policy_version``, and
    ``record_id``: the event that recorded the refusal in the called service's log."""

    def __init__(self, details: dict | str) -> None:
        self.details = details if isinstance(details, dict) else {"reason": details}
        super().__init__(json.dumps(self.details, ensure_ascii=False, sort_keys=True))


class ServiceError(CommandError):
    """The service failed unexpectedly (a bug, a dependency down). The message names the
    incident under which the failure is logged; nothing of it is echoed. A command may or
    may not have been done: send it again with the same ``command_id``."""

    def __init__(self, incident: str | None = None) -> None:
        self.incident = incident
        super().__init__(
            f"the service failed (incident {incident}); it is logged. Retry later with the "
            "same command_id: a command is done once"
            if incident
            else "the service failed; retry later with the same command_id"
        )


class Unavailable(CommandError):
    """Something the service needs (its database) could not be reached. A command may or
    may not have been done: send it again later with the same ``command_id``."""

    def __init__(self, incident: str | None = None) -> None:
        self.incident = incident
        super().__init__(
            f"the service cannot reach its database (incident {incident}); retry later with "
            "the same command_id: a command is done once"
        )


EXPECTED = (InvalidCommand, NotFound, Conflict, RuleViolation, Forbidden)
