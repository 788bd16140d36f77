"""The access record: refused calls and reads of personnel files, as events in the called
service's own log, for an auditor ("who looked at this cadre's file, when, under which
authority"; "who tried to do what, and why it was refused").

Each is an aggregate of one event, saved alone (no command record: it is not a command's
effect). Agencies are the validated RabbitMQ users (``events.identity.agency``), never a payload's
claim. Nothing of a refused command's payload is kept but its ``command_id``, its ``actor``
and the cadre it names: the payload may hold personal data the caller was not entitled to
send.

``CALLER`` holds, while a service method runs, who called it and under which authority;
``events.log.commands.CommandApplication.execute`` records it with every command.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from typing import Any

from eventsourcing.domain import Aggregate, event

#: ``{"agency", "role", "policy_version"}`` of the call being served, or None outside one
#: (a policy reacting to an event, a test calling an application directly).
CALLER: ContextVar[dict[str, str] | None] = ContextVar("youwei_caller", default=None)


def current_caller() -> dict[str, str] | None:
    return CALLER.get()


class AccessDenied(Aggregate):
    """A call the policy refused (type ``access_denied_recorded``)."""

    TOPIC = "events.access:AccessDenied"  # pinned, as CommandRecord's (events.log.commands)

    class Created(Aggregate.Created):
        TOPIC = "events.access:AccessDenied.Created"

    @event("Recorded", topic="events.access:AccessDenied.Recorded")
    def __init__(
        self,
        agency: str | None,
        method: str,
        roles: list[str],
        reason: str,
        policy_version: str,
        command_id: str | None = None,
        actor: dict[str, str] | None = None,
        cadre_id: str | None = None,
    ) -> None:
        self.agency = agency
        self.method = method
        self.roles = roles
        self.reason = reason
        self.policy_version = policy_version
        self.command_id = command_id
        self.actor = actor
        self.cadre_id = cadre_id


class PersonnelFileRead(Aggregate):
    """A cadre's personnel file (or eligibility) read (type ``personnel_file_read_recorded``):
    by which agency, under which role and policy version, as of which day (None: today)."""

    TOPIC = "events.access:PersonnelFileRead"  # pinned

    class Created(Aggregate.Created):
        TOPIC = "events.access:PersonnelFileRead.Created"

    @event("Recorded", topic="events.access:PersonnelFileRead.Recorded")
    def __init__(
        self,
        agency: str,
        method: str,
        role: str,
        policy_version: str,
        cadre_id: str,
        day: str | None = None,
    ) -> None:
        self.agency = agency
        self.method = method
        self.role = role
        self.policy_version = policy_version
        self.cadre_id = cadre_id
        self.day = day


ACCESS_TYPES = ("access_denied_recorded", "personnel_file_read_recorded")


UNFIT = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
"""Control characters and lone surrogates: a fact holding one is not kept."""


def _text(value: Any, limit: int = 200) -> str | None:
    if not isinstance(value, str) or not value or UNFIT.search(value):
        return None
    return value[:limit]


def refusal_facts(payload: Any) -> dict[str, Any]:
    """What a refusal keeps of the payload: its ``command_id``, ``actor`` and ``cadre_id``
    when they are well-formed strings, and nothing else."""
    if not isinstance(payload, dict):
        return {}
    facts: dict[str, Any] = {}
    if _text(payload.get("command_id")):
        facts["command_id"] = _text(payload["command_id"], 100)
    actor = payload.get("actor")
    if isinstance(actor, dict):
        kept = {k: _text(actor.get(k), 100) for k in ("agency", "person")}
        if any(kept.values()):
            facts["actor"] = kept
    if _text(payload.get("cadre_id")):
        facts["cadre_id"] = _text(payload["cadre_id"], 100)
    return facts
