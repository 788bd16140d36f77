"""Append and replay throughput of ``events.mongodb``, as ratios to raw pymongo on the same
server in the same run (timings on a shared machine are noisy; ratios much less so).

    .venv/bin/python -m bench.log_throughput [--seconds 4] [--replay-events 100000]

Starts a SecantusDB server of its own on a free port (data in a temporary folder) and prints
a table; nothing is asserted. Appends: each writer thread loops for ``--seconds`` appending
batches of 1 or 100 events with fresh originators. ``recorder (shared)`` is one recorder for
all writers, so concurrent appends are group-committed; ``recorder (one each)`` gives every
writer its own client and recorder, so they race on the log's head as separate processes
would. ``raw`` is ``insert_one`` / ``insert_many`` into a plain collection with no index but
``_id``. Replay: 100k events read through ``select_notifications`` in pages of 500, against
one raw sorted scan of the same collection. Separate writer processes (``--processes``, 4 by
default): that many processes append single events for ``--seconds``, each with its own
recorder, against as many processes calling raw ``insert_one`` and one process whose threads
share one recorder (group commit), each as a ratio to raw.
"""

from __future__ import annotations

import multiprocessing
import tempfile
import threading
import time
from pathlib import Path
from uuid import uuid4

import click
import pymongo
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import Environment

from events.log.mongodb import MongoDBFactory
from youwei.stack import SecantusServer

STATE = b'{"cadre_id":"00000000-0000-0000-0000-000000000000","grade":"competent"}'


def run_writers(writers: int, seconds: float, append) -> float:
    """Events per second that ``writers`` threads achieve calling ``append(writer)``."""
    counts = [0] * writers
    deadline = time.monotonic() + seconds

    def loop(index: int) -> None:
        while time.monotonic() < deadline:
            counts[index] += append(index)

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(writers)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.monotonic() - started)


def events(batch: int) -> list[StoredEvent]:
    originator = uuid4()
    return [StoredEvent(originator, v, "bench:Appended", STATE) for v in range(1, batch + 1)]


def factory(uri: str, database: str, name: str) -> MongoDBFactory:
    return MongoDBFactory(Environment(name, {"MONGODB_URI": uri, "MONGODB_DATABASE": database}))


def raw_rows(batch: int) -> list[dict]:
    return [
        {"originator_id": e.originator_id, "originator_version": e.originator_version,
         "topic": e.topic, "state": e.state}
        for e in events(batch)
    ]  # fmt: skip


def measure(uri: str, raw, writers: int, batch: int, seconds: float) -> tuple[float, ...]:
    """Events/s of raw pymongo, one shared recorder, and one recorder per writer."""

    def raw_append(_: int) -> int:
        if batch == 1:
            raw.insert_one(raw_rows(1)[0])
        else:
            raw.insert_many(raw_rows(batch))
        return batch

    raw_rate = run_writers(writers, seconds, raw_append)

    run = f"w{writers}b{batch}"
    shared_factory = factory(uri, "bench", f"shared{run}")
    shared = shared_factory.application_recorder()
    shared_rate = run_writers(writers, seconds, lambda _: len(shared.insert_events(events(batch))))
    shared_factory.close()

    own_factories = [factory(uri, "bench", f"own{run}") for _ in range(writers)]
    own = [f.application_recorder() for f in own_factories]
    own_rate = run_writers(writers, seconds, lambda i: len(own[i].insert_events(events(batch))))
    for f in own_factories:
        f.close()
    return raw_rate, shared_rate, own_rate


def bench_appends(uri: str, seconds: float) -> None:
    client = pymongo.MongoClient(uri, uuidRepresentation="standard")
    raw = client.bench.get_collection("raw")
    click.echo(f"\nAppends ({seconds:g}s each; events/s; ratio = recorder / raw)")
    header = ("writers", "batch", "raw", "shared", "ratio", "one each", "ratio")
    click.echo("{:>7} {:>5} {:>8} {:>8} {:>6} {:>9} {:>6}".format(*header))
    for batch in (1, 100):
        for writers in (1, 4, 16):
            raw_rate, shared_rate, own_rate = measure(uri, raw, writers, batch, seconds)
            click.echo(
                f"{writers:>7} {batch:>5} {raw_rate:>8.0f} {shared_rate:>8.0f} "
                f"{shared_rate / raw_rate:>6.2f} {own_rate:>9.0f} {own_rate / raw_rate:>6.2f}"
            )
    client.close()


