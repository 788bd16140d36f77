"""Rebuild rate of the records service's projections, as a ratio to a raw scan of the same
logs in the same run (timings on a shared machine are noisy; ratios much less so), and the
peak of Python memory a rebuild allocates, as the logs grow.

    .venv/bin/python -m bench.rebuild [--sizes 10000,30000,100000,200000]

Starts a SecantusDB server of its own on a free port; for each size, writes a synthetic city
of that many log positions into the four logs through their recorders (hash chain and
positions as in production): units and cadres, findings, cases opened, decided and
published, assessments, each command's events followed by its command record. Then it
times, over the same logs: a raw scan (pymongo, every document in position order, nothing
decoded), a read of the public events (``LogReader``: decode, published fields, causes), and
``Projector.rebuild`` of each projection (read, fold, write, with the logs' tracking records
in each batch's transaction); then rebuilds each once more under ``tracemalloc`` for its
peak (flat means it does not grow with the logs). Nothing is asserted; it prints a table.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from uuid import UUID, uuid4

import click
from eventsourcing.persistence import StoredEvent

from bench.measuring import peak_kib, timed
from bench.scratch import scratch_datastore
from events.log.datastore import MongoDBDatastore
from events.log.published import RECORD_TOPIC, LogReader
from events.log.recorders import MongoDBApplicationRecorder
from events.log.transcoding import transcoder
from events.readmodels.projections import Projector
from schemas.events import LOGS
from schemas.inspections.reference import SITUATIONS
from services.records.projections import PersonnelFiles, PublicRecords

CODER = transcoder()
NOW = datetime(2026, 6, 1, tzinfo=UTC)


class Log:
    """Appends commands (events + their command record) to one service's log in batches."""

    def __init__(self, datastore: MongoDBDatastore, source: str) -> None:
        self.recorder = MongoDBApplicationRecorder(datastore, LOGS[source])
        self.recorder.create_table()
        self.pending: list[StoredEvent] = []
        self.versions: dict[UUID, int] = {}
        self.count = 0

    def command(self, *events: tuple[UUID, str, dict]) -> None:
        for originator, topic, state in events:
            body = {"timestamp": NOW, "originator_topic": topic, **state}
            version = self.versions[originator] = self.versions.get(originator, 0) + 1
            self.pending.append(StoredEvent(originator, version, topic, CODER.encode(body)))
        record = {"timestamp": NOW, "command_id": uuid4(), "events": len(events), "cause": None}
        self.pending.append(StoredEvent(uuid4(), 1, RECORD_TOPIC, CODER.encode(record)))
        if len(self.pending) >= 1000:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.recorder.insert_events(self.pending)
            self.count += len(self.pending)
            self.pending = []


def write_city(datastore: MongoDBDatastore, total: int, progress) -> int:
    logs = {source: Log(datastore, source) for source in LOGS}
    shuffle = random.Random(7)
    units = [uuid4() for _ in range(50)]
    for unit in units:
        state = {"name": "单位", "parent_id": None}
        logs["cadre_registry"].command(
            (unit, "services.cadre_registry.domain:Unit.Registered", state)
        )
    cadres: list[UUID] = []
    situations = sorted(SITUATIONS)

    def written() -> int:
        return sum(log.count + len(log.pending) for log in logs.values())

    while written() < total:
        before = written()
        cadre, unit = uuid4(), shuffle.choice(units)
        cadres.append(cadre)
        logs["cadre_registry"].command((cadre, "services.cadre_registry.domain:Cadre.Registered", {
            "name": "干部", "unit_id": unit, "post": "科长", "rank": "township_section",
            "post_kind": "leadership", "effective_date": "2025-01-01"}))  # fmt: skip
        logs["evaluations"].command((uuid4(), "services.evaluations.domain:Assessment.Concluded", {
            "cadre_id": cadre, "year": 2025,
            "outcome": {"grade": shuffle.choice(["excellent", "competent", "basically_competent"])},
        }))  # fmt: skip
        finding, case, decision = uuid4(), uuid4(), uuid4()
        logs["inspections"].command((finding, "services.inspections.domain:Finding.Recorded", {
            "inspection_id": uuid4(), "unit_id": unit, "cadre_id": cadre,
            "situation": shuffle.choice(situations), "cadre_type": None, "typical": False,
            "found_on": "2026-03-02"}))  # fmt: skip
        logs["accountability"].command((case, "services.accountability.domain:Case.Opened", {
            "cadre_id": cadre, "basis": [{"kind": "finding", "finding_id": finding}],
            "occurred_on": "2026-03-02", "opened_on": "2026-03-05"}))  # fmt: skip
        logs["accountability"].command((case, "services.accountability.domain:Case.Decided", {
            "cadre_id": cadre, "decision_id": decision, "decision_type": "measure",
            "kind": "admonishment", "form": None, "target": None,
            "decided_on": "2026-03-20"}))  # fmt: skip
        logs["accountability"].command((case, "services.accountability.domain:Case.Published", {
            "publication_id": uuid4(), "decision_ids": [decision], "summary": "诫勉",
            "published_on": "2026-03-25"}))  # fmt: skip
        progress(written() - before)
    for log in logs.values():
        log.flush()
    return sum(log.count for log in logs.values())


def measure(datastore: MongoDBDatastore, total: int) -> dict:
    datastore.client.drop_database(datastore.database.name)
    with click.progressbar(length=total, label=f"writing {total} positions") as bar:
        written = write_city(datastore, total, bar.update)

    def scan() -> None:
        for log in LOGS.values():
            sum(1 for _ in datastore.collection(log).find({}, {"_id": 0}).sort("position", 1))

    raw = timed(scan)

    def read() -> None:
        for source in LOGS:
            reader = LogReader(datastore, source)
            sum(1 for _ in reader.public_events(0, reader.head()))

    row = {"size": written, "raw": written / raw, "read": written / timed(read)}
    for projection in (PersonnelFiles(), PublicRecords()):
        projector = Projector(datastore, projection)
        row[projection.name] = written / timed(projector.rebuild)
        row[projection.name + "_peak"] = peak_kib(projector.rebuild)
    return row


@click.command()
@click.option("--sizes", default="10000,30000,100000,200000", show_default=True,
              help="log positions in all, one synthetic city each")  # fmt: skip
def main(sizes: str) -> None:
    with scratch_datastore() as (datastore, _):
        rows = [measure(datastore, int(size)) for size in sizes.split(",")]
    click.echo(
        "\npositions  raw scan/s  LogReader/s (ratio)  rebuild personnel/s (ratio)"
        "  rebuild public/s (ratio)  peak KiB: personnel  public"
    )
    for r in rows:
        click.echo(
            f"{r['size']:>9} {r['raw']:>11.0f} {r['read']:>12.0f} ({r['read'] / r['raw']:.2f})"
            f" {r['personnel']:>20.0f} ({r['personnel'] / r['raw']:.2f})"
            f" {r['public']:>17.0f} ({r['public'] / r['raw']:.2f})"
            f" {r['personnel_peak']:>20.0f} {r['public_peak']:>7.0f}"
        )


if __name__ == "__main__":
    main()
