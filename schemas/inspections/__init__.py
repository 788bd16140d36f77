"""The ``inspections`` service's contracts: one schema per RPC method (docs/rpc.md)."""

from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from schemas.common import NAME, TEXT, Command, Day, Flag, Page, Strict, codes, matches
from schemas.inspections.reference import (
    CADRE_TYPES,
    CATEGORIES,
    EXPOSURES,
    INSPECTION_KINDS,
    LETTER_STATUSES,
    SITUATIONS,
    TEAM_ROLES,
)

SHA256 = matches("[0-9a-f]{64}", "must be a SHA-256 digest: 64 lowercase hex")


class TeamMember(Strict):
    name = fields.String(required=True, validate=NAME)
    role = fields.String(required=True, validate=codes(TEAM_ROLES))


class Evidence(Strict):
    """A reference to evidence kept elsewhere (a film, a photo, a record): the system keeps
    the reference and the digest, never the evidence itself."""

    reference = fields.String(required=True, validate=validate.Length(min=1, max=500))
    sha256 = fields.String(required=True, validate=SHA256)


class OpenInspection(Command):
    kind = fields.String(required=True, validate=codes(INSPECTION_KINDS))
    title = fields.String(required=True, validate=TEXT)
    started_on = Day(required=True)
    team = fields.List(
        fields.Nested(TeamMember), required=True, validate=validate.Length(min=1, max=50)
    )


class RecordFinding(Command):
    inspection_id = fields.UUID(required=True)
    unit_id = fields.UUID(required=True)
    cadre_id = fields.UUID(load_default=None, allow_none=True)
    situation = fields.String(required=True, validate=codes(SITUATIONS))
    cadre_type = fields.String(load_default=None, allow_none=True, validate=codes(CADRE_TYPES))
    description = fields.String(required=True, validate=TEXT)
    evidence = fields.List(
        fields.Nested(Evidence), load_default=list, validate=validate.Length(max=50)
    )
    typical = Flag(load_default=False)
    found_on = Day(required=True)


class IssueRectificationLetter(Command):
    """``task_id``: the registry's task the rectification falls under, if any; its owner
    answers for a letter that becomes overdue."""

    unit_id = fields.UUID(required=True)
    task_id = fields.UUID(load_default=None, allow_none=True)
    finding_ids = fields.List(
        fields.UUID(), required=True, validate=validate.Length(min=1, max=100)
    )
    requirements = fields.String(required=True, validate=TEXT)
    issued_on = Day(required=True)
    deadline = Day(required=True)

    @validates_schema
    def _findings_once(self, data: dict, **kwargs: object) -> None:
        ids = data.get("finding_ids") or []
        if len(set(ids)) != len(ids):
            raise ValidationError({"finding_ids": ["a finding is named once"]})


class ReportRectification(Command):
    letter_id = fields.UUID(required=True)
    report = fields.String(required=True, validate=TEXT)
    reported_on = Day(required=True)


class ReviewRectification(Command):
    letter_id = fields.UUID(required=True)
    accepted = Flag(required=True)
    reason = fields.String(required=True, validate=TEXT)
    reviewed_on = Day(required=True)


class ExposeFinding(Command):
    finding_id = fields.UUID(required=True)
    exposure = fields.String(required=True, validate=codes(EXPOSURES))
    exposed_on = Day(required=True)


class GetInspection(Strict):
    inspection_id = fields.UUID(required=True)


class GetFinding(Strict):
    finding_id = fields.UUID(required=True)


class GetRectificationLetter(Strict):
    letter_id = fields.UUID(required=True)


class ListFindings(Page):
    """Every filter is optional; given ones must all match. The period is of ``found_on``,
    both ends included."""

    inspection_id = fields.UUID()
    unit_id = fields.UUID()
    cadre_id = fields.UUID()
    category = fields.String(validate=codes(CATEGORIES))
    situation = fields.String(validate=codes(SITUATIONS))
    found_from = Day()
    found_to = Day()
    typical = Flag()

    @validates_schema
    def _period_in_order(self, data: dict, **kwargs: object) -> None:
        if "found_from" in data and "found_to" in data and data["found_from"] > data["found_to"]:
            raise ValidationError({"found_to": ["must not be before found_from"]})


class ListRectificationLetters(Page):
    unit_id = fields.UUID()
    status = fields.String(validate=codes(LETTER_STATUSES))
    overdue = Flag()


# the implementation chain's contracts (schemas.inspections.chain), one per method too
from schemas.inspections.chain import (  # noqa: E402
    DisputeProgressReport,
    GetMajorDecision,
    GetTaskPlan,
    RecordMajorDecision,
    ReportProgress,
    SetTaskMilestone,
    SetTaskTarget,
    VerifyProgressReport,
)

__all__ = [
    "DisputeProgressReport",
    "GetMajorDecision",
    "GetTaskPlan",
    "RecordMajorDecision",
    "ReportProgress",
    "SetTaskMilestone",
    "SetTaskTarget",
    "VerifyProgressReport",
]
