"""A policy applied through ``CommandApplication.process``, on SecantusDB without a bus:
the message is only the doorbell; the events before it are read from the log (a gap), a
repeat or an older message does nothing, and each effect records its cause."""

from __future__ import annotations

import os
from datetime import date
from uuid import UUID, uuid4

import pytest

from services.accountability.application import Accountability
from services.inspections.application import Inspections
from tests.events.support import fresh_database_name
from tests.services.support import ACTOR


@pytest.fixture
def applications(mongodb_uri):
    env = {"PERSISTENCE_MODULE": "events.mongodb", "MONGODB_URI": os.environ["MONGODB_URI"],
           "MONGODB_DATABASE": fresh_database_name()}  # fmt: skip
    inspections, accountability = Inspections(env=env), Accountability(env=env)
    yield inspections, accountability
    inspections.factory.datastore.client.drop_database(env["MONGODB_DATABASE"])
    inspections.close()
    accountability.close()


def test_the_doorbell_of_the_last_event_applies_the_gap_before_it_once(applications) -> None:
    inspections, accountability = applications
    team = [{"name": "李纪检", "role": "commission"}]
    visit = UUID(inspections.open_inspection(
        {"command_id": uuid4(), "actor": ACTOR, "kind": "supervision_check", "title": "督查",
         "started_on": date(2026, 5, 1), "team": team}
    )["inspection_id"])  # fmt: skip
    commands = [uuid4() for _ in range(5)]
    for n, command_id in enumerate(commands):
        inspections.record_finding(
            {"command_id": command_id, "actor": ACTOR, "inspection_id": visit,
             "unit_id": uuid4(), "cadre_id": uuid4() if n != 2 else None,
             "situation": "no_drive", "cadre_type": None, "description": "x", "evidence": [],
             "typical": False, "found_on": date(2026, 5, 2)}
        )  # fmt: skip
    last = inspections.recorder.max_notification_id() - 1  # the last finding (then its record)

    def doorbell(position: int | None) -> int:
        event = {"source": "inspections", "type": "finding_recorded", "position": position}
        return accountability.process(
            event, "case_for_finding", ["finding_recorded"],
            lambda upstream: accountability.case_for_finding(upstream, date(2026, 5, 3)),
        )  # fmt: skip

    assert doorbell(last) == 5, "every finding up to the doorbell, one about a unit (refused)"
    assert doorbell(last) == 0 and doorbell(3) == 0 and doorbell(None) == 0
    assert accountability.list_cases({"page": 1, "page_size": 50})["total"] == 4

    records = [
        accountability.repository.get(n.originator_id)
        for n in accountability.recorder.select_notifications(1, 100)
        if n.topic.endswith("CommandRecord.Recorded")
    ]
    assert len(records) == 5 and all(r.command == "case_for_finding" for r in records)
    assert sorted(r.cause["correlation_id"] for r in records) == sorted(map(str, commands))
    assert sum("refused" in r.result or "ignored" in r.result for r in records) == 1
