"""Breaking valid payloads in every single way a service's contract says it must refuse.

The contract is written in the tests as docs/rpc.md states it, independently of the
schemas, so that a schema that stops checking something fails its service's tests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from uuid import uuid4

import pytest

from schemas.errors import InvalidCommand
from tests.services.support import ACTOR


@dataclass
class Contract:
    names_100: set[str] = field(default_factory=set)
    texts: dict[str, int] = field(default_factory=dict)  # field → its longest length
    codes: dict[str, dict] = field(default_factory=dict)  # field → its catalogue
    optional: set[str] = field(default_factory=set)
    more_broken: dict[str, list] = field(default_factory=dict)  # field → more bad values

    def broken_values(self, name: str) -> list:
        """Values that the field called ``name`` must refuse."""
        values: list = [[1, 2], {"nested": True}, *self.more_broken.get(name, [])]
        if name == "actor":
            too_long = {"agency": "a" * 101, "person": "x"}
            return [*values, "组织部", {"agency": "组织部"}, {"agency": "", "person": "x"},
                    {**ACTOR, "role": "admin"}, too_long]  # fmt: skip
        if name.endswith("_id"):
            values += ["not-a-uuid", 42, "8a5e0000-0000-4000-8000-00000000000"]
            if name != "command_id":
                values.append(str(uuid4()))  # well formed, but nothing has this id
        elif name.endswith("_date"):
            values += ["2026-02-30", "yesterday", 20260101, "2026-1-1x", "20260101",
                       "2026-W01-4", "2026-01-01\n"]  # fmt: skip
        elif name in self.codes or name in self.names_100 or name in self.texts:
            values += [17, True, ""]
            if name in self.codes:
                code = next(iter(self.codes[name]))
                values += ["no_such_code", f"{code} "]
                if code.upper() != code:
                    values.append(code.upper())
            if name in self.names_100:
                values.append("字" * 101)
            if name in self.texts:
                values.append("字" * (self.texts[name] + 1))
        return values

    def breakages(self, fields: list[str]) -> list[tuple[str, str, object]]:
        """Every single way to break a valid payload with these fields: (field, how, value)."""
        cases: list[tuple[str, str, object]] = [("surprise_field", "add", "x")]
        for name in sorted(fields):
            if name not in self.optional:
                cases.append((name, "drop", None))
            cases += [(name, "set", value) for value in self.broken_values(name)]
        return cases


def broken(payload: dict, field: str, how: str, value: object) -> dict:
    payload = dict(payload)
    if how == "drop":
        payload.pop(field, None)
    else:
        payload[field] = value
    return payload


def assert_refused_without_trace(entrypoint, recorder, payload: object, fields: set) -> None:
    """``entrypoint(payload)`` raises InvalidCommand naming one of ``fields``; the log is as
    it was."""
    before = recorder.max_notification_id()
    with pytest.raises(InvalidCommand) as refused:
        entrypoint(payload)
    named = set(json.loads(str(refused.value)))
    assert named & fields, (payload, str(refused.value))
    assert recorder.max_notification_id() == before
