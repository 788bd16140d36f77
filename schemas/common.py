"""Fields and rules shared by every command and query schema."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from schemas.errors import InvalidCommand

NAME = validate.Length(min=1, max=100)
TEXT = validate.Length(min=1, max=2000)


class Day(fields.Date):
    """A date written ``YYYY-MM-DD``, and only so: not the other ISO 8601 forms
    (``20260506``, ``2026-W19-3``) that ``date.fromisoformat`` also reads."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


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
    """Unknown fields are refused, never dropped."""

    class Meta:
        unknown = RAISE


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
