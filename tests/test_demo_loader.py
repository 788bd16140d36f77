"""``youwei demo``'s loader against the four real services over RabbitMQ, twice (the plan
itself is tested in test_demo.py)."""

from __future__ import annotations

import time
from datetime import date

import pytest

from schemas.inspections.reference import SITUATIONS
from tests.test_demo import SMALL
from youwei import demo


def settled(database, seconds: float = 1.5, limit: float = 60) -> dict[str, int]:
    """The logs' lengths once nothing was appended for ``seconds`` (the policies done)."""
    deadline = time.monotonic() + limit
    last: dict[str, int] = {}
    while time.monotonic() < deadline:
        logs = [name for name in database.list_collection_names() if name.endswith("_events")]
        now = {name: database[name].count_documents({}) for name in logs}
        if now == last:
            return now
        last = now
        time.sleep(seconds)
    raise AssertionError("the logs kept growing")


@pytest.mark.nameko
def test_the_year_loads_over_rpc_and_again_adds_nothing(
    container_factory, rabbit_config, mongodb_uri
) -> None:
    from nameko.testing.services import replace_dependencies

    from services.accountability.service import AccountabilityService
    from services.cadre_registry.service import CadreRegistryService
    from services.evaluations.service import EvaluationsService
    from services.inspections.service import InspectionsService
    from tests.services.support import RATER_KEY, FixedClock, running_services
    from tests.services.test_inspections_rpc import wait_for

    clock = FixedClock(date(2026, 6, 30))  # after every day the year (2025) names
    services = [CadreRegistryService, EvaluationsService, InspectionsService,
                AccountabilityService]  # fmt: skip
    plan = demo.plan_year(seed=11, scale=SMALL)
    with running_services(
        services, container_factory, rabbit_config, mongodb_uri, clock=clock,
        INSPECTIONS_DEADLINE_CHECK_SECONDS=3600, EVENT_RETRY_DELAYS=[0.2, 0.5],
    ) as (rpc, database):  # fmt: skip
        # the deadline check runs once, at the start (no letter yet), until the end below
        loader = demo.Loader(rabbit_config["AMQP_URI"], workers=4, patience=60)
        loader.check()
        done = []
        results = loader.load(plan, progress=done.append)
        assert sum(done) == len(plan.steps) == len(results)

        cases = rpc.accountability.list_cases({"page_size": 500})
        assert cases["total"] == len(plan.facts["cases_by_policy"]) + len(
            plan.facts["cases_opened_here"]
        )
        findings = rpc.inspections.list_findings({"page_size": 500})
        assert findings["total"] == plan.counts()["inspections.record_finding"]
        assert {f["situation"]["code"] for f in findings["findings"]} == set(SITUATIONS)
        # a case the service opened from a finding, with its decision, as planned
        finding_case = plan.facts["cases_by_policy"][0]
        case = rpc.accountability.get_case({"case_id": results[finding_case]["case_id"]})
        assert case["basis"][0]["kind"]["code"] == "finding"
        assert case["opened_on"] == "2026-06-30"  # the day it was opened: the services' today
        assert case["occurred_on"] < case["opened_on"]  # the day found
        # an exemption, under the rules that need the decision behind the mistake
        exempted = results[plan.facts["exemption_exempted"][0]]["case_id"]
        exemption = rpc.accountability.get_case({"case_id": exempted})["exemption"]
        decision = rpc.inspections.get_major_decision({"decision_id": exemption["decision_id"]})
        assert exemption["rules_version"] == "2026.2" and decision["followed_procedure"]
        assert exemption["reform_effort_id"] in decision["reform_effort_ids"]
        # an appeal revoked: the decision and its publication withdrawn
        revoked = next(c for c in plan.facts["appeal_revoked"] if c in plan.facts["withdrawn"])
        case = rpc.accountability.get_case({"case_id": results[revoked]["case_id"]})
        decision = case["decisions"][-1]
        assert decision["status"]["code"] == "revoked"
        assert decision["appeal"]["outcome"]["code"] == "revoked"
        assert case["publications"][0]["withdrawn_on"] is not None
        # a grade as planned, and the dismissal applied by the registry
        cadre, year_, grade = plan.facts["grades"][0]
        assessment = rpc.evaluations.get_assessment(
            {"cadre_id": results[cadre]["cadre_id"], "year": year_}
        )
        assert assessment["grade"]["code"] == grade
        appealed = set(plan.facts["appeal_revoked"]) | set(plan.facts["appeal_changed"])
        dismissed = next(results[cadre]["cadre_id"] for case, cadre, handling
                         in plan.facts["handled"] if handling == "dismissal"
                         and case not in appealed)  # fmt: skip
        wait_for(lambda: rpc.cadre_registry.get_cadre({"cadre_id": dismissed})["status"]["code"]
                 == "dismissed")  # fmt: skip
        letters = rpc.inspections.list_rectification_letters({"status": "accepted"})
        assert letters["total"] == sum(1 for _, accepted in plan.facts["letters"] if accepted)

        before = settled(database)
        again = loader.load(plan)
        assert again == results  # every command answered with its first result
        assert settled(database) == before  # and nothing recorded
        assert rpc.accountability.list_cases({})["total"] == cases["total"]

        # letters left without an accepted report become overdue by the service's today,
        # and those naming a task open a case against its owner: an inspections service
        # whose deadline check runs often
        overdue = plan.letters_overdue_on(clock.date)
        config = {**rabbit_config, "INSPECTIONS_DEADLINE_CHECK_SECONDS": 0.2,
                  "EVENTSOURCING": {"MONGODB_URI": mongodb_uri,
                                    "MONGODB_DATABASE": database.name,
                                    "EVALUATIONS_RATER_KEY": RATER_KEY}}  # fmt: skip
        checker = container_factory(InspectionsService, config)
        replace_dependencies(checker, clock=clock)
        checker.start()
        try:
            wait_for(lambda: rpc.inspections.list_rectification_letters({"overdue": True})
                     ["total"] == overdue)  # fmt: skip
            wait_for(lambda: rpc.accountability.list_cases({"basis": "overdue_letter"})["total"])
            # the key work's milestones left unmet open cases against their owners, and the
            # tasks whose every target was met on time propose commendations
            fates = [fate for _, fate in plan.facts["key_work_fates"]]
            unmet = sum(f in ("milestone_missed", "disputed") for f in fates)
            wait_for(lambda: rpc.accountability.list_cases({"basis": "overdue_milestone"})
                     ["total"] == unmet)  # fmt: skip
            met = sum(f in ("on_time", "milestone_missed", "disputed") for f in fates)

            def proposed() -> int:
                listed = rpc.accountability.list_commendations({"page_size": 500})
                return sum(c["rule"] == "targets_met_on_time_commendation"
                           for c in listed["commendations"])  # fmt: skip

            wait_for(lambda: proposed() == met)
        finally:
            checker.kill()
