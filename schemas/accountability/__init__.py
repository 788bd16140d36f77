"""The ``accountability`` service's contracts: one schema per RPC method (docs/rpc.md)."""

from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from schemas.accountability.reference import (
    ACCOUNTABILITY_FORMS,
    APPEAL_OUTCOMES,
    BASES,
    CASE_STATUSES,
    COMMENDATIONS,
    EXEMPTIONS,
    HANDLINGS,
    MEASURES,
    OPENABLE_BASES,
    RISK_LEVELS,
)
from schemas.cadre_registry.reference import RANKS
from schemas.common import NAME, TEXT, Command, Day, Flag, Page, Strict, codes
from schemas.evaluations import YEAR

#: The field that names what each kind of basis rests on.
BASIS_FIELDS = {
    "finding": "finding_id",
    "overdue_letter": "letter_id",
    "assessment": "year",
    "report": "reference",
}


def form_only_with_accountability(measure: str | None, form: str | None) -> None:
    if measure == "accountability" and form is None:
        raise ValidationError({"form": ["required with the measure accountability"]})
    if measure not in (None, "accountability") and form is not None:
        raise ValidationError({"form": ["only with the measure accountability"]})


class Basis(Strict):
    """One thing a case rests on: ``kind`` and the one field that kind names."""

    kind = fields.String(required=True, validate=codes(OPENABLE_BASES))
    finding_id = fields.UUID()
    letter_id = fields.UUID()
    year = fields.Integer(strict=True, validate=YEAR)
    reference = fields.String(validate=TEXT)

    @validates_schema
    def _one_field_for_the_kind(self, data: dict, **kwargs: object) -> None:
        wanted = BASIS_FIELDS.get(data.get("kind"))
        if wanted is None:
            return
        errors = {name: ["not used with this kind"] for name in BASIS_FIELDS.values()
                  if name in data and name != wanted}  # fmt: skip
        if wanted not in data:
            errors[wanted] = [f"required for a basis of kind {data['kind']}"]
        if errors:
            raise ValidationError(errors)


class OpenCase(Command):
    cadre_id = fields.UUID(required=True)
    basis = fields.List(
        fields.Nested(Basis), required=True, validate=validate.Length(min=1, max=20)
    )
    summary = fields.String(required=True, validate=TEXT)
    occurred_on = Day(required=True)
    opened_on = Day(required=True)


class CaseCommand(Command):
    case_id = fields.UUID(required=True)


class RecordStatement(CaseCommand):
    """The cadre's own statement (陈述申辩)."""

    statement = fields.String(required=True, validate=TEXT)
    made_on = Day(required=True)


class ImposeMeasure(CaseCommand):
    """``form`` is required with the measure ``accountability`` (问责), and only with it."""

    measure = fields.String(required=True, validate=codes(MEASURES))
    form = fields.String(load_default=None, allow_none=True, validate=codes(ACCOUNTABILITY_FORMS))
    reason = fields.String(required=True, validate=TEXT)
    decided_on = Day(required=True)

    @validates_schema
    def _form_with_accountability(self, data: dict, **kwargs: object) -> None:
        form_only_with_accountability(data.get("measure"), data.get("form"))


#: The post a handling puts the cadre in, where it names one: the fields it needs.
HANDLING_TARGETS = {
    "transfer": ("unit_id", "post"),
    "non_leadership": ("post",),
    "post_adjustment": ("post",),
    "demotion": ("rank", "post"),
}


class DecideHandling(CaseCommand):
    """``unit_id``, ``post`` and ``rank`` name the new post, as the handling needs
    (``HANDLING_TARGETS``): the registry applies the handling to the cadre with them."""

    handling = fields.String(required=True, validate=codes(HANDLINGS))
    reason = fields.String(required=True, validate=TEXT)
    decided_on = Day(required=True)
    unit_id = fields.UUID()
    post = fields.String(validate=NAME)
    rank = fields.String(validate=codes(RANKS))

    @validates_schema
    def _target_for_the_handling(self, data: dict, **kwargs: object) -> None:
        target_for_the_handling(data.get("handling"), data)


def target_for_the_handling(handling: str | None, data: dict) -> None:
    """The fields of the new post that ``handling`` needs (``HANDLING_TARGETS``), and no
    others; a measure, or a handling that names no post, names none."""
    if handling is None:
        return
    needed = HANDLING_TARGETS.get(handling, ())
    errors = {name: [f"required with the handling {handling}"]
              for name in needed if name not in data}  # fmt: skip
    errors.update({name: [f"not used with {handling}"]
                   for name in ("unit_id", "post", "rank")
                   if name in data and name not in needed})  # fmt: skip
    if errors:
        raise ValidationError(errors)


class RegisterReformEffort(Command):
    unit_id = fields.UUID(required=True)
    title = fields.String(required=True, validate=TEXT)
    risk_assessment = fields.String(required=True, validate=TEXT)
    risk_level = fields.String(required=True, validate=codes(RISK_LEVELS))
    participants = fields.List(
        fields.UUID(), required=True, validate=validate.Length(min=1, max=200)
    )
    registered_on = Day(required=True)
    starts_on = Day(required=True)
    ends_on = Day(load_default=None, allow_none=True)

    @validates_schema
    def _participants_once(self, data: dict, **kwargs: object) -> None:
        ids = data.get("participants") or []
        if len(set(ids)) != len(ids):
            raise ValidationError({"participants": ["a participant is named once"]})


class Distinction(Strict):
    """What the discipline commission states of one of the three distinctions (三个区分开来)
    and what it rests on: ``holds`` false states that the condition is not met."""

    holds = Flag(required=True)
    basis = fields.String(required=True, validate=TEXT)


