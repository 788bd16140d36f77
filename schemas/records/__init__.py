"""The ``records`` service's contracts: one schema per RPC method (docs/rpc.md), and the
filters of the public page (the same as ``public_records``'s)."""

from __future__ import annotations

from marshmallow import fields, validate

from schemas.accountability.reference import COMMENDATIONS, HANDLINGS, MEASURES
from schemas.common import NAME, Day, Page, Strict, codes
from schemas.evaluations import MONTH
from schemas.inspections.reference import CATEGORIES, SITUATIONS

#: A public record's fields, all of them: what the public page and ``public_records`` show.
#: Nothing private (no rater, complainant, evidence, reason or internal id) is ever among them:
#: ``record_id`` is opaque (``services.records.projections.public_record_id``); ``summary`` is
#: the text published for the public (``publish_result``).
PUBLIC_RECORD_FIELDS = (
    "record_id",
    "published_on",
    "cadre_name",
    "unit",
    "post",
    "category",
    "situation",
    "decision_type",
    "decision",
    "form",
    "decided_on",
    "summary",
)


#: An honour-roll entry's fields, all of them (宣传先进事迹: DOMAIN.md): never the
#: commendation's private reason or an internal id; ``honour_id`` is opaque
#: (``services.records.projections.honour_id``); ``citation`` is the text published for the
#: public (``publish_commendation``).
HONOUR_FIELDS = (
    "honour_id",
    "published_on",
    "cadre_name",
    "unit",
    "post",
    "kind",
    "citation",
    "commended_on",
)


#: A key-work share's fields on the public page (重点工作进展), all of them: never an internal
#: id, an evidence reference, a disputed value or a dispute's reason; ``share_id`` is opaque
#: (``services.records.keywork.share_id``). Each target: indicator, unit, target_value,
#: due_on, reached, reached_on, percent, outcome (a label), progress (the values that count:
#: on, value) and milestones (title, value, due_on, met_on, overdue_on).
KEY_WORK_FIELDS = (
    "share_id",
    "title",
    "owner_name",
    "unit",
    "post",
    "assigned_on",
    "targets",
    "concluded_on",
)


class PersonnelFile(Strict):
    """``as_of``: the file as it stood at the end of that day (default: today)."""

    cadre_id = fields.UUID(required=True)
    as_of = Day(load_default=None, allow_none=True)


class TaskChain(Strict):
    """One task's implementation chain (落实链条) as of the end of ``as_of`` (default:
    today)."""

    task_id = fields.UUID(required=True)
    as_of = Day(load_default=None, allow_none=True)


class EligibleForPromotion(Strict):
    cadre_id = fields.UUID(required=True)
    on = Day(required=True)


class PublicRecords(Page):
    """Every filter is optional; given ones must all match. ``q`` is text found in the
    cadre's name, unit or post."""

    q = fields.String(validate=NAME)
    category = fields.String(validate=codes(CATEGORIES))
    situation = fields.String(validate=codes(SITUATIONS))
    decision = fields.String(validate=codes({**MEASURES, **HANDLINGS}))
    month = fields.String(validate=MONTH)
    page_size = fields.Integer(
        load_default=20, strict=True, validate=validate.Range(min=1, max=200)
    )


class ProjectionsStatus(Strict):
    """No fields."""


class HonourRoll(Page):
    """Every filter is optional; given ones must all match. ``q`` is text found in the
    cadre's name, unit or post; ``month`` is of ``published_on``."""

    q = fields.String(validate=NAME)
    kind = fields.String(validate=codes(COMMENDATIONS))
    month = fields.String(validate=MONTH)
    page_size = fields.Integer(
        load_default=20, strict=True, validate=validate.Range(min=1, max=200)
    )


class KeyWork(Page):
    """Every filter is optional. ``q`` is text found in the share's title or its owner's
    name, unit or post."""

    q = fields.String(validate=NAME)
    page_size = fields.Integer(
        load_default=20, strict=True, validate=validate.Range(min=1, max=200)
    )
