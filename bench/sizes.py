"""How many bytes the logs and the records projections take per event: the stored form of
``bench.rebuild``'s synthetic city (units, cadres, assessments, findings, cases decided and
published; each command's events followed by its command record), measured as BSON.

    .venv/bin/python -m bench.sizes [--events 20000]

Starts a SecantusDB server of its own on a free port, writes the city through the logs'
recorders (hash chain and positions as in production), rebuilds the two projections, and
prints, per collection, its documents and their mean BSON size (``bson.encode`` of each
document as read back: the bytes a server stores before compression and indexes). Nothing
is asserted; ``docs/scaling.md`` sizes MongoDB from these figures.
"""

from __future__ import annotations

import bson
import click
from bson.binary import UuidRepresentation
from bson.codec_options import CodecOptions

from bench.rebuild import write_city
from bench.scratch import scratch_datastore
from events.log.datastore import MongoDBDatastore
from events.readmodels.projections import Projector
from schemas.events import LOGS
from services.records.projections import PersonnelFiles, PublicRecords

CODEC = CodecOptions(uuid_representation=UuidRepresentation.STANDARD)


def sizes(datastore: MongoDBDatastore, names: list[str]) -> list[tuple[str, int, float]]:
    rows = []
    for name in names:
        count = total = 0
        for document in datastore.collection(name).find({}):
            count += 1
            total += len(bson.encode(document, codec_options=CODEC))
        rows.append((name, count, total / count if count else 0.0))
    return rows


@click.command()
@click.option("--events", "total", default=20_000, show_default=True)
def main(total: int) -> None:
    with scratch_datastore() as (datastore, _):
        written = write_city(datastore, total, lambda n: None)
        for projection in (PersonnelFiles(), PublicRecords()):
            Projector(datastore, projection).rebuild()
        names = sorted(datastore.database.list_collection_names())
        rows = sizes(datastore, [*LOGS.values()] + [n for n in names if "_g" in n])
    log_documents = sum(count for name, count, _ in rows if name in LOGS.values())
    log_bytes = sum(count * mean for name, count, mean in rows if name in LOGS.values())
    click.echo(f"{written} log positions written")
    click.echo(f"  {'collection':<40} {'documents':>10} {'mean bytes':>11}")
    for name, count, mean in rows:
        click.echo(f"  {name:<40} {count:>10} {mean:>11.0f}")
    click.echo(f"  {'all logs':<40} {log_documents:>10} {log_bytes / log_documents:>11.0f}")


if __name__ == "__main__":
    main()
