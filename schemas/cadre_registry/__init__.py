"""The ``cadre_registry`` service's contracts: one schema per RPC method (docs/rpc.md)."""

from __future__ import annotations

from marshmallow import ValidationError, fields, validates_schema

from schemas.cadre_registry.reference import GENDERS, POST_KINDS, RANKS, TASK_KINDS
from schemas.common import NAME, TEXT, Command, Day, Page, Strict, codes


class RegisterUnit(Command):
    name = fields.String(required=True, validate=NAME)
    parent_id = fields.UUID(load_default=None, allow_none=True)


class Posting(Command):
    """Commands that put a cadre in a post: where, which, at what rank, from when."""

    unit_id = fields.UUID(required=True)
    post = fields.String(required=True, validate=NAME)
    rank = fields.String(required=True, validate=codes(RANKS))
    post_kind = fields.String(required=True, validate=codes(POST_KINDS))
    effective_date = Day(required=True)


class RegisterCadre(Posting):
    name = fields.String(required=True, validate=NAME)
    gender = fields.String(required=True, validate=codes(GENDERS))
    birth_date = Day(required=True)


class Appoint(Posting):
    cadre_id = fields.UUID(required=True)


class Transfer(Command):
    cadre_id = fields.UUID(required=True)
    unit_id = fields.UUID(required=True)
    post = fields.String(required=True, validate=NAME)
    effective_date = Day(required=True)


class ChangeToNonLeadership(Command):
    cadre_id = fields.UUID(required=True)
    post = fields.String(required=True, validate=NAME)
    effective_date = Day(required=True)
    reason = fields.String(required=True, validate=TEXT)


class PostEnding(Command):
    """Commands that end or suspend a cadre's post: a date and the reason for it."""

    cadre_id = fields.UUID(required=True)
    effective_date = Day(required=True)
    reason = fields.String(required=True, validate=TEXT)


class SendToOffPostTraining(PostEnding):
    pass


class Dismiss(PostEnding):
    pass


class OrderResignation(PostEnding):
    pass


class DismissFromService(PostEnding):
    """辞退: the cadre leaves the civil service (免职, ``Dismiss``, ends only a post)."""


class Demote(Command):
    cadre_id = fields.UUID(required=True)
    rank = fields.String(required=True, validate=codes(RANKS))
    post = fields.String(required=True, validate=NAME)
    effective_date = Day(required=True)
    reason = fields.String(required=True, validate=TEXT)


class AssignResponsibility(Command):
    """A new task (``kind`` and ``title``), or an existing one (``task_id``) to a new owner."""

    task_id = fields.UUID(load_default=None, allow_none=True)
    kind = fields.String(validate=codes(TASK_KINDS))
    title = fields.String(validate=TEXT)
    owner_id = fields.UUID(required=True)
    effective_date = Day(required=True)

    @validates_schema
    def _new_or_existing(self, data: dict, **kwargs: object) -> None:
        if data.get("task_id") is None:
            missing = {
                name: ["required for a new task (no task_id)"]
                for name in ("kind", "title")
                if name not in data
            }
            if missing:
                raise ValidationError(missing)
        else:
            given = [name for name in ("kind", "title") if name in data]
            if given:
                raise ValidationError(
                    {name: ["not allowed when reassigning a task (task_id)"] for name in given}
                )


class ErasePersonalData(Command):
    """Erase the cadre's personal data (name, gender, birth date) from every log, export
    and rebuild: their key is destroyed (docs/rpc.md). Their postings stay on record."""

    cadre_id = fields.UUID(required=True)
    reason = fields.String(required=True, validate=TEXT)
    erased_on = Day(required=True)


class SetPersonalDataRetention(Command):
    """Keep the cadre's personal data until ``keep_until``; the registry erases it after."""

    cadre_id = fields.UUID(required=True)
    keep_until = Day(required=True)
    basis = fields.String(required=True, validate=TEXT)


class GetUnit(Strict):
    unit_id = fields.UUID(required=True)


class GetCadre(Strict):
    cadre_id = fields.UUID(required=True)


class ListCadres(Page):
    unit_id = fields.UUID(required=True)


class ResponsibilitiesOf(Strict):
    cadre_id = fields.UUID(required=True)


class OwnerOf(Strict):
    task_id = fields.UUID(required=True)


class TasksNeedingOwner(Page):
    """Tasks whose owner left the post; ``kind`` filters."""

    kind = fields.String(validate=codes(TASK_KINDS))
