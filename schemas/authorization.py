"""Who may call what: the authorization policy, version ``2026.6`` (docs/rpc.md, "Identity
and authorization").

An **agency** is a RabbitMQ user: the services take it from the validated ``user_id`` of
each RPC request (``events.identity.agency``), never from the payload. Agencies hold **roles**;
a role grants methods (``service.method``), some only with conditions on the payload (a
service hall submits ratings through the ``service_window`` channel only). A call no role
of the agency grants is refused with ``Forbidden`` and recorded in the called service's
log; so is a request that carries no ``user_id``.

``AGENCIES`` is the published mapping of the standard agency users; a deployment that names
its users otherwise gives its own mapping in the configuration (``YOUWEI_AGENCIES``: user →
list of roles), which replaces this one. Roles and what they grant are this module's, and
change only with a new ``VERSION``.

``local_development`` (held by ``guest``) may call everything: it exists so that the local
stack and the tests work as RabbitMQ's default user. It is **off** when the policy is in
production (``YOUWEI_AUTH_POLICY=production``): then it grants nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: 2026.2: cadre_registry.dismiss_from_service, tasks_needing_owner; 2026.3: the honour
#: roll (accountability.publish_commendation, withdraw_commendation_publication,
#: list_commendations; records.honour_roll); 2026.4: evaluations.submit_ratings (each
#: rating checked as a submit_rating); 2026.5: the implementation chain (落实链条): task
#: targets, milestones and major decisions by the organization department or the
#: supervision office, progress reports, their verification by the supervision office;
#: 2026.6: records.task_chain (a task's whole chain), read by the supervision office too;
#: the evaluations service reads a concluded task's owner and plan
VERSION = "2026.6"

LOCAL = "local"
PRODUCTION = "production"
MODES = (LOCAL, PRODUCTION)

COMMAND = "command"
QUERY = "query"

#: Every RPC method of every service, and whether it is a command (carries ``command_id``
#: and ``actor``; retried with the same ``command_id``) or a query (reads only).
METHODS: dict[str, dict[str, str]] = {
    "cadre_registry": {
        **dict.fromkeys(
            ("register_unit", "register_cadre", "appoint", "transfer",
             "change_to_non_leadership", "send_to_off_post_training", "dismiss",
             "order_resignation", "dismiss_from_service", "demote", "assign_responsibility",
             "erase_personal_data", "set_personal_data_retention"),
            COMMAND,
        ),
        **dict.fromkeys(
            ("get_unit", "get_cadre", "list_cadres", "responsibilities_of", "owner_of",
             "tasks_needing_owner"),
            QUERY,
        ),
    },
    "evaluations": {
        "submit_rating": COMMAND,
        "submit_ratings": COMMAND,
        "conclude_annual_assessment": COMMAND,
        "erase_rater": COMMAND,
        "ratings_summary": QUERY,
        "get_assessment": QUERY,
    },
    "inspections": {
        **dict.fromkeys(
            ("open_inspection", "record_finding", "issue_rectification_letter",
             "report_rectification", "review_rectification", "expose_finding",
             "set_task_target", "set_task_milestone", "report_progress",
             "verify_progress_report", "dispute_progress_report", "record_major_decision"),
            COMMAND,
        ),
        **dict.fromkeys(
            ("get_inspection", "get_finding", "get_rectification_letter", "list_findings",
             "list_rectification_letters", "get_task_plan", "get_major_decision"),
            QUERY,
        ),
    },
    "accountability": {
        **dict.fromkeys(
            ("open_case", "record_statement", "impose_measure", "decide_handling",
             "register_reform_effort", "grant_exemption", "file_appeal", "decide_appeal",
             "commend", "publish_commendation", "withdraw_commendation_publication",
             "publish_result", "withdraw_publication", "close_case"),
            COMMAND,
        ),
        **dict.fromkeys(("get_case", "get_reform_effort", "get_commendation", "list_cases",
                         "list_commendations"),
                        QUERY),
    },
    "records": dict.fromkeys(
        ("personnel_file", "eligible_for_promotion", "public_records", "honour_roll",
         "projections_status", "task_chain"),
        QUERY,
    ),
}  # fmt: skip

#: Reads recorded in the called service's log (who, when, which cadre, under which role
#: and policy version): method → the payload field naming the day asked about.
RECORDED_READS: dict[str, str] = {
    "records.personnel_file": "as_of",
    "records.eligible_for_promotion": "on",
}

#: Methods that carry a list of items, each decided as a call of another method of the same
#: service (``decide_items``): ``service.method`` → (the payload's list field, that method).
#: Granting the method lets the agency send the list; each item is then allowed only as the
#: grants of the item's method allow it (a service hall's ratings: ``service_window`` only).
ITEMIZED: dict[str, tuple[str, str]] = {
    "evaluations.submit_ratings": ("ratings", "submit_rating"),
}

#: A grant: ``service.method`` → conditions on the payload (field → the values allowed),
#: or None for none.
Grants = dict[str, dict[str, tuple[Any, ...]] | None]


def _commands(service: str, but: tuple[str, ...] = ()) -> Grants:
    return {f"{service}.{m}": None for m, kind in METHODS[service].items()
            if kind == COMMAND and m not in but}  # fmt: skip


def _queries(*services: str) -> Grants:
    return {f"{s}.{m}": None for s in services for m, kind in METHODS[s].items() if kind == QUERY}


def _only(*names: str) -> Grants:
    return dict.fromkeys(names)


EVERY_SERVICE = tuple(METHODS)
PERSONNEL_READS = _only("records.personnel_file", "records.eligible_for_promotion")
ALL_READS = _queries(*EVERY_SERVICE)

LOCAL_DEVELOPMENT = "local_development"

#: The implementation chain's commands (2026.5): the organization department decides a
#: task's targets and reports for its owners; the supervision office does all of them.
CHAIN_DECISION = ("set_task_target", "set_task_milestone", "record_major_decision",
                  "report_progress")  # fmt: skip
CHAIN = (*CHAIN_DECISION, "verify_progress_report", "dispute_progress_report")


@dataclass(frozen=True)
class Role:
    zh: str
    en: str
    grants: Grants = field(default_factory=dict)


ROLES: dict[str, Role] = {
    "organization_department": Role(
        "组织部", "organization department: the registry, appointments, annual assessment, "
        "organizational handling, commendation and promotion; erasure of personal data",
        {
            **_commands("cadre_registry"),
            "evaluations.submit_rating": {"channel": ("democratic_appraisal",)},
            "evaluations.submit_ratings": None,
            "evaluations.conclude_annual_assessment": None,
            "evaluations.erase_rater": None,
            **_only("accountability.decide_handling", "accountability.commend",
                    "accountability.publish_commendation",
                    "accountability.withdraw_commendation_publication",
                    "accountability.register_reform_effort"),
            **_only(*(f"inspections.{m}" for m in CHAIN_DECISION)),
            **ALL_READS,
        },
    ),
    "discipline_commission": Role(
        "纪委监委", "discipline inspection and supervision commission: undercover visits, "
        "cases, accountability measures, appeals, publication",
        {
            **_commands("inspections", but=CHAIN),
            **_only("accountability.open_case", "accountability.record_statement",
                    "accountability.impose_measure", "accountability.grant_exemption",
                    "accountability.file_appeal", "accountability.decide_appeal",
                    "accountability.publish_result", "accountability.withdraw_publication",
                    "accountability.close_case"),
            **ALL_READS,
        },
    ),
    "inspection_office": Role(
        "巡视办/督查室", "inspection-tour and supervision office: inspections, findings, "
        "rectification letters; tasks' targets, milestones and reports, and their "
        "verification",
        {
            **_commands("inspections"),
            **_queries("cadre_registry", "inspections"),
            "records.public_records": None,
            "records.honour_roll": None,
            "records.task_chain": None,
        },
    ),
    "service_hall": Role(
        "政务服务大厅", "service hall: ratings at its windows, nothing else",
        {"evaluations.submit_rating": {"channel": ("service_window",)},
         "evaluations.submit_ratings": None},
    ),
    "hotline": Role(
        "电话抽查", "telephone spot checks: phone ratings, nothing else",
        {"evaluations.submit_rating": {"channel": ("phone_spot_check",)},
         "evaluations.submit_ratings": None},
    ),
    "survey_platform": Role(
        "问卷与网络测评", "survey platform: questionnaires and online satisfaction ratings",
        {"evaluations.submit_rating": {"channel": ("questionnaire", "online_satisfaction")},
         "evaluations.submit_ratings": None},
    ),
    "auditor": Role("审计", "auditor: reads everything, changes nothing", dict(ALL_READS)),
    # the services, each as its own RabbitMQ user: the reads they make of each other
    "evaluations_service": Role(
        "有为·评价服务", "the evaluations service",
        _only("cadre_registry.get_cadre", "cadre_registry.owner_of", "inspections.get_task_plan")
    ),
    "inspections_service": Role(
        "有为·督查服务", "the inspections service",
        _only("cadre_registry.get_unit", "cadre_registry.get_cadre", "cadre_registry.owner_of",
              "accountability.get_reform_effort"),
    ),
    "accountability_service": Role(
        "有为·问责服务", "the accountability service",
        _only("cadre_registry.get_unit", "cadre_registry.get_cadre", "cadre_registry.owner_of",
              "inspections.get_finding", "inspections.get_rectification_letter",
              "inspections.get_task_plan", "inspections.get_major_decision",
              "evaluations.get_assessment"),
    ),
    # every method of every service, even one not yet in METHODS; nothing in production
    LOCAL_DEVELOPMENT: Role("本地开发", "LOCAL DEVELOPMENT ONLY: everything; off in production"),
}  # fmt: skip

#: The standard agency users (RabbitMQ user names) and their roles.
AGENCIES: dict[str, tuple[str, ...]] = {
    "org-department": ("organization_department",),
    "discipline-commission": ("discipline_commission",),
    "inspection-office": ("inspection_office",),
    "service-hall": ("service_hall",),
    "hotline": ("hotline",),
    "survey-platform": ("survey_platform",),
    "auditor": ("auditor",),
    "youwei-evaluations": ("evaluations_service",),
    "youwei-inspections": ("inspections_service",),
    "youwei-accountability": ("accountability_service",),
    # RabbitMQ's default user, for the local stack and the tests: off in production
    "guest": (LOCAL_DEVELOPMENT,),
}


@dataclass(frozen=True)
class Decision:
    """What the policy says of one call: ``allowed``, the ``role`` that allowed it, the
    agency's ``roles``, the ``reason`` (a sentence), the policy ``version``."""

    allowed: bool
    agency: str | None
    method: str
    roles: tuple[str, ...]
    role: str | None
    reason: str
    version: str = VERSION

    def details(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "agency": self.agency,
            "method": self.method,
            "roles": list(self.roles),
            "policy_version": self.version,
        }


