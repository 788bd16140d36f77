"""The errors every youwei RPC method may raise: clients match ``RemoteError.exc_type``
(the class name) and read ``RemoteError.value`` (the message). A refused command changes
nothing."""

from __future__ import annotations

import json


class CommandError(Exception):
    """Base of the errors below."""


class InvalidCommand(CommandError):
    """The payload is not a valid command. The message is JSON: field → list of reasons
    (nested fields as nested objects, as marshmallow reports them)."""

    def __init__(self, errors: dict) -> None:
        self.errors = errors
        super().__init__(json.dumps(errors, ensure_ascii=False, sort_keys=True))


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


EXPECTED = (InvalidCommand, NotFound, Conflict, RuleViolation, Forbidden)
