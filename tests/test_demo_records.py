"""The demo year through all five services: the public records and personnel files have
something real to show, and an auditor follows a case's whole causal chain in a cadre's
history (issues 6 and 7)."""

from __future__ import annotations

from datetime import date

import pytest

from events.audit.history import describe, history
from services.accountability.service import AccountabilityService
from services.cadre_registry.service import CadreRegistryService
from services.evaluations.service import EvaluationsService
from services.inspections.service import InspectionsService
from services.records.service import RecordsService
from tests.services.support import FixedClock, running_services
from tests.services.test_inspections_rpc import wait_for
from youwei import demo

pytestmark = pytest.mark.nameko
SERVICES = [CadreRegistryService, EvaluationsService, InspectionsService, AccountabilityService,
            RecordsService]  # fmt: skip


def test_the_demo_year_fills_the_records_and_its_history_shows_causes(
    container_factory, rabbit_config, mongodb_uri
) -> None:
    plan = demo.plan_year(seed=11, scale=0.03)
    with running_services(
        SERVICES, container_factory, rabbit_config, mongodb_uri,
        clock=FixedClock(date(2026, 6, 30)),  # after every day the year (2025) names
        EVENT_RETRY_DELAYS=[0.2, 0.5], PROJECTIONS_POLL_SECONDS=0.2,
    ) as (rpc, database):  # fmt: skip
        results = demo.Loader(rabbit_config["AMQP_URI"], workers=4, patience=60).load(plan)
        appealed = set(plan.facts["appeal_revoked"]) | set(plan.facts["appeal_changed"])
        case_key, cadre_key = next((case, cadre) for case, cadre, handling
                                   in plan.facts["handled"] if handling == "dismissal"
                                   and case not in appealed
                                   and case in plan.facts["cases_by_policy"])  # fmt: skip
        cadre = results[cadre_key]["cadre_id"]
        wait_for(lambda: rpc.cadre_registry.get_cadre({"cadre_id": cadre})["status"]["code"]
                 == "dismissed")  # fmt: skip

        published = wait_for(lambda: (p := rpc.records.public_records({"page_size": 200}))
                             ["total"] and p)  # fmt: skip
        assert all(r["cadre_name"] and r["decision"] for r in published["records"])
        # every commendation the small year publishes is on the honour roll (docs/audit.md's
        # citizen takes an honour's proof)
        honours = len(plan.commands("publish_commendation"))
        assert honours and wait_for(lambda: rpc.records.honour_roll({})["total"] == honours)
        file = rpc.records.personnel_file({"cadre_id": cadre, "as_of": "2026-12-31"})
        assert file["posting"]["status"]["code"] == "dismissed"
        assert {"dismissal_no_leading_post", "dismissal_not_above_former_level"} <= {
            r["rule"] for r in file["restrictions"] if r["in_force"]
        }
        assert not file["eligible_for_promotion"]["eligible"]

        events = history(database, cadre)
        by_id = {e["event_id"]: e for e in events}
        [dismissed] = [e for e in events if e["type"] == "cadre_dismissed"]
        decided = by_id[dismissed["caused_by_event"]]  # the registry applied a decision…
        assert decided["type"] == "case_decided" and decided["command"] == "decide_handling"
        assert decided["originator_id"] == results[case_key]["case_id"]
        assert dismissed["correlation_id"] == decided["correlation_id"]  # one chain
        [opened] = [e for e in events if e["type"] == "case_opened"
                    and e["originator_id"] == decided["originator_id"]]  # fmt: skip
        assert case_key in plan.facts["cases_by_policy"]  # …on a case a policy opened
        cause = by_id[opened["caused_by_event"]]
        assert cause["type"] == "finding_recorded" and cause["source"] == "inspections"
        assert cause["correlation_id"] == opened["correlation_id"]
        assert opened["agency"] == "youwei Accountability"
        assert any("cadre_dismissed" in line and "← case_decided" in line
                   for line in describe(events))  # fmt: skip