def _process_writer(uri: str, kind: str, seconds: float, start, counts, index: int) -> None:
    """One writer process: ``raw`` insert_one or ``recorder`` appends of single events."""
    if kind == "raw":
        client = pymongo.MongoClient(uri, uuidRepresentation="standard")
        raw = client.bench.get_collection("raw_processes")

        def append() -> None:
            raw.insert_one(raw_rows(1)[0])
    else:
        process_factory = factory(uri, "bench", "processes")
        recorder = process_factory.application_recorder()

        def append() -> None:
            recorder.insert_events(events(1))

    append()  # connected and warm before the start
    start.wait()
    deadline, done = time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        append()
        done += 1
    counts[index] = done


def run_processes(uri: str, kind: str, processes: int, seconds: float) -> float:
    context = multiprocessing.get_context("spawn")
    start, counts = context.Event(), context.Array("l", processes)
    workers = [
        context.Process(target=_process_writer, args=(uri, kind, seconds, start, counts, i))
        for i in range(processes)
    ]
    for worker in workers:
        worker.start()
    time.sleep(3.0)  # every process imported and connected
    started = time.monotonic()
    start.set()
    for worker in workers:
        worker.join()
    return sum(counts) / (time.monotonic() - started)


def bench_processes(uri: str, processes: int, seconds: float) -> None:
    factory(uri, "bench", "processes").application_recorder()  # the log and its head
    raw_rate = run_processes(uri, "raw", processes, seconds)
    own_rate = run_processes(uri, "recorder", processes, seconds)
    shared_factory = factory(uri, "bench", "processes")
    shared = shared_factory.application_recorder()
    shared_rate = run_writers(processes, seconds, lambda _: len(shared.insert_events(events(1))))
    shared_factory.close()
    client = pymongo.MongoClient(uri, uuidRepresentation="standard")
    from events.audit.verify import verify_log

    intact = verify_log(client.bench, "processes_events").ok
    client.close()
    click.echo(f"\nSeparate writers: {processes} processes, single events, {seconds:g}s (events/s)")
    click.echo(f"  raw insert_one, {processes} processes   {raw_rate:>8.0f}  ratio 1")
    click.echo(
        f"  recorder, one per process      {own_rate:>8.0f}  ratio {own_rate / raw_rate:.2f}"
    )
    click.echo(
        f"  one shared recorder, {processes} threads {shared_rate:>8.0f}  "
        f"ratio {shared_rate / raw_rate:.2f}"
    )
    click.echo(f"  the log verifies (gap-free, chained): {intact}")


def bench_replay(uri: str, total: int) -> None:
    replay_factory = factory(uri, "bench", "replay")
    recorder = replay_factory.application_recorder()
    with click.progressbar(length=total, label=f"writing {total} events", file=None) as bar:
        written = 0
        while written < total:
            batch = min(1000, total - written)
            recorder.insert_events(events(batch))
            written += batch
            bar.update(batch)

    started = time.monotonic()
    read, last = 0, 0
    while True:
        page = recorder.select_notifications(last, 500, inclusive_of_start=False)
        if not page:
            break
        read += len(page)
        last = page[-1].id
    recorder_seconds = time.monotonic() - started

    collection = recorder.events
    started = time.monotonic()
    raw_read = sum(1 for _ in collection.find({}).sort("_id", 1))
    raw_seconds = time.monotonic() - started
    assert read == raw_read == total, (read, raw_read, total)
    click.echo(f"\nReplay of {total} events")
    click.echo(f"  raw sorted scan            {total / raw_seconds:>9.0f} events/s")
    click.echo(
        f"  select_notifications(500)  {total / recorder_seconds:>9.0f} events/s  "
        f"ratio {raw_seconds / recorder_seconds:.2f}"
    )
    replay_factory.close()


@click.command()
@click.option("--seconds", default=4.0, show_default=True, help="Duration of each append run.")
@click.option("--replay-events", default=100_000, show_default=True)
@click.option("--processes", default=4, show_default=True, help="Separate writer processes.")
@click.option("--only-processes", is_flag=True, help="Only the separate writers' figures.")
@click.option("--sync-on-commit", is_flag=True, help="Start SecantusDB with --sync-on-commit.")
def main(
    seconds: float, replay_events: int, processes: int, only_processes: bool, sync_on_commit: bool
) -> None:
    with tempfile.TemporaryDirectory(prefix="youwei-bench-") as directory:
        server = SecantusServer.in_folder(Path(directory), sync_on_commit=sync_on_commit)
        server.start()
        try:
            click.echo(
                f"SecantusDB {server.uri}, sync-on-commit {'on' if sync_on_commit else 'off'}"
            )
            bench_processes(server.uri, processes, seconds)
            if only_processes:
                return
            bench_appends(server.uri, seconds)
            if replay_events:
                bench_replay(server.uri, replay_events)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
