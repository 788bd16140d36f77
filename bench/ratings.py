"""Ratings ingested in bulk (``Evaluations.submit_ratings``) against raw ``insert_many`` of
as many documents, on the same SecantusDB in the same run.

    .venv/bin/python -m bench.ratings [--commands 10] [--size 500] [--cadres 50]

Starts a SecantusDB server of its own and prints (nothing is asserted): ``--commands``
commands of ``--size`` ratings each (about ``--cadres`` cadres, each rater once per cadre
and channel, so every rating is counted), one after another through the application, as
the evaluations service runs them once the RPC is decoded and the policy checked; raw: as
many ``insert_many`` calls of as many documents of the same size into a plain collection;
and, for scale, ``--size`` ratings sent one ``submit_rating`` at a time. Each as ratings/s
and as a ratio to raw.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from pathlib import Path
from uuid import uuid4

import click
import pymongo

from services.evaluations.application import Evaluations
from youwei.stack import SecantusServer

ACTOR = {"agency": "bench", "person": "bench"}
CHANNELS = {
    "service_window": ["very_satisfied", "satisfied", "dissatisfied"],
    "phone_spot_check": ["satisfied", "dissatisfied"],
    "questionnaire": list(range(0, 101, 10)),
}


def ratings(size: int, cadres: list, batch: int) -> list[dict]:
    picked = []
    for n in range(size):
        channel = random.choice(list(CHANNELS))
        picked.append({"cadre_id": cadres[n % len(cadres)], "channel": channel,
                       "period": "2026-03", "value": random.choice(CHANNELS[channel]),
                       "rater_ref": f"rater-{batch}-{n}"})  # fmt: skip
    return picked


@click.command()
@click.option("--commands", default=10, show_default=True)
@click.option("--size", default=500, show_default=True, help="Ratings per command.")
@click.option("--cadres", default=50, show_default=True)
def main(commands: int, size: int, cadres: int) -> None:
    with tempfile.TemporaryDirectory(prefix="youwei-bench-") as folder:
        root = Path(folder)
        server = SecantusServer.in_folder(root)
        server.start()
        env = {"PERSISTENCE_MODULE": "events.mongodb", "MONGODB_URI": server.uri,
               "MONGODB_DATABASE": "bench",
               "EVALUATIONS_RATER_KEY": os.urandom(8).hex()}  # fmt: skip
        app = Evaluations(env=env)
        client = pymongo.MongoClient(server.uri, uuidRepresentation="standard")
        try:
            ids = [uuid4() for _ in range(cadres)]
            app.submit_ratings({"command_id": uuid4(), "actor": ACTOR,
                                "ratings": ratings(10, ids, -1)}, {})  # fmt: skip
            started = time.monotonic()
            for batch in range(commands):
                answer = app.submit_ratings(
                    {"command_id": uuid4(), "actor": ACTOR, "ratings": ratings(size, ids, batch)},
                    {},
                )
                assert answer["recorded"] == size, answer
            bulk = commands * size / (time.monotonic() - started)

            rated = client.bench["evaluations_events"].find_one({"topic": {"$regex": "Rated$"}})
            document = {"state": rated["state"], "topic": rated["topic"]}
            raw = client.bench["raw"]
            started = time.monotonic()
            for _ in range(commands):
                raw.insert_many([{**document, "originator_id": uuid4()} for _ in range(size)])
            raw_rate = commands * size / (time.monotonic() - started)

            started = time.monotonic()
            for rating in ratings(size, ids, commands):
                app.submit_rating({"command_id": uuid4(), "actor": ACTOR, **rating})
            single = size / (time.monotonic() - started)
        finally:
            client.close()
            app.close()
            server.stop()
    click.echo(f"{commands} commands of {size} ratings about {cadres} cadres (ratings/s)")
    click.echo(f"  raw insert_many of {size} documents   {raw_rate:>8.0f}  ratio 1")
    click.echo(f"  submit_ratings, {size} a command      {bulk:>8.0f}  ratio {bulk / raw_rate:.2f}")
    click.echo(
        f"  submit_rating, one at a time         {single:>8.0f}  ratio {single / raw_rate:.2f}"
    )


if __name__ == "__main__":
    main()
