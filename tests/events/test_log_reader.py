"""``LogReader`` reads a log in pages, each with a few positions past its end so that the
command record ending the page's last append (where its events' causes are) mostly comes in
the same read. Whatever the pages, every event carries the id of the command that appended
it, however long that append."""

from __future__ import annotations

from unittest import mock
from uuid import uuid4

from bench.rebuild import Log
from events.log import published
from events.log.published import LogReader
from tests.events.support import FreshDatabase

UNIT = "services.cadre_registry.domain:Unit.Registered"


class TestPages(FreshDatabase):
    def test_every_event_has_its_commands_id_whatever_the_pages(self) -> None:
        log = Log(self.factory.datastore, "cadre_registry")
        sizes = [1, 2, 40, 1, 3, 25, 1]  # appends of these many events, each with its record
        for size in sizes:
            log.command(*[(uuid4(), UNIT, {"name": "单位", "parent_id": None})] * size)
        log.flush()
        reader = LogReader(self.factory.datastore, "cadre_registry")
        expected = {}
        for record in self.factory.datastore.collection("cadreregistry_events").find(
            {"topic": published.RECORD_TOPIC}
        ):
            state = published.plain_state(record["state"])
            for position in range(record["position"] - state["events"], record["position"]):
                expected[position] = state["command_id"]
        assert len(expected) == sum(sizes)
        for batch, ahead in ((500, 16), (7, 3), (5, 0), (1, 1), (13, 40)):
            with (
                mock.patch.object(published, "BATCH", batch),
                mock.patch.object(published, "AHEAD", ahead),
            ):
                events = list(reader.public_events(0, reader.head()))
            assert {e["position"]: e["causation_id"] for e in events} == expected, (batch, ahead)
            some = list(reader.public_events(10, 60))
            assert [e["position"] for e in some] == [p for p in sorted(expected) if 10 < p <= 60]
