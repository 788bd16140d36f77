"""Fields and rules shared by every command and query schema.

The input rules every payload meets before its fields are read (``Strict``; docs/rpc.md,
"Input rules"): every string, field names included and however deeply nested, is valid
Unicode (no lone UTF-16 surrogate) with no control character but tab, newline and carriage
return; names (``NAME``) refuse the carriage return too, and codes are catalogue entries;
no number is NaN or infinite; nothing is nested deeper than MAX_DEPTH. Every date is within
FIRST_DAY and LAST_DAY. Errors repeat a bounded excerpt of the input (``schemas.errors``).
"""

from __future__ import annotations

import math
import re
from datetime import date
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate

from schemas.errors import InvalidCommand, excerpt

#: The days any date may be (``Day``): a birth date, a decision, a deadline.
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2099, 12, 31)
#: The deepest objects and lists may nest in a payload (the schemas need three levels).
MAX_DEPTH = 16

_UNREADABLE = re.compile(r"[\ud800-\udfff]|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def unreadable(text: str) -> str | None:
    """Why ``text`` is not acceptable text (a lone surrogate, a control character other
    than tab, newline and carriage return), or None."""
    found = _UNREADABLE.search(text)
    if found is None:
        return None
    code = f"U+{ord(found.group()):04X}"
    if found.group() >= "\ud800":
        return f"not valid Unicode: a lone surrogate ({code}) at character {found.start()}"
    return (
        f"a control character ({code}) at character {found.start()}: only tab, newline "
        "and carriage return are allowed"
    )


def _one_line_name(text: str) -> bool:
    if "\r" in text:
        raise ValidationError("a carriage return (U+000D) is not allowed in a name")
    return True


#: A name or post: 1-100 characters, no carriage return (tab and newline are allowed).
NAME = validate.And(validate.Length(min=1, max=100), _one_line_name)
#: A reason, title, summary: 1-2000 characters.
TEXT = validate.Length(min=1, max=2000)


def input_problems(payload: Any) -> dict:
    """Where ``payload`` breaks the input rules: field → reasons, nested as marshmallow
    nests its errors (a list item under its index); empty when it breaks none."""
    problems: dict = {}

    def report(path: list, reason: str) -> None:
        node = problems
        for key in path[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                return
        node.setdefault(path[-1], []).append(reason)

    stack: list[tuple[list, Any]] = [([], payload)]
    while stack:
        path, value = stack.pop()
        if len(path) > MAX_DEPTH:
            report(path[:MAX_DEPTH] or ["_schema"], f"nested deeper than {MAX_DEPTH} levels")
        elif isinstance(value, str):
            reason = unreadable(value)
            if reason:
                report(path or ["_schema"], reason)
        elif isinstance(value, float) and not math.isfinite(value):
            report(path or ["_schema"], "not a number (NaN or infinite)")
        elif isinstance(value, dict):
            for key, item in value.items():
                reason = unreadable(key) if isinstance(key, str) else None
                if reason:
                    report([*path, excerpt(key)], f"field name {reason}")
                else:
                    stack.append(([*path, key], item))
        elif isinstance(value, (list, tuple)):
            stack.extend(([*path, index], item) for index, item in enumerate(value))
    return problems


class Day(fields.Date):
    """A date written ``YYYY-MM-DD``, and only so: not the other ISO 8601 forms
    (``20260506``, ``2026-W19-3``) that ``date.fromisoformat`` also reads; from FIRST_DAY
    to LAST_DAY."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
            raise self.make_error("invalid")
        day = super()._deserialize(value, attr, data, **kwargs)
        if not FIRST_DAY <= day <= LAST_DAY:
            raise ValidationError(f"must be from {FIRST_DAY} to {LAST_DAY}")
        return day


class Flag(fields.Boolean):
    """``true`` or ``false`` (JSON booleans) only: not 1, 0, "yes"."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


def matches(pattern: str, error: str) -> validate.Regexp:
    """The whole value matches ``pattern`` (no trailing newline slips through ``$``)."""
    return validate.Regexp(rf"(?:{pattern})\Z", error=error)


class Strict(Schema):
    """Unknown fields are refused, never dropped; the input rules (``input_problems``) are
    checked before any field is read."""

    class Meta:
        unknown = RAISE

    #: False for a schema of what the services themselves wrote (events), not of input.
    input_rules = True

    @pre_load
    def _input_rules(self, data: Any, **kwargs: Any) -> Any:
        problems = input_problems(data) if self.input_rules else None
        if problems:
            raise ValidationError(problems)
        return data


class Actor(Strict):
    """Who sends the command: the agency's system and the person acting in it."""

    agency = fields.String(required=True, validate=NAME)
    person = fields.String(required=True, validate=NAME)


class Command(Strict):
    """Every command: a caller-chosen ``command_id`` makes a retry safe."""

    command_id = fields.UUID(required=True)
    actor = fields.Nested(Actor, required=True)


class Page(Strict):
    page = fields.Integer(load_default=1, strict=True, validate=validate.Range(min=1, max=100_000))
    page_size = fields.Integer(
        load_default=50, strict=True, validate=validate.Range(min=1, max=500)
    )


def codes(catalogue: dict[str, Any]) -> validate.OneOf:
    """Validates a code against a catalogue of code → label."""
    return validate.OneOf(sorted(catalogue), error="must be one of: {choices}")


def label(catalogue: dict[str, tuple], code: str) -> dict[str, str]:
    """A code as results show it: the code, its Chinese label, its English one (the first
    two items of the catalogue's entry)."""
    chinese, english = catalogue[code][:2]
    return {"code": code, "zh": chinese, "en": english}


def load(schema: type[Schema], payload: Any) -> dict[str, Any]:
    """Validate ``payload`` or raise InvalidCommand naming each field and its reasons."""
    if not isinstance(payload, dict):
        raise InvalidCommand({"_schema": ["the command must be an object"]})
    try:
        return schema().load(payload)
    except ValidationError as error:
        raise InvalidCommand(error.normalized_messages()) from None
