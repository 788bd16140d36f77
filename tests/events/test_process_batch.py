"""A policy deciding a batch of upstream events in one transaction (``CommandApplication
.process``), on SecantusDB: each decision sees what the ones before it in the batch
changed, effects keep the log's order and each is followed by its own command record, a
refusal in the middle is recorded alone between the batches around it, and every event is
decided exactly once."""

from __future__ import annotations

from datetime import date
from uuid import UUID, uuid4, uuid5

from eventsourcing.domain import Aggregate, event

from events.log.published import RECORD_TOPIC, LogReader
from schemas.errors import RuleViolation
from tests.events.test_process import applications
from tests.services.support import ACTOR

__all__ = ["applications"]  # the fixture, imported
TALLY = uuid5(UUID(int=0), "tally")


class Tally(Aggregate):
    """What the test's policy saw, in the order it saw it."""

    @event("Opened")
    def __init__(self) -> None:
        self.seen: list[str] = []

    @event("Saw")
    def saw(self, description: str) -> None:
        self.seen.append(description)

    @classmethod
    def create_id(cls) -> UUID:
        return TALLY


def test_a_batch_sees_its_own_changes_keeps_order_and_decides_each_once(applications) -> None:
    inspections, accountability = applications
    team = [{"name": "李纪检", "role": "commission"}]
    visit = UUID(inspections.open_inspection(
        {"command_id": uuid4(), "actor": ACTOR, "kind": "supervision_check", "title": "督查",
         "started_on": date(2026, 5, 1), "team": team}
    )["inspection_id"])  # fmt: skip
    situations = ["no_drive", "procrastination", "superficial", "careerism", "extravagance",
                  "absent_from_post"]  # fmt: skip
    for situation in situations:
        inspections.record_finding(
            {"command_id": uuid4(), "actor": ACTOR, "inspection_id": visit, "unit_id": uuid4(),
             "cadre_id": None, "situation": situation, "cadre_type": None,
             "description": "x", "evidence": [], "typical": False,
             "found_on": date(2026, 5, 2)}
        )  # fmt: skip

    def decide(upstream):
        situation = upstream["data"]["situation"]
        tally = accountability.find(TALLY, Tally) or Tally()
        tally.saw(situation)
        if situation == "careerism":
            raise RuleViolation("test.refused", "refused after changing the tally")
        return [tally], {"saw": situation}

    def doorbell(position: int | None) -> int:
        event = {"source": "inspections", "type": "finding_recorded", "position": position}
        return accountability.process(event, "tally", ["finding_recorded"], decide)

    assert doorbell(3) == 6, "a batch goes on to the log's head"
    assert doorbell(None) == 0 and doorbell(3) == 0
    tally = accountability.repository.get(TALLY)
    assert tally.seen == [s for s in situations if s != "careerism"], (
        "the refused decision's change is not kept"
    )

    log = list(accountability.recorder.events.find({}, sort=[("position", 1)]))
    topics = [d["topic"].rpartition(".")[2] for d in log]
    assert topics == ["Opened", "Saw", "Recorded", "Saw", "Recorded", "Saw", "Recorded",
                      "Recorded", "Saw", "Recorded", "Saw", "Recorded"]  # fmt: skip
    tallied = {d["recorded_at"] for d in log if d["topic"].endswith("Tally.Saw")}
    assert len(tallied) <= 2, "the events before and after the refusal: an append each"

    reader = LogReader(accountability.factory.datastore, "accountability")
    records = [n for n in reader.recorder.select_notifications(1, 100) if n.topic == RECORD_TOPIC]
    causes = reader._causes(reader.recorder.select_notifications(1, 100))
    results = [reader.transcoder.decode(r.state) for r in records]
    assert len({str(r["cause"]["causation_id"]) for r in results}) == len(records) == 6
    saw = [d["position"] for d in log if d["topic"].endswith("Tally.Saw")]
    assert all(position in causes for position in saw)
    results = [r["result"] for r in results]
    assert [r.get("saw", "-") for r in results] == [*situations[:3], "-", *situations[4:]]
    assert "refused after changing the tally" in results[3]["refused"]
    key = "tally<inspections_events"
    assert (
        accountability.recorder.max_tracking_id(key) == inspections.recorder.max_notification_id()
    )
