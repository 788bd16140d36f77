"""Fault tolerance follows the decision (容错免责, DOMAIN.md; issue 27 item 6) over real
RabbitMQ and SecantusDB: the accountability service asks the inspections service about the
major decision an exemption names; each condition not met is refused by its rule, which
names it, and records nothing; the exemption granted shows its rules version."""

from __future__ import annotations

import pytest
from nameko.exceptions import RemoteError

from tests.services.support import command, invalid_fields
from tests.services.test_accountability_rpc import (
    FOLLOWED,
    LOG,
    NOWHERE,
    STATED,
    city,
    clock,
    cluster,
    open_case,
    started_by_decision,
)

pytestmark = pytest.mark.nameko
__all__ = ["city", "clock", "cluster"]  # the fixtures, imported


def test_an_exemption_needs_a_decision_that_followed_its_procedure(cluster, city) -> None:
    rpc, database = cluster
    effort = rpc.accountability.register_reform_effort(
        command(unit_id=city["unit"], title="“最多跑一次”审批改革", risk_assessment="风险可控",
                risk_level="medium", participants=[city["cadre"]], registered_on="2026-03-01",
                starts_on="2026-03-01")
    )["reform_effort_id"]  # fmt: skip
    followed = started_by_decision(rpc, effort)
    # the legality review came after the decision: not followed
    late_review = [*FOLLOWED[:2], {"step": "legality_review", "done_on": "2026-03-05"}]
    skipped = started_by_decision(rpc, effort, late_review)
    unrelated = started_by_decision(rpc, effort, reform_effort_ids=[])
    after = started_by_decision(rpc, effort, decided_on="2026-05-07")  # after the mistake
    case = open_case(rpc, city["cadre"], [{"kind": "report", "reference": "举报"}])

    def grant(**fields) -> dict:
        base = {"case_id": case, "reform_effort_id": effort, "outcome": "exempted",
                "reasons": "改革探索中的失误", "granted_on": "2026-05-20",
                "decision_id": followed, **STATED}  # fmt: skip
        payload = {k: v for k, v in {**base, **fields}.items() if v is not ...}
        return rpc.accountability.grant_exemption(command(**payload))

    stored = database[LOG].count_documents({})
    for fields, rule in [
        ({"decision_id": ...}, "exemption_decision_started_effort"),
        ({"decision_id": unrelated}, "exemption_decision_started_effort"),
        ({"decision_id": after}, "exemption_decision_before_mistake"),
        ({"decision_id": skipped}, "exemption_procedure_followed"),
        ({"no_personal_gain": ...}, "exemption_no_personal_gain"),
        ({"no_prohibition_broken": {"holds": False, "basis": "违规发放补贴"}},
         "exemption_no_prohibition_broken"),
    ]:  # fmt: skip
        with pytest.raises(RemoteError) as error:
            grant(**fields)
        assert error.value.exc_type == "RuleViolation"
        assert error.value.value.startswith(f"accountability.{rule}:"), error.value.value
    with pytest.raises(RemoteError) as error:
        grant(decision_id=NOWHERE)
    assert "decision_id" in invalid_fields(error.value)
    with pytest.raises(RemoteError) as error:
        grant(no_personal_gain={"holds": "yes", "basis": "x"})
    assert "no_personal_gain" in invalid_fields(error.value)
    assert database[LOG].count_documents({}) == stored  # refusals record nothing
    assert rpc.accountability.get_case({"case_id": case})["exemption"] is None

    exemption = grant()["case"]["exemption"]
    assert (exemption["decision_id"], exemption["rules_version"]) == (followed, "2026.2")
    assert exemption["no_prohibition_broken"] == STATED["no_prohibition_broken"]
    assert "三个区分开来" in exemption["rules_source"]
    shown = rpc.accountability.get_case({"case_id": case})
    assert shown["exemption"] == exemption
