"""Memory and speed of the audit tools as logs grow: ``audit verify`` (chain and signed
checkpoints), ``audit export`` and ``audit verify --from`` (offline), from 10k to 200k events.

    .venv/bin/python -m bench.audit [--sizes 10000,50000,200000]

Starts a SecantusDB server of its own on a free port, writes each log through the recorder
(hash chain, positions), signs a checkpoint every 1000 events, then measures each tool
twice: once for speed (events per second, and as a ratio to a raw pymongo scan of the same
log in the same run) and once under ``tracemalloc`` for the peak of Python memory it
allocated (flat means it does not grow with the log). Nothing is asserted.
"""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import click
from eventsourcing.persistence import StoredEvent

from bench.measuring import peak_kib, timed
from bench.scratch import scratch_datastore
from events.audit.checkpoints import load_private_key, new_private_key_pem, sign_head
from events.audit.export import export, verify_export
from events.audit.verify import verify_log
from events.log.datastore import MongoDBDatastore
from events.log.recorders import MongoDBApplicationRecorder

STATE = b'{"cadre_id":"00000000-0000-0000-0000-000000000000","grade":"competent","n":%d}'


def write_log(datastore: MongoDBDatastore, log: str, total: int, private) -> None:
    recorder = MongoDBApplicationRecorder(datastore, log)
    recorder.create_table()
    written = 0
    with click.progressbar(length=total, label=f"writing {log}") as bar:
        while written < total:
            batch = min(1000, total - written)
            recorder.insert_events(
                [
                    StoredEvent(uuid4(), 1, "bench:Rated", STATE % (written + i))
                    for i in range(batch)
                ]
            )
            sign_head(datastore.database, private, log)
            written += batch
            bar.update(batch)


def measure(datastore: MongoDBDatastore, folder: Path, size: int, private) -> dict:
    log = f"bench{size}_events"
    write_log(datastore, log, size, private)
    database = datastore.database
    raw = timed(lambda: sum(1 for _ in database[log].find({}).sort("position", 1)))

    def verify() -> None:
        verdict = verify_log(database, log)
        assert verdict.ok and verdict.events_checked == size, verdict

    exported = folder / f"export{size}"

    def export_all() -> None:
        target = folder / f"scratch{uuid4().hex}"
        export(database, target, private)

    def verify_offline() -> None:
        problems, verdicts = verify_export(exported, only=(log,))
        assert not problems and all(v.ok for v in verdicts), (problems, verdicts)

    export(database, exported, private)  # the export verified offline below
    return {
        "size": size,
        "raw": size / raw,
        "verify": size / timed(verify),
        "verify_from": size / timed(verify_offline),
        "verify_peak": peak_kib(verify),
        "export_peak": peak_kib(export_all),
        "verify_from_peak": peak_kib(verify_offline),
    }


@click.command()
@click.option("--sizes", default="10000,50000,200000", show_default=True)
def main(sizes: str) -> None:
    with scratch_datastore() as (datastore, folder):
        key = folder / "key.pem"
        key.write_bytes(new_private_key_pem())
        private = load_private_key(key)
        rows = [measure(datastore, folder, int(s), private) for s in sizes.split(",")]
    click.echo(
        "\n  events   raw scan/s   verify/s (ratio)   verify --from/s (ratio)"
        "   peak KiB: verify  export  verify --from"
    )
    for r in rows:
        click.echo(
            f"{r['size']:>8} {r['raw']:>12.0f} {r['verify']:>10.0f} ({r['verify'] / r['raw']:.2f})"
            f" {r['verify_from']:>15.0f} ({r['verify_from'] / r['raw']:.2f})"
            f"   {r['verify_peak']:>15.0f} {r['export_peak']:>7.0f} {r['verify_from_peak']:>14.0f}"
        )


if __name__ == "__main__":
    main()
