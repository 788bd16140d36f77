"""Property: over real RabbitMQ and SecantusDB, with the five services running, every mutant
of every documented method's payload (tests/services/fuzz.py) gets a success or one of the
documented errors (schemas/errors.py), never anything else; afterwards every service still
answers and every log's chain verifies.

The mutants are well-formed RPC requests (through nameko's proxy, as ``guest``: the
local_development role): one object as the argument, in a body that is JSON (no NaN),
within the size and depth rpc-wire.md allows. What is not well-formed (a list, NaN, a body
over 1 MiB, no ``user_id``) is tests/services/test_hostile_messages.py's."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nameko.exceptions import RemoteError

from events.audit.verify import logs, verify_log
from schemas.errors import EXPECTED, MAX_ERRORS
from tests.scenario import TEAM, wait_for
from tests.services.fuzz import METHODS, SERVICES, examples, mutants
from tests.services.support import FixedClock, command, running_services

pytestmark = pytest.mark.nameko
TODAY = date(2026, 6, 1)
DOCUMENTED = {error.__name__ for error in EXPECTED}


@pytest.fixture(scope="module")
def stack(container_factory_module, rabbit_config_module, mongodb_uri, web_port):
    with running_services(
        SERVICES, container_factory_module, rabbit_config_module, mongodb_uri,
        clock=FixedClock(TODAY), PROJECTIONS_POLL_SECONDS=0.2,
        WEB_SERVER_ADDRESS=f"127.0.0.1:{web_port}",
    ) as (rpc, database):  # fmt: skip
        yield rpc, database, seed(rpc)


def seed(rpc) -> list[str]:
    """A unit, a cadre, an inspection, a finding, a rectification letter, a reform effort
    and the major decision that started it, the case the finding opens with a decision: ids
    for the mutants to name, so that some reach the domain."""
    day = TODAY.isoformat()
    unit = rpc.cadre_registry.register_unit(command(name="市政务服务中心"))["unit_id"]
    cadre = rpc.cadre_registry.register_cadre(
        command(name="测试干部", gender="female", birth_date="1980-05-06", unit_id=unit,
                post="副主任", rank="county_division", post_kind="leadership",
                effective_date="2025-01-01")
    )["cadre_id"]  # fmt: skip
    inspection = rpc.inspections.open_inspection(
        command(kind="undercover_visit", title="窗口暗访", started_on=day, team=TEAM)
    )["inspection_id"]
    finding = rpc.inspections.record_finding(
        command(inspection_id=inspection, unit_id=unit, cadre_id=cadre,
                situation="absent_from_post", description="上班时间窗口无人", found_on=day)
    )["finding_id"]  # fmt: skip
    letter = rpc.inspections.issue_rectification_letter(
        command(unit_id=unit, finding_ids=[finding], requirements="整改", issued_on=day,
                deadline="2026-07-01")
    )["letter_id"]  # fmt: skip
    cases = wait_for(lambda: rpc.accountability.list_cases({"cadre_id": cadre})["cases"],
                     what="the case the finding opens")  # fmt: skip
    case = cases[0]["case_id"]
    rpc.accountability.impose_measure(
        command(case_id=case, measure="admonishment", reason="离岗", decided_on=day)
    )
    decision = rpc.accountability.get_case({"case_id": case})["decisions"][0]["decision_id"]
    # a reform effort and the major decision that started it, for tolerance for reform
    effort = rpc.accountability.register_reform_effort(
        command(unit_id=unit, title="审批改革", risk_assessment="可控", risk_level="low",
                participants=[cadre], registered_on="2026-01-05", starts_on="2026-01-05")
    )["reform_effort_id"]  # fmt: skip
    steps = ("risk_assessment", "legality_review", "collective_deliberation")
    started = rpc.inspections.record_major_decision(
        command(title="关于审批改革的决定", decided_on="2026-01-04", reform_effort_ids=[effort],
                procedure=[{"step": step, "done_on": "2026-01-03"} for step in steps])
    )["decision_id"]  # fmt: skip
    return [unit, cadre, inspection, finding, letter, effort, started, case, decision]


def test_every_mutant_gets_a_documented_reply_and_nothing_breaks(stack) -> None:
    rpc, database, known = stack
    ids = st.sampled_from(known) | st.uuids().map(str)
    replies: Counter = Counter()

    @settings(
        max_examples=examples(),
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(method=st.sampled_from(sorted(METHODS)), data=st.data())
    def reply_is_documented(method, data) -> None:
        service, name = method
        payload = data.draw(mutants(METHODS[method], ids, root=False, wire=True), label="payload")
        try:
            getattr(getattr(rpc, service), name)(payload)
        except RemoteError as error:
            assert error.exc_type in DOCUMENTED, (method, error.exc_type, str(error)[:1000])
            if error.exc_type == "InvalidCommand":
                reasons = json.loads(error.value)
                assert reasons and len(error.value) < 50_000, error.value[:1000]
                assert len(json.dumps(reasons)) < 50_000 and len(reasons) <= MAX_ERRORS + 1
            replies[error.exc_type] += 1
        else:
            replies["success"] += 1

    reply_is_documented()
    print("replies:", dict(replies))
    assert replies["InvalidCommand"] and len(replies) >= 3, replies

    unit, cadre, inspection, *_, case, _ = known
    assert rpc.cadre_registry.get_unit({"unit_id": unit})["unit_id"] == unit
    assert rpc.evaluations.ratings_summary({"cadre_id": cadre, "period": "2026"})
    assert rpc.inspections.get_inspection({"inspection_id": inspection})
    assert rpc.accountability.get_case({"case_id": case})["case_id"] == case
    assert rpc.records.projections_status({})
    verdicts = [verify_log(database, log) for log in logs(database)]
    assert len(verdicts) == 5 and all(v.ok for v in verdicts), verdicts