def check_agencies(agencies: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """A mapping of agency → roles as the configuration gives it, checked: every role
    must exist."""
    checked: dict[str, tuple[str, ...]] = {}
    for agency, roles in agencies.items():
        names = (roles,) if isinstance(roles, str) else tuple(roles)
        unknown = [name for name in names if name not in ROLES]
        if unknown:
            raise ValueError(f"agency {agency!r}: unknown roles {unknown} (policy {VERSION})")
        checked[str(agency)] = names
    return checked


def decide(
    agency: str | None,
    service: str,
    method: str,
    payload: Any,
    *,
    mode: str = LOCAL,
    agencies: Mapping[str, tuple[str, ...]] | None = None,
) -> Decision:
    """May ``agency`` call ``service.method`` with ``payload``?"""
    if mode not in MODES:
        raise ValueError(f"the authorization policy's mode is one of {MODES}, not {mode!r}")
    name = f"{service}.{method}"
    if not agency:
        reason = "the request has no user_id: the caller is unknown, and nothing is allowed"
        return Decision(False, None, name, (), None, reason)
    roles = tuple((AGENCIES if agencies is None else agencies).get(agency, ()))
    if not roles:
        reason = f"agency {agency!r} has no role in policy {VERSION}"
        return Decision(False, agency, name, roles, None, reason)
    refusals = []
    for role in roles:
        if role == LOCAL_DEVELOPMENT:
            if mode == PRODUCTION:
                refusals.append(f"role {role} is off in production")
                continue
            return Decision(True, agency, name, roles, role, f"granted to role {role} (local)")
        grants = ROLES[role].grants
        if name not in grants:
            continue
        conditions = grants[name] or {}
        unmet = [
            f"{key} one of {', '.join(map(str, allowed))}"
            for key, allowed in conditions.items()
            if not isinstance(payload, dict) or payload.get(key) not in allowed
        ]
        if not unmet:
            return Decision(True, agency, name, roles, role, f"granted to role {role}")
        refusals.append(f"role {role} may call {name} only with " + "; ".join(unmet))
    reason = "; ".join(refusals) or (
        f"no role of agency {agency!r} ({', '.join(roles)}) may call {name}"
    )
    return Decision(False, agency, name, roles, None, reason)


def decide_items(
    agency: str | None,
    service: str,
    method: str,
    payload: Any,
    *,
    mode: str = LOCAL,
    agencies: Mapping[str, tuple[str, ...]] | None = None,
) -> list[Decision]:
    """For an ``ITEMIZED`` method, the decision on each item of ``payload``'s list, as a
    call of the item's method with that item as its payload."""
    field_name, item_method = ITEMIZED[f"{service}.{method}"]
    items = payload.get(field_name) if isinstance(payload, dict) else None
    return [
        decide(agency, service, item_method, item, mode=mode, agencies=agencies)
        for item in (items if isinstance(items, list) else [])
    ]
