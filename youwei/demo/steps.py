"""The plan of the demo's year: its steps (one RPC call each), the placeholders in their
payloads that the loader fills in from earlier results, and the constants both sides share."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

YEAR = 2025  # a year that ended: the services refuse facts dated after their today
NAMESPACE = uuid.UUID("8d6a1f0e-3b7c-4e59-a2d4-5c9e0f1b7a36")
PERSON = "演示数据 youwei demo"


@dataclass(frozen=True)
class Ref:
    """The field ``name`` of what step ``key`` returned (an id, mostly)."""

    key: str
    name: str


@dataclass(frozen=True)
class CaseDay:
    """A day of a case's chain of steps, planned as ``day`` for a case opened on
    ``planned_open``; the loader moves it later by as many days as the case really opened
    later (a case a policy opened is dated by the accountability service's today)."""

    case: str
    day: date
    planned_open: date
    #: a case a policy opened, on the services' today: no step of it comes later
    by_policy: bool = False


@dataclass
class Step:
    """One RPC call. ``find``: not a command but a look-up of the case that the
    accountability service opened by itself (``payload``: ``cadre_id``, ``basis`` and the
    field the basis names); the loader asks again until it is there."""

    key: str
    service: str
    method: str
    payload: dict[str, Any]
    after: tuple[str, ...] = ()
    find: bool = False
    #: ratings an agency sends together: the loader sends the steps of one ``bulk`` key as
    #: one ``evaluations.submit_ratings`` command, once every one of them may run
    bulk: str | None = None


@dataclass
class Plan:
    seed: int
    scale: float
    steps: list[Step]
    #: What the year is meant to show: expected counts, and the keys of steps worth a look.
    facts: dict[str, Any]

    def counts(self) -> Counter[str]:
        """How many steps of each ``service.method`` (finds: ``accountability.find_case``)."""
        return Counter(f"{s.service}.{'find_case' if s.find else s.method}" for s in self.steps)

    def commands(self, method: str) -> list[dict[str, Any]]:
        return [s.payload for s in self.steps if s.method == method and not s.find]

    def letters_overdue_on(self, today: date) -> int:
        """How many letters the deadline check marks overdue on ``today`` (after the load)."""
        return sum(1 for deadline, accepted in self.facts["letters"]
                   if not accepted and deadline < today)  # fmt: skip


def placeholders(value: Any) -> Iterator[Ref | CaseDay]:
    if isinstance(value, Ref | CaseDay):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from placeholders(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from placeholders(item)
