"""Accountability cases, reform efforts and commendations, with their rules. Pure code.

A case about a cadre rests on a basis (findings, an overdue letter, an assessment, a
report). Decisions on it are measures (约谈 … 问责) and organizational handling (转任 … 降职);
each decision may be appealed once, and an appeal upholds, changes or revokes it. A case
arising inside a reform effort registered in advance may be exempted or mitigated (容错免责).
A result is published to the public only once something is decided, and can be withdrawn.
A commendation is published on the honour roll with a public citation, and can be withdrawn.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from schemas.accountability.reference import (
    CURRENT_EXEMPTION_RULES,
    EXEMPTION_RULES,
    HANDLINGS,
    MEASURES,
)
from schemas.errors import InvalidCommand, RuleViolation


def in_order(earlier: date, later: date, what: str) -> None:
    if later < earlier:
        raise RuleViolation("accountability.date_in_order", f"{later} is before {what} ({earlier})")


class ReformEffort(Aggregate):
    """A reform effort registered in advance, with its risk assessment: mistakes made in
    it by its participants may be tolerated (允许试错、宽容失误)."""

    @event("Registered")
    def __init__(
        self,
        unit_id: UUID,
        title: str,
        risk_assessment: str,
        risk_level: str,
        participants: list[UUID],
        registered_on: date,
        starts_on: date,
        ends_on: date | None,
    ) -> None:
        self.unit_id = unit_id
        self.title = title
        self.risk_assessment = risk_assessment
        self.risk_level = risk_level
        self.participants = participants
        self.registered_on = registered_on
        self.starts_on = starts_on
        self.ends_on = ends_on

    @classmethod
    def register(cls, **details: Any) -> ReformEffort:
        if details["starts_on"] < details["registered_on"]:
            raise RuleViolation(
                "accountability.reform_registered_in_advance",
                f"the effort starts on {details['starts_on']}, before it is registered "
                f"({details['registered_on']})",
            )
        if details["ends_on"] is not None:
            in_order(details["starts_on"], details["ends_on"], "the effort's start")
        return cls(**details)

    def covers(self, cadre_id: UUID, on: date) -> bool:
        return cadre_id in self.participants and self.starts_on <= on <= (self.ends_on or on)


class Commendation(Aggregate):
    """Those who deliver are commended or recommended for promotion (表彰奖励、提拔使用).

    ``reason`` is the private basis of a commendation and is never published. A
    commendation is on the public honour roll (宣传先进事迹) only once it is published with
    a citation written for the public (``publish``), until that publication is withdrawn;
    it may be published again after. A commendation a rule proposes (the third-class merit
    for three ``excellent`` years) cites the rule, its version and source."""

    # class defaults: states recorded before them
    rule: str | None = None
    rules_version: str | None = None
    source: str | None = None
    task_id: UUID | None = None  # the task whose targets proposed it (落实链条)

    @event("Commended")
    def __init__(
        self,
        cadre_id: UUID,
        kind: str,
        reason: str,
        commended_on: date,
        rule: str | None = None,
        rules_version: str | None = None,
        source: str | None = None,
        task_id: UUID | None = None,
    ) -> None:
        self.cadre_id = cadre_id
        self.kind = kind
        self.reason = reason
        self.commended_on = commended_on
        self.rule = rule
        self.rules_version = rules_version
        self.source = source
        self.task_id = task_id
        self.publications: list[dict[str, Any]] = []

    def in_view(self) -> dict[str, Any] | None:
        """The publication on the honour roll now, if any."""
        return next((p for p in self.publications if p["withdrawn_on"] is None), None)

    def publish(self, citation: str, published_on: date) -> None:
        in_order(self.commended_on, published_on, "the commendation")
        if self.in_view() is not None:
            raise RuleViolation(
                "accountability.commendation_published_once",
                "the commendation is already on the honour roll",
            )
        self._published(self.cadre_id, citation, published_on)

    def withdraw_publication(self, reason: str, withdrawn_on: date) -> None:
        shown = self.in_view()
        if shown is None:
            raise RuleViolation(
                "accountability.commendation_in_view", "the commendation is not on the honour roll"
            )
        in_order(shown["published_on"], withdrawn_on, "the publication")
        self._publication_withdrawn(self.cadre_id, reason, withdrawn_on)

    @event("Published")
    def _published(self, cadre_id: UUID, citation: str, published_on: date) -> None:
        self.publications.append({"citation": citation, "published_on": published_on,
                                  "withdrawn_on": None, "reason": None})  # fmt: skip

    @event("PublicationWithdrawn")
    def _publication_withdrawn(self, cadre_id: UUID, reason: str, withdrawn_on: date) -> None:
        self.in_view().update(withdrawn_on=withdrawn_on, reason=reason)


def proposed_consequence(grade: str, run: int, rules: dict[str, dict[str, Any]]) -> str | None:
    """The consequence rule (of one version of ``rules``: ``CONSEQUENCE_RULES``) that the
    ``run``-th year running graded ``grade`` fires, the longest run first: as the personnel
    file counts, a rule fires when its grade has come ``years_running`` years in a row, and
    counts afresh after (so every ``years_running``-th year of the run)."""
    firing = [
        (rule["years_running"], name)
        for name, rule in rules.items()
        if rule["grade"] == grade and run % rule["years_running"] == 0
    ]
    return max(firing)[1] if firing else None


def check_basis(cadre_id: UUID, basis: list[dict[str, Any]], facts: list[dict[str, Any]]) -> None:
    """What the other services say of each basis item (``facts``, in the same order: the
    finding or letter as they returned it) must support a case about this cadre."""
    for item, fact in zip(basis, facts, strict=True):
        if item["kind"] == "finding" and fact["cadre_id"] not in (None, str(cadre_id)):
            raise RuleViolation(
                "accountability.basis_about_cadre",
                f"finding {item['finding_id']} is about another cadre",
            )
        if item["kind"] == "overdue_letter" and not fact["overdue"]:
            raise RuleViolation(
                "accountability.basis_letter_overdue",
                f"letter {item['letter_id']} is not overdue",
            )


class Case(Aggregate):
    """An accountability case about one cadre.

    A report from the public is named in ``basis`` only by its kind: its reference (which
    may identify who reported) is kept apart, in ``reports`` (in the order of the report
    items), which the log stores sealed as personal data (events.identity.personal) and which is
    never published."""

    # class defaults: states recorded before them
    proposal: dict[str, Any] | None = None
    reports: list[str] | None = None

    @classmethod
    def open(
        cls,
        cadre_id: UUID,
        basis: list[dict[str, Any]],
        facts: list[dict[str, Any]],
        summary: str,
        occurred_on: date,
        opened_on: date,
        proposal: dict[str, Any] | None = None,
    ) -> Case:
        """``proposal``: what a rule proposes to decide (``handling``, ``rule``,
        ``rules_version``, ``source``), for a case a rule opens."""
        check_basis(cadre_id, basis, facts)
        in_order(occurred_on, opened_on, "what the case is about")
        reports = [item["reference"] for item in basis if item["kind"] == "report"]
        basis = [{"kind": "report"} if item["kind"] == "report" else item for item in basis]
        return cls(cadre_id, basis, summary, occurred_on, opened_on, proposal, reports or None)

    def report_references(self) -> list[str | None]:
        """The reference of each report item of the basis, in order (None once erased)."""
        sealed = iter(self.reports or [])
        return [
            item["reference"] if "reference" in item else next(sealed, None)  # older cases
            for item in self.basis
            if item["kind"] == "report"
        ]

    @event("Opened")
    def __init__(
        self,
        cadre_id: UUID,
        basis: list[dict[str, Any]],
        summary: str,
        occurred_on: date,
        opened_on: date,
        proposal: dict[str, Any] | None = None,
        reports: list[str] | None = None,
    ) -> None:
        self.cadre_id = cadre_id
        self.basis = basis
        self.summary = summary
        self.occurred_on = occurred_on
        self.opened_on = opened_on
        self.proposal = proposal
        self.reports = reports
        self.status = "open"
        self.statements: list[dict[str, Any]] = []
        self.decisions: list[dict[str, Any]] = []
        self.exemption: dict[str, Any] | None = None
        self.publications: list[dict[str, Any]] = []
        self.closed_on: date | None = None
        self.conclusion: str | None = None

    # --- rules ---------------------------------------------------------------------------

    def _require_open(self, on: date) -> None:
        if self.status != "open":
            raise RuleViolation(
                "accountability.case_closed", f"the case closed on {self.closed_on}"
            )
        in_order(self.opened_on, on, "the case's opening")

    def _require_no_exemption(self) -> None:
        if self.exemption and self.exemption["outcome"] == "exempted":
            raise RuleViolation(
                "accountability.exempted_takes_no_sanction",
                "the case is exempted under tolerance for reform: no measure or handling",
            )

    def decision(self, decision_id: UUID) -> dict[str, Any]:
        for decision in self.decisions:
            if decision["decision_id"] == decision_id:
                return decision
        raise InvalidCommand({"decision_id": [f"no decision {decision_id} on this case"]})

    def in_force(self) -> list[dict[str, Any]]:
        return [d for d in self.decisions if d["status"] != "revoked"]

    # --- commands ------------------------------------------------------------------------

    def record_statement(self, text: str, made_on: date) -> None:
        self._require_open(made_on)
        self._statement_recorded(text, made_on)

    def impose_measure(self, kind: str, form: str | None, reason: str, decided_on: date) -> UUID:
        self._require_open(decided_on)
        self._require_no_exemption()
        decision_id = uuid4()
        self._decided(decision_id, "measure", kind, form, None, reason, decided_on, self.cadre_id)
        return decision_id

    def decide_handling(
        self, kind: str, target: dict[str, Any], reason: str, decided_on: date
    ) -> UUID:
        """``target``: the post the handling puts the cadre in, where it names one
        (``unit_id``, ``post``, ``rank``), for the registry to apply."""
        self._require_open(decided_on)
        self._require_no_exemption()
        decision_id = uuid4()
        self._decided(
            decision_id, "handling", kind, None, target, reason, decided_on, self.cadre_id
        )
        return decision_id

    def grant_exemption(
        self,
        effort: ReformEffort,
        outcome: str,
        reasons: str,
        granted_on: date,
        decision: dict[str, Any] | None = None,
        statements: dict[str, dict[str, Any] | None] | None = None,
        rules_version: str = CURRENT_EXEMPTION_RULES,
    ) -> None:
        """Tolerance for reform under ``rules_version`` of ``EXEMPTION_RULES``: each of its
        conditions not met refuses, naming it. ``decision``: what the inspections service
        recorded of the major decision named (``decision_id``, ``decided_on``,
        ``reform_effort_ids``, ``missing_steps``), None when none is named;
        ``statements``: the discipline commission's ``no_personal_gain`` and
        ``no_prohibition_broken`` (``holds``, ``basis``), each None when not stated."""
        self._require_open(granted_on)
        if self.exemption is not None:
            raise RuleViolation(
                "accountability.one_exemption", "tolerance was already decided for this case"
            )
        statements = statements or {}
        for condition in EXEMPTION_RULES[rules_version]["conditions"]:
            unmet = self._exemption_unmet(condition, effort, decision, statements)
            if unmet:
                raise RuleViolation(
                    f"accountability.{condition}", f"{unmet} (rules {rules_version})"
                )
        if outcome == "exempted" and self.in_force():
            raise RuleViolation(
                "accountability.exempted_takes_no_sanction",
                "measures or handling are in force on this case; an appeal can revoke them",
            )
        self._exemption_granted(
            effort.id, outcome, reasons, granted_on,
            decision and decision["decision_id"],
            statements.get("no_personal_gain"), statements.get("no_prohibition_broken"),
            rules_version,
        )  # fmt: skip

    def _exemption_unmet(
        self,
        condition: str,
        effort: ReformEffort,
        decision: dict[str, Any] | None,
        statements: dict[str, dict[str, Any] | None],
    ) -> str | None:
        """Why ``condition`` (of ``EXEMPTION_RULES``) is not met, or None when it is."""
        if condition == "reform_registered_in_advance":
            if effort.registered_on > self.occurred_on:
                return (
                    f"the reform effort was registered on {effort.registered_on}, after what "
                    f"the case is about ({self.occurred_on})"
                )
        elif condition == "exemption_within_reform":
            if not effort.covers(self.cadre_id, self.occurred_on):
                return (
                    "the cadre is not a participant of the reform effort, or what the case is "
                    "about lies outside the effort's period"
                )
        elif condition == "exemption_decision_started_effort":
            if decision is None:
                return "decision_id: no major decision behind the mistake is named"
            if str(effort.id) not in decision["reform_effort_ids"]:
                return (
                    f"decision_id: decision {decision['decision_id']} did not start reform "
                    f"effort {effort.id}"
                )
        elif condition == "exemption_decision_before_mistake":
            if decision["decided_on"] > self.occurred_on:
                return (
                    f"decision_id: decision {decision['decision_id']} was taken on "
                    f"{decision['decided_on']}, after what the case is about ({self.occurred_on})"
                )
        elif condition == "exemption_procedure_followed":
            if decision["missing_steps"]:
                return (
                    f"decision_id: decision {decision['decision_id']} did not follow its "
                    f"procedure: {', '.join(decision['missing_steps'])} not recorded or done "
                    "after the decision"
                )
        else:  # exemption_no_personal_gain, exemption_no_prohibition_broken
            field = condition.removeprefix("exemption_")
            statement = statements.get(field)
            if statement is None:
                return f"{field}: the discipline commission has not stated it, with its basis"
            if not statement["holds"]:
                return f"{field}: the discipline commission states it does not hold"
        return None

    def file_appeal(self, decision_id: UUID, grounds: str, filed_on: date) -> None:
        self._require_open(filed_on)
        decision = self.decision(decision_id)
        if decision["appeal"] is not None:
            raise RuleViolation(
                "accountability.one_appeal_per_decision",
                f"decision {decision_id} was already appealed",
            )
        in_order(decision["decided_on"], filed_on, "the decision")
        self._appeal_filed(decision_id, grounds, filed_on)

    def decide_appeal(
        self,
        decision_id: UUID,
        outcome: str,
        reason: str,
        decided_on: date,
        changed_to: dict[str, Any] | None,
    ) -> None:
        self._require_open(decided_on)
        decision = self.decision(decision_id)
        appeal = decision["appeal"]
        if appeal is None or appeal["outcome"] is not None:
            raise RuleViolation(
                "accountability.appeal_pending", f"decision {decision_id} has no pending appeal"
            )
        in_order(appeal["filed_on"], decided_on, "the appeal")
        if outcome == "changed":
            catalogue = MEASURES if decision["type"] == "measure" else HANDLINGS
            if changed_to["kind"] not in catalogue or changed_to["kind"] == decision["kind"]:
                raise RuleViolation(
                    "accountability.change_within_type",
                    f"a {decision['type']} is changed to another {decision['type']}",
                )
        self._appeal_decided(decision_id, outcome, reason, decided_on, changed_to, self.cadre_id)

    def publish_result(self, summary: str, published_on: date) -> UUID:
        in_order(self.opened_on, published_on, "the case's opening")
        if not self.in_force():
            raise RuleViolation(
                "accountability.publish_after_decision",
                "nothing is published before a measure or handling is decided",
            )
        if any(p["withdrawn_on"] is None for p in self.publications):
            raise RuleViolation(
                "accountability.published_once", "the result is already in public view"
            )
        publication_id = uuid4()
        decisions = [d["decision_id"] for d in self.in_force()]
        self._published(publication_id, decisions, summary, published_on)
        return publication_id

    def withdraw_publication(self, reason: str, withdrawn_on: date) -> None:
        shown = [p for p in self.publications if p["withdrawn_on"] is None]
        if not shown:
            raise RuleViolation(
                "accountability.publication_in_view", "no publication of this case is in view"
            )
        in_order(shown[0]["published_on"], withdrawn_on, "the publication")
        self._publication_withdrawn(shown[0]["publication_id"], reason, withdrawn_on)

    def close(self, conclusion: str, closed_on: date) -> None:
        self._require_open(closed_on)
        pending = [
            d["decision_id"]
            for d in self.decisions
            if d["appeal"] is not None and d["appeal"]["outcome"] is None
        ]
        if pending:
            raise RuleViolation(
                "accountability.appeal_pending",
                f"the appeal of decision {pending[0]} is not decided yet",
            )
        self._closed(conclusion, closed_on)

    # --- events --------------------------------------------------------------------------

    @event("StatementRecorded")
    def _statement_recorded(self, text: str, made_on: date) -> None:
        self.statements.append({"text": text, "made_on": made_on})

    @event("Decided")
    def _decided(
        self,
        decision_id: UUID,
        decision_type: str,
        kind: str,
        form: str | None,
        target: dict[str, Any] | None,
        reason: str,
        decided_on: date,
        cadre_id: UUID,
    ) -> None:
        self.decisions.append(
            {"decision_id": decision_id, "type": decision_type, "kind": kind, "form": form,
             "target": target, "reason": reason, "decided_on": decided_on,
             "status": "in_force", "appeal": None, "changes": []}
        )  # fmt: skip

    @event("ExemptionGranted")
    def _exemption_granted(
        self,
        reform_effort_id: UUID,
        outcome: str,
        reasons: str,
        granted_on: date,
        decision_id: UUID | None = None,
        no_personal_gain: dict[str, Any] | None = None,
        no_prohibition_broken: dict[str, Any] | None = None,
        rules_version: str = "2026.1",  # those granted before the version was recorded
    ) -> None:
        self.exemption = {"reform_effort_id": reform_effort_id, "outcome": outcome,
                          "reasons": reasons, "granted_on": granted_on,
                          "decision_id": decision_id, "no_personal_gain": no_personal_gain,
                          "no_prohibition_broken": no_prohibition_broken,
                          "rules_version": rules_version}  # fmt: skip

    @event("AppealFiled")
    def _appeal_filed(self, decision_id: UUID, grounds: str, filed_on: date) -> None:
        self.decision(decision_id)["appeal"] = {
            "grounds": grounds, "filed_on": filed_on, "outcome": None,
        }  # fmt: skip

    @event("AppealDecided")
    def _appeal_decided(
        self,
        decision_id: UUID,
        outcome: str,
        reason: str,
        decided_on: date,
        changed_to: dict[str, Any] | None,
        cadre_id: UUID,
    ) -> None:
        decision = self.decision(decision_id)
        decision["appeal"].update(outcome=outcome, reason=reason, decided_on=decided_on)
        if outcome == "revoked":
            decision["status"] = "revoked"
        elif outcome == "changed":
            decision["changes"].append({"kind": decision["kind"], "form": decision["form"],
                                        "target": decision.get("target")})  # fmt: skip
            target = {key: changed_to.get(key) for key in ("unit_id", "post", "rank")}
            decision.update(status="changed", kind=changed_to["kind"], form=changed_to["form"],
                            target=target if any(target.values()) else None)  # fmt: skip

    @event("Published")
    def _published(
        self, publication_id: UUID, decision_ids: list[UUID], summary: str, published_on: date
    ) -> None:
        self.publications.append(
            {"publication_id": publication_id, "decision_ids": decision_ids, "summary": summary,
             "published_on": published_on, "withdrawn_on": None, "reason": None}
        )  # fmt: skip

    @event("PublicationWithdrawn")
    def _publication_withdrawn(self, publication_id: UUID, reason: str, withdrawn_on: date) -> None:
        for publication in self.publications:
            if publication["publication_id"] == publication_id:
                publication.update(withdrawn_on=withdrawn_on, reason=reason)

    @event("Closed")
    def _closed(self, conclusion: str, closed_on: date) -> None:
        self.status = "closed"
        self.conclusion = conclusion
        self.closed_on = closed_on
