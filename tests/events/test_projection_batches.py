"""A projection applies a batch of events in memory: documents loaded once, the events folded
into them, written back in one bulk write per collection. Whatever the batches, the documents
are those of applying the events one at a time."""

from __future__ import annotations

import itertools
from typing import Any
from unittest import mock
from uuid import uuid4

from bench.rebuild import write_city
from events.readmodels import projections
from events.readmodels.projections import Batch, Generation, Projector, documents
from services.records.projections import PersonnelFiles, PublicRecords, public_record_id
from tests.events.support import FreshDatabase

POSITIONS = itertools.count(1)


def event(source: str, type_: str, originator: str, **data: Any) -> dict[str, Any]:
    position = next(POSITIONS)
    return {"type": type_, "source": source, "log": f"{source}_events", "position": position,
            "event_id": str(uuid4()), "originator_id": originator, "originator_version": 1,
            "timestamp": "2026-03-01T00:00:00+00:00", "correlation_id": None,
            "causation_id": None, "data": data}  # fmt: skip


def a_case_year() -> tuple[list[dict[str, Any]], dict[str, str]]:
    """A unit, two cadres, a finding each, a case each decided and published; the second
    dismissal is revoked on appeal; one cadre is erased."""
    ids = {name: str(uuid4()) for name in ("unit", "li", "wang", "f1", "f2", "c1", "c2", "d1",
                                            "d2", "p1", "p2")}  # fmt: skip
    events = [event("cadre_registry", "unit_registered", ids["unit"], name="民政局")]
    for cadre, finding, case, decision, publication in (
        ("li", "f1", "c1", "d1", "p1"),
        ("wang", "f2", "c2", "d2", "p2"),
    ):
        events += [
            event("cadre_registry", "cadre_registered", ids[cadre], name=cadre, unit_id=ids["unit"],
                  post="科长", effective_date="2025-01-01"),
            event("evaluations", "assessment_concluded", str(uuid4()), cadre_id=ids[cadre],
                  year=2025, outcome={"grade": "competent"}),
            event("inspections", "finding_recorded", ids[finding], cadre_id=ids[cadre],
                  situation="no_drive", found_on="2026-01-05"),
            event("accountability", "case_opened", ids[case], cadre_id=ids[cadre],
                  basis=[{"kind": "finding", "finding_id": ids[finding]}], opened_on="2026-01-06"),
            event("accountability", "case_decided", ids[case], cadre_id=ids[cadre],
                  decision_id=ids[decision], decision_type="handling", kind="dismissal",
                  form=None, decided_on="2026-01-20"),
            event("accountability", "case_published", ids[case], publication_id=ids[publication],
                  decision_ids=[ids[decision]], summary="免职", published_on="2026-01-25"),
        ]  # fmt: skip
    events += [
        event("accountability", "case_appeal_decided", ids["c2"], cadre_id=ids["wang"],
              decision_id=ids["d2"], outcome="revoked", decided_on="2026-02-10"),
        event("cadre_registry", "cadre_personal_data_erased", ids["li"], erased_on="2026-02-20"),
    ]  # fmt: skip
    return events, ids


