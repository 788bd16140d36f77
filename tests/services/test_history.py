"""``youwei audit history`` is everything about a cadre: besides the events that name them,
the later events of every record that did (their finding's exposure, the evaluations
service's record of their measures and its revocation on appeal, their case)."""

from __future__ import annotations

from datetime import date

import pytest

from events.audit.history import history
from services.accountability.service import AccountabilityService
from services.cadre_registry.service import CadreRegistryService
from services.evaluations.service import EvaluationsService
from services.inspections.service import InspectionsService
from tests.services.support import FixedClock, command, running_services
from tests.services.test_inspections_rpc import TEAM, wait_for
from tests.services.test_records import case_on_finding, register

pytestmark = pytest.mark.nameko
SERVICES = [CadreRegistryService, EvaluationsService, InspectionsService, AccountabilityService]


def test_a_cadres_history_follows_every_record_that_named_them(
    container_factory, rabbit_config, mongodb_uri
) -> None:
    clock = FixedClock(date(2026, 3, 10))
    with running_services(
        SERVICES, container_factory, rabbit_config, mongodb_uri, clock=clock,
        EVENT_RETRY_DELAYS=[0.2, 0.5],
    ) as (rpc, database):  # fmt: skip
        hall = rpc.cadre_registry.register_unit(command(name="市政务服务中心"))["unit_id"]
        zhou = register(rpc, "周平", hall, "主任")
        other = register(rpc, "吴敏", hall, "副主任")
        visit = rpc.inspections.open_inspection(
            command(kind="undercover_visit", title="窗口暗访", started_on="2026-03-02", team=TEAM)
        )["inspection_id"]
        case = case_on_finding(rpc, visit, hall, zhou, "absent_from_post", "2026-03-02")
        case_on_finding(rpc, visit, hall, other, "no_drive", "2026-03-03")
        [finding] = rpc.accountability.get_case({"case_id": case})["basis"]
        clock.date = date(2026, 3, 20)  # the cases were opened on 2026-03-10
        rpc.inspections.expose_finding(
            command(finding_id=finding["finding_id"], exposure="media", exposed_on="2026-03-05")
        )
        decision = rpc.accountability.impose_measure(
            command(case_id=case, measure="admonishment", reason="上班时间离岗",
                    decided_on="2026-03-11")
        )["decision_id"]  # fmt: skip
        rpc.accountability.file_appeal(
            command(case_id=case, decision_id=decision, grounds="事实不清", filed_on="2026-03-12")
        )
        rpc.accountability.decide_appeal(
            command(case_id=case, decision_id=decision, outcome="revoked", reason="事实不清",
                    decided_on="2026-03-13")
        )  # fmt: skip

        def evaluations_kinds() -> list[str]:
            return [e["type"] for e in history(database, zhou) if e["source"] == "evaluations"]

        # the evaluations service records the measure, then its revocation (why the grade
        # of 2026 is no longer capped), in events that name only the decision
        kinds = wait_for(lambda: len(evaluations_kinds()) >= 3 and evaluations_kinds())
        assert any(kind.endswith("_revoked") for kind in kinds), kinds
        events = history(database, zhou)
        kinds = [e["type"] for e in events]
        assert "finding_exposed" in kinds, kinds
        for kind in ("finding_recorded", "case_opened", "case_decided", "case_appeal_decided"):
            assert kind in kinds, kind
        # and nothing of the other cadre's finding or case
        leaked = [(e["type"], e["data"]) for e in events if other in str(e["data"])]
        assert not leaked, leaked
        assert kinds.count("finding_recorded") == 1 and kinds.count("case_opened") == 1