class GrantExemption(CaseCommand):
    """Tolerance for reform (容错免责) under the current ``EXEMPTION_RULES``: the reform
    effort, the major decision behind the mistake (``decision_id``, the inspections
    service's) and the commission's statements. One missing or not met is refused as a
    rule naming the condition, not as an invalid command."""

    reform_effort_id = fields.UUID(required=True)
    outcome = fields.String(required=True, validate=codes(EXEMPTIONS))
    reasons = fields.String(required=True, validate=TEXT)
    granted_on = Day(required=True)
    decision_id = fields.UUID(load_default=None, allow_none=True)
    no_personal_gain = fields.Nested(Distinction, load_default=None, allow_none=True)
    no_prohibition_broken = fields.Nested(Distinction, load_default=None, allow_none=True)


class FileAppeal(CaseCommand):
    decision_id = fields.UUID(required=True)
    grounds = fields.String(required=True, validate=TEXT)
    filed_on = Day(required=True)


class ChangedDecision(Strict):
    """What an appeal changes a decision to: a measure (with ``form`` for accountability)
    or a handling, as the decision was; a handling names its new post as ``DecideHandling``
    does (``unit_id``, ``post``, ``rank``: ``HANDLING_TARGETS``), and the registry applies
    it in place of the original."""

    kind = fields.String(
        required=True,
        validate=codes({**MEASURES, **HANDLINGS}),
    )
    form = fields.String(load_default=None, allow_none=True, validate=codes(ACCOUNTABILITY_FORMS))
    unit_id = fields.UUID()
    post = fields.String(validate=NAME)
    rank = fields.String(validate=codes(RANKS))

    @validates_schema
    def _form_with_accountability(self, data: dict, **kwargs: object) -> None:
        form_only_with_accountability(data.get("kind"), data.get("form"))

    @validates_schema
    def _target_for_the_handling(self, data: dict, **kwargs: object) -> None:
        target_for_the_handling(data.get("kind"), data)


class DecideAppeal(CaseCommand):
    """``changed_to`` is required when the outcome is ``changed``, and only then."""

    decision_id = fields.UUID(required=True)
    outcome = fields.String(required=True, validate=codes(APPEAL_OUTCOMES))
    reason = fields.String(required=True, validate=TEXT)
    decided_on = Day(required=True)
    changed_to = fields.Nested(ChangedDecision, load_default=None, allow_none=True)

    @validates_schema
    def _changed_to_with_changed(self, data: dict, **kwargs: object) -> None:
        changed = data.get("outcome") == "changed"
        if changed and data.get("changed_to") is None:
            raise ValidationError({"changed_to": ["required when the outcome is changed"]})
        if data.get("outcome") not in (None, "changed") and data.get("changed_to") is not None:
            raise ValidationError({"changed_to": ["only when the outcome is changed"]})


class Commend(Command):
    cadre_id = fields.UUID(required=True)
    kind = fields.String(required=True, validate=codes(COMMENDATIONS))
    reason = fields.String(required=True, validate=TEXT)
    commended_on = Day(required=True)


class PublishCommendation(Command):
    """``citation``: the text shown on the public honour roll (宣传先进事迹); the
    commendation's ``reason`` stays private."""

    commendation_id = fields.UUID(required=True)
    citation = fields.String(required=True, validate=TEXT)
    published_on = Day(required=True)


class WithdrawCommendationPublication(Command):
    commendation_id = fields.UUID(required=True)
    reason = fields.String(required=True, validate=TEXT)
    withdrawn_on = Day(required=True)


class PublishResult(CaseCommand):
    """``summary``: the text shown to the public (向社会公布问责结果)."""

    summary = fields.String(required=True, validate=TEXT)
    published_on = Day(required=True)


class WithdrawPublication(CaseCommand):
    reason = fields.String(required=True, validate=TEXT)
    withdrawn_on = Day(required=True)


class CloseCase(CaseCommand):
    conclusion = fields.String(required=True, validate=TEXT)
    closed_on = Day(required=True)


class GetCase(Strict):
    case_id = fields.UUID(required=True)


class GetReformEffort(Strict):
    reform_effort_id = fields.UUID(required=True)


class GetCommendation(Strict):
    commendation_id = fields.UUID(required=True)


class ListCases(Page):
    """Every filter is optional; given ones must all match. ``measure`` and ``handling``
    match decisions in force; the period is of ``opened_on``, both ends included."""

    cadre_id = fields.UUID()
    status = fields.String(validate=codes(CASE_STATUSES))
    basis = fields.String(validate=codes(BASES))
    measure = fields.String(validate=codes(MEASURES))
    handling = fields.String(validate=codes(HANDLINGS))
    published = Flag()
    exempted = Flag()
    opened_from = Day()
    opened_to = Day()

    @validates_schema
    def _period_in_order(self, data: dict, **kwargs: object) -> None:
        if (
            "opened_from" in data
            and "opened_to" in data
            and data["opened_from"] > data["opened_to"]
        ):
            raise ValidationError({"opened_to": ["must not be before opened_from"]})


class ListCommendations(Page):
    """Every filter is optional; given ones must all match. ``published``: on the honour
    roll now (published, not withdrawn); the period is of ``commended_on``, both ends
    included."""

    cadre_id = fields.UUID()
    kind = fields.String(validate=codes(COMMENDATIONS))
    published = Flag()
    commended_from = Day()
    commended_to = Day()

    @validates_schema
    def _period_in_order(self, data: dict, **kwargs: object) -> None:
        if (
            "commended_from" in data
            and "commended_to" in data
            and data["commended_from"] > data["commended_to"]
        ):
            raise ValidationError({"commended_to": ["must not be before commended_from"]})