class TestBatches(FreshDatabase):
    def generation(self, projection, number: int) -> Generation:
        generation = Generation(self.factory.datastore, projection, number)
        generation.create(projection)
        return generation

    def one_at_a_time(self, projection, events) -> dict[str, list]:
        generation = self.generation(projection, 1)
        for each in events:
            self.factory.datastore.transaction(
                lambda session, e=each: projection.apply(e, generation.db, session)
            )
        return documents(generation)

    def in_batches(self, projection, events, size: int, number: int) -> dict[str, list]:
        generation = self.generation(projection, number)
        for start in range(0, len(events), size):
            batch = events[start : start + size]
            self.factory.datastore.transaction(
                lambda session, b=batch: projection.apply_batch(b, generation.db, session)
            )
        return documents(generation)

    def test_a_batch_touching_a_document_many_times_gives_the_documents_of_one_at_a_time(
        self,
    ) -> None:
        events, ids = a_case_year()
        for projection in (PublicRecords(), PersonnelFiles()):
            expected = self.one_at_a_time(projection, events)
            for number, size in enumerate((len(events), 5, 2), start=2):
                got = self.in_batches(projection, events, size, number)
                assert got == expected, (projection.name, size)
        # the whole year in one batch: the joins read what the batch itself wrote
        [record] = expected_records = self.in_batches(PublicRecords(), events, len(events), 9)[
            "records"
        ]
        assert expected_records and record["_id"] == public_record_id(ids["p1"], ids["d1"])
        assert record["unit"] == "民政局" and record["situation"] == "no_drive"
        assert record["cadre_name"] is None and record["summary"] is None  # erased
        files = {f["_id"]: f for f in self.in_batches(PersonnelFiles(), events, 100, 10)["files"]}
        li = files[ids["li"]]
        assert [e["type"] for e in li["events"]["accountability"]] == [
            "case_opened", "case_decided", "case_published"]  # fmt: skip
        assert li["name"] is None and li["events"]["cadre_registry"][0]["data"]["name"] is None
        assert files[ids["wang"]]["events"]["cadre_registry"][0]["data"]["name"] == "wang"

    def test_a_batch_finds_its_own_changes_and_the_stored_documents(self) -> None:
        db = self.generation(PublicRecords(), 1).db
        db["records"].insert_many([
            {"_id": "r1", "cadre_id": "a", "finding_ids": ["f1", "f2"]},
            {"_id": "r2", "cadre_id": "b", "finding_ids": ["f2"]},
        ])  # fmt: skip
        batch = Batch(db, None)
        assert sorted(r["_id"] for r in batch.find("records", "finding_ids", "f2")) == ["r1", "r2"]
        moved = batch.get("records", "r1")
        moved["cadre_id"] = "b"
        batch.put("records", moved)
        batch.put("records", {"_id": "r3", "cadre_id": "b", "finding_ids": []})
        batch.delete("records", "r2")
        assert sorted(r["_id"] for r in batch.find("records", "cadre_id", "b")) == ["r1", "r3"]
        assert batch.find("records", "cadre_id", "a") == []
        assert batch.get("records", "nowhere") is None
        batch.write()
        assert sorted(db["records"].find(), key=lambda d: d["_id"]) == [
            {"_id": "r1", "cadre_id": "b", "finding_ids": ["f1", "f2"]},
            {"_id": "r3", "cadre_id": "b", "finding_ids": []},
        ]


class TestProjectorBatches(FreshDatabase):
    def test_batches_across_the_logs_give_the_documents_of_one_event_at_a_time(self) -> None:
        """A synthetic city's logs, applied in batches of every size spanning the logs, and
        event by event, log after log, give the same documents."""
        datastore = self.factory.datastore
        write_city(datastore, 400, lambda _: None)
        for projection in (PersonnelFiles(), PublicRecords()):
            projector = Projector(datastore, projection)
            heads = projector.heads()
            expected = Generation(datastore, projection, 100)
            expected.create(projection)
            for source, reader in projector.readers.items():
                for each in reader.public_events(0, heads[source]):
                    datastore.transaction(
                        lambda session, e=each, p=projection, g=expected: p.apply(e, g.db, session)
                    )
            for size in (7, 60, projections.BATCH):
                with mock.patch.object(projections, "BATCH", size):
                    rebuilt = projector.rebuild()
                assert projector.positions(rebuilt) == heads
                assert documents(rebuilt) == documents(expected), (projection.name, size)
                assert documents(rebuilt)["files" if projection.name == "personnel" else "records"]

    def test_a_rebuild_makes_its_query_indexes_once_caught_up_and_goes_live_with_them(
        self,
    ) -> None:
        """The page's filters cost every record written: a rebuild writes without them and
        makes them before its generation goes live."""
        datastore = self.factory.datastore
        write_city(datastore, 200, lambda _: None)
        projection = PublicRecords()
        projector = Projector(datastore, projection)

        def indexed(generation: Generation) -> set[str]:
            return {n for c in generation.db.values() for n in c.index_information()}

        query = {f"{keys[0]}_1" for indexes in projection.query_indexes.values()
                 for keys in indexes}  # fmt: skip
        assert query <= indexed(projector.live())  # a first generation is made with them
        during: list[set[str]] = []

        def progress(_: int) -> None:
            pointer = datastore.collection(projections.POINTERS).find_one({"_id": "public"})
            building = Generation(datastore, projection, pointer["last_generation"])
            during.append(indexed(building))

        rebuilt = projector.rebuild(progress=progress)
        assert during and all(not (query & names) for names in during)
        assert projector.live().number == rebuilt.number
        assert query <= indexed(rebuilt)
