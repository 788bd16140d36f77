"""What each records replica costs the database while idle (issue 24, item 11): every
PROJECTIONS_POLL_SECONDS a replica catches both projections up with the four logs; this
counts the MongoDB commands and the time of one idle catch-up of each (nothing new to
apply), on a SecantusDB server of its own, so that the records autoscaler's maximum can be
weighed against what the database serves. Run: .venv/bin/python -m bench.records_polling"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import click
from pymongo import monitoring

from events.log.datastore import MongoDBDatastore
from events.readmodels.projections import Projector
from services.records.projections import PersonnelFiles, PublicRecords
from youwei.stack import SecantusServer


class Counter(monitoring.CommandListener):
    def __init__(self) -> None:
        self.commands = 0

    def started(self, event) -> None:
        self.commands += 1

    def succeeded(self, event) -> None:
        pass

    def failed(self, event) -> None:
        pass


@click.command()
@click.option("--polls", default=200, show_default=True)
def main(polls: int) -> None:
    with tempfile.TemporaryDirectory(prefix="youwei-bench-") as name:
        server = SecantusServer.in_folder(Path(name))
        server.start()
        counter = Counter()
        datastore = MongoDBDatastore(server.uri, "bench", event_listeners=[counter])
        try:
            projectors = [Projector(datastore, cls()) for cls in (PersonnelFiles, PublicRecords)]
            for projector in projectors:
                projector.catch_up()  # indexes, tracking records: the first poll's one-offs
            counter.commands = 0
            started = time.perf_counter()
            for _ in range(polls):
                for projector in projectors:
                    projector.catch_up()
            seconds = time.perf_counter() - started
        finally:
            datastore.close()
            server.stop()
    per_poll = counter.commands / polls
    click.echo(f"idle poll (both projections): {per_poll:.1f} commands, "
               f"{seconds / polls * 1000:.2f} ms")  # fmt: skip
    for replicas in (2, 8):
        click.echo(f"{replicas} replicas at PROJECTIONS_POLL_SECONDS=1: "
                   f"{per_poll * replicas:.0f} commands/s while idle")  # fmt: skip


if __name__ == "__main__":
    main()
