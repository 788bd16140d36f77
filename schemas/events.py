"""The published language of events: what each service tells the others (and any agency
listening on RabbitMQ) about what happened, as docs/events.md describes.

Each service's log is relayed to the exchange ``<service>.events`` (a nameko event
exchange). An event's type is its aggregate and event names in snake case
(``Finding.Recorded`` → ``finding_recorded``); only the types listed here are published, and
only the fields listed for each. What is private stays in its service: raters' hashes,
birth dates, statements, evidence, team members' names.
"""

from __future__ import annotations

from marshmallow import fields, validate

from schemas.common import Strict

#: Service → its log (the MongoDB collection its events are recorded in).
LOGS = {
    "cadre_registry": "cadreregistry_events",
    "evaluations": "evaluations_events",
    "inspections": "inspections_events",
    "accountability": "accountability_events",
    # the records service's access record (reads of personnel files, refused calls)
    "records": "records_events",
}

#: Service → event type → the fields of the event published.
PUBLISHED: dict[str, dict[str, tuple[str, ...]]] = {
    "cadre_registry": {
        "unit_registered": ("name", "parent_id"),
        "cadre_registered": ("name", "unit_id", "post", "rank", "post_kind", "effective_date"),
        "cadre_appointed": ("unit_id", "post", "rank", "post_kind", "effective_date"),
        "cadre_transferred": ("unit_id", "post", "effective_date", "reason"),
        "cadre_changed_to_non_leadership": ("post", "effective_date", "reason"),
        "cadre_sent_to_off_post_training": ("effective_date", "reason"),
        "cadre_dismissed": ("effective_date", "reason"),
        "cadre_ordered_to_resign": ("effective_date", "reason"),
        "cadre_dismissed_from_service": ("effective_date", "reason"),
        "cadre_demoted": ("rank", "post", "effective_date", "reason"),
        "cadre_reinstated": ("unit_id", "post", "rank", "post_kind", "status", "effective_date",
                             "reason"),
        "cadre_personal_data_erased": ("erased_on",),
        "responsibility_assigned": ("kind", "title", "owner_id", "effective_date"),
        "responsibility_reassigned": ("owner_id", "effective_date"),
        "responsibility_owner_left": ("owner_id", "change", "effective_date"),
    },
    "evaluations": {
        "assessment_concluded": ("cadre_id", "year", "outcome", "concluded_on"),
    },
    "inspections": {
        "inspection_opened": ("kind", "title", "started_on"),
        "finding_recorded": (
            "inspection_id", "unit_id", "cadre_id", "situation", "cadre_type", "typical",
            "found_on",
        ),
        "finding_exposed": ("kind", "on"),
        "rectification_letter_issued": ("unit_id", "finding_ids", "task_id", "issued_on",
                                        "deadline"),
        "rectification_letter_reported": ("on",),
        "rectification_letter_reviewed": ("accepted", "on"),
        "rectification_letter_became_overdue": ("on",),
        "task_plan_started": ("task_id",),
        "task_plan_target_set": ("target_id", "changed", "details"),
        "task_plan_milestone_set": ("milestone_id", "changed", "details"),
        "task_plan_progress_reported": ("report_id", "target_id", "value", "reported_on",
                                        "frontline", "corrects"),
        "task_plan_report_reviewed": ("report_id", "verified", "on"),
        "task_plan_milestone_became_overdue": ("task_id", "milestone_id", "on"),
        "task_plan_targets_concluded": ("task_id", "outcomes", "all_met_on_time", "on"),
        "major_decision_recorded": ("title", "decided_on", "procedure", "task_ids",
                                    "reform_effort_ids"),
    },
    "accountability": {
        "case_opened": ("cadre_id", "basis", "occurred_on", "opened_on", "proposal"),
        "case_decided": ("cadre_id", "decision_id", "decision_type", "kind", "form", "target",
                         "decided_on"),
        "case_exemption_granted": ("reform_effort_id", "outcome", "granted_on", "decision_id",
                                   "rules_version"),
        "case_appeal_filed": ("decision_id", "filed_on"),
        "case_appeal_decided": ("cadre_id", "decision_id", "outcome", "changed_to",
                                "decided_on"),
        "case_published": ("publication_id", "decision_ids", "summary", "published_on"),
        "case_publication_withdrawn": ("publication_id", "withdrawn_on"),
        "case_closed": ("closed_on",),
        "commendation_commended": ("cadre_id", "kind", "commended_on", "rule", "rules_version",
                                   "source", "task_id"),
        "commendation_published": ("cadre_id", "citation", "published_on"),
        "commendation_publication_withdrawn": ("cadre_id", "withdrawn_on"),
        "reform_effort_registered": ("unit_id", "risk_level", "participants", "registered_on",
                                     "starts_on", "ends_on"),
    },
    "records": {},  # its log is its access record: nothing published
}  # fmt: skip

#: Of a published field that lists items, the keys of each item that are published: the
#: basis of a case names its findings, letters, overdue milestones (task and milestone) and
#: assessed years, and a report only as
#: a report (its reference, which may identify who reported, stays in the service).
PUBLISHED_ITEMS: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {
    "accountability": {
        "case_opened": {
            "basis": ("kind", "finding_id", "letter_id", "year", "task_id", "milestone_id")
        },
    },
}

HEADER_PREFIX = "youwei-"
"""AMQP headers of a relayed event: ``youwei-log``, ``youwei-position``, ``youwei-event-id``,
``youwei-originator-id``, ``youwei-originator-version``, ``youwei-correlation-id``,
``youwei-causation-id`` (the same values as in the body)."""


class PublicEvent(Strict):
    """The body of every relayed event message (JSON). Not input: the services wrote it
    from commands that met the input rules when they were given, which may have been
    older rules; a consumer must not refuse its history for them."""

    input_rules = False

    type = fields.String(required=True, validate=validate.Length(min=1, max=100))
    source = fields.String(required=True, validate=validate.OneOf(sorted(LOGS)))
    log = fields.String(required=True, validate=validate.OneOf(sorted(LOGS.values())))
    position = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    event_id = fields.UUID(required=True)
    originator_id = fields.String(required=True)
    originator_version = fields.Integer(required=True, strict=True)
    timestamp = fields.String(required=True)
    correlation_id = fields.UUID(allow_none=True, load_default=None)
    causation_id = fields.UUID(allow_none=True, load_default=None)
    data = fields.Dict(required=True)
