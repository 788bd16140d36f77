"""The implementation chain's contracts (落实链条, DOMAIN.md; docs/rpc.md "The implementation
chain"): a task's targets and milestones, progress reports and their verification, major
decisions with their procedure. They belong to the ``inspections`` service, the
supervision office's context (督查室); the task itself is the registry's."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from schemas.common import NAME, TEXT, Command, Day, Strict, codes

#: The steps of a major decision's procedure (科学民主依法决策), each dated (纪实监督).
PROCEDURE_STEPS = {
    "collective_deliberation": ("集体讨论", "collective deliberation"),
    "risk_assessment": ("风险评估", "risk assessment"),
    "legality_review": ("合法性审查", "legality review"),
}

#: What became of a target, as evaluated on a day.
TARGET_OUTCOMES = {
    "met_on_time": ("按期完成", "met on time"),
    "met_late": ("逾期完成", "met late"),
    "missed": ("未完成", "missed"),
    "in_progress": ("推进中", "in progress"),
}

VALUE = validate.Range(min=0, max=1e12)
SHORT = validate.Length(min=1, max=50)


class Number(fields.Float):
    """A JSON number: a string (``"100"``) or a boolean is refused, never converted
    (docs/rpc.md: numbers have their type)."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> float:
        if isinstance(value, (str, bool)):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


def value_field(**kwargs: object) -> fields.Float:
    return Number(allow_nan=False, validate=VALUE, **kwargs)


class DueAhead(Command):
    """A target's or milestone's ``due_on`` is a day to come when it is set: never before
    ``set_on`` (a target due in the past would count as missed at once)."""

    @validates_schema
    def _due_ahead(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "due_on" in data and "set_on" in data and data["due_on"] < data["set_on"]:
            raise ValidationError(
                f"must not be before set_on ({data['set_on']}): a day to come", "due_on"
            )


class SetTaskTarget(DueAhead):
    """A quantified target (指标) of a task: new (no ``target_id``), or changed."""

    task_id = fields.UUID(required=True)
    target_id = fields.UUID(load_default=None, allow_none=True)
    indicator = fields.String(required=True, validate=TEXT)
    unit = fields.String(required=True, validate=SHORT)
    target_value = value_field(required=True)
    due_on = Day(required=True)
    reason = fields.String(required=True, validate=TEXT)
    set_on = Day(required=True)


class SetTaskMilestone(DueAhead):
    """A milestone (节点): the value of one of the task's targets to reach by a day."""

    task_id = fields.UUID(required=True)
    milestone_id = fields.UUID(load_default=None, allow_none=True)
    target_id = fields.UUID(required=True)
    title = fields.String(required=True, validate=TEXT)
    value = value_field(required=True)
    due_on = Day(required=True)
    reason = fields.String(required=True, validate=TEXT)
    set_on = Day(required=True)


class FrontlineWork(Strict):
    """一线工作法: where, whom, the problem solved there."""

    place = fields.String(required=True, validate=NAME)
    whom = fields.String(required=True, validate=NAME)
    problem_solved = fields.String(required=True, validate=TEXT)
    on = Day(required=True)


class ReportProgress(Command):
    """The value of a target reached on a day, with evidence references (private) and
    front-line work; ``corrects``: an earlier report of the target this one replaces."""

    task_id = fields.UUID(required=True)
    target_id = fields.UUID(required=True)
    value = value_field(required=True)
    reported_on = Day(required=True)
    evidence = fields.List(fields.String(validate=validate.Length(min=1, max=500)),
                           load_default=list, validate=validate.Length(max=50))  # fmt: skip
    frontline = fields.List(fields.Nested(FrontlineWork), load_default=list,
                            validate=validate.Length(max=50))  # fmt: skip
    corrects = fields.UUID(load_default=None, allow_none=True)


class VerifyProgressReport(Command):
    task_id = fields.UUID(required=True)
    report_id = fields.UUID(required=True)
    verified_on = Day(required=True)


class DisputeProgressReport(Command):
    """A disputed report's value does not count."""

    task_id = fields.UUID(required=True)
    report_id = fields.UUID(required=True)
    reason = fields.String(required=True, validate=TEXT)
    disputed_on = Day(required=True)


class ProcedureStep(Strict):
    step = fields.String(required=True, validate=codes(PROCEDURE_STEPS))
    done_on = Day(required=True)


class RecordMajorDecision(Command):
    title = fields.String(required=True, validate=TEXT)
    decided_on = Day(required=True)
    procedure = fields.List(fields.Nested(ProcedureStep), required=True,
                            validate=validate.Length(max=10))  # fmt: skip
    task_ids = fields.List(fields.UUID(), load_default=list, validate=validate.Length(max=100))
    reform_effort_ids = fields.List(fields.UUID(), load_default=list,
                                    validate=validate.Length(max=100))  # fmt: skip


class GetTaskPlan(Strict):
    task_id = fields.UUID(required=True)


class GetMajorDecision(Strict):
    decision_id = fields.UUID(required=True)
