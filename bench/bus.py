"""Events between services, end to end: from an append in one service's log to its
effect recorded in another's, through the relay, RabbitMQ and a consumer.

    .venv/bin/python -m bench.bus [--events 2000] [--calls 200] [--rate 20 --rate 50]

Starts a SecantusDB server and a RabbitMQ node of its own (free ports, temporary folders)
and the ``cadre_registry``, ``inspections``, ``accountability`` and ``records`` services as
``nameko run`` processes, then prints (nothing is asserted):

- **throughput**: ``--events`` findings about cadres appended to the inspections log as
  fast as one writer can; the rate of appends, and the rate at which accountability opened
  the cases they cause (the policy ``case_for_finding``), from the first append to the last
  case, with the ratio of the two;
- **latency**: ``--calls`` ``record_finding`` RPC calls at each ``--rate`` per second (20
  and 50 by default); for each,
  the time from sending the call to the case's event being recorded in the accountability
  log (its ``recorded_at``), as p50, p90, p99 and max, beside the RPC round trip itself;
  and to the finding being visible in ``records`` (the personnel projection's tracking of
  the inspections log past the finding's position, which commits with the cadre's file;
  sampled every ``SAMPLE_SECONDS``).
"""

from __future__ import annotations

import statistics
import threading
import time
from datetime import UTC, date, datetime
from uuid import UUID, uuid4

import click
import pymongo

from bench.scratch import scratch_stack
from events.identity.agency import IdentifiedClusterRpcProxy
from events.log.transcoding import transcoder
from schemas.events import LOGS
from services.inspections.application import Inspections

CASE_OPENED = "services.accountability.domain:Case.Opened"
ACTOR = {"agency": "bench", "person": "bench"}
SAMPLE_SECONDS = 0.005
TEAM = [{"name": "李纪检", "role": "commission"}, {"name": "王记者", "role": "media"}]


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cases_by_finding(db) -> dict[str, datetime]:
    coder = transcoder()
    return {
        str(coder.decode(d["state"])["basis"][0]["finding_id"]): d["recorded_at"]
        for d in db["accountability_events"].find({"topic": CASE_OPENED})
    }


@click.command()
@click.option("--events", default=2000, show_default=True, help="Findings for the throughput run.")
@click.option("--calls", default=200, show_default=True, help="RPC calls for the latency run.")
@click.option("--rate", "rates", default=[20.0, 50.0], multiple=True, show_default=True,
              type=float, help="RPC calls per second (once per rate).")  # fmt: skip
def main(events: int, calls: int, rates: tuple[float, ...]) -> None:
    with scratch_stack(["cadre_registry", "inspections", "accountability", "records"]) as (
        env, mongo, _services,
    ):  # fmt: skip
        client = pymongo.MongoClient(mongo.uri, uuidRepresentation="standard", tz_aware=True)
        db = client["bench"]
        try:
            throughput(env, db, events)
            for rate in rates:
                latency(env, db, calls, rate)
        finally:
            client.close()


def throughput(env: dict, db, events: int) -> None:
    inspections = Inspections(env={"PERSISTENCE_MODULE": "events.mongodb", **env})
    visit = UUID(inspections.open_inspection(
        {"command_id": uuid4(), "actor": ACTOR, "kind": "undercover_visit", "title": "bench",
         "started_on": date(2026, 5, 1), "team": TEAM}
    )["inspection_id"])  # fmt: skip
    before = len(cases_by_finding(db))
    started = time.monotonic()
    for n in range(events):
        inspections.record_finding(
            {"command_id": uuid4(), "actor": ACTOR, "inspection_id": visit, "unit_id": uuid4(),
             "cadre_id": uuid4(), "situation": "no_drive", "cadre_type": None,
             "description": f"bench {n}", "evidence": [], "typical": False,
             "found_on": date(2026, 5, 2)}
        )  # fmt: skip
    appended = time.monotonic() - started
    while len(cases_by_finding(db)) - before < events:
        time.sleep(0.05)
    effected = time.monotonic() - started
    inspections.close()
    click.echo(f"throughput ({events} findings, one writer)")
    click.echo(f"  appended        {events / appended:8.1f} events/s")
    click.echo(f"  cases opened    {events / effected:8.1f} events/s end to end: "
               f"ratio {appended / effected:.2f} to the append rate")  # fmt: skip


def latency(env: dict, db, calls: int, rate: float) -> None:
    with IdentifiedClusterRpcProxy({"AMQP_URI": env["AMQP_URI"]}, timeout=60) as rpc:
        command = {"command_id": str(uuid4()), "actor": ACTOR}
        unit = rpc.cadre_registry.register_unit({**command, "name": "bench unit"})["unit_id"]
        cadre = rpc.cadre_registry.register_cadre(
            {"command_id": str(uuid4()), "actor": ACTOR, "name": "bench", "gender": "male",
             "birth_date": "1980-01-01", "unit_id": unit, "post": "主任",
             "rank": "county_division", "post_kind": "leadership",
             "effective_date": "2025-01-01"}
        )["cadre_id"]  # fmt: skip
        visit = rpc.inspections.open_inspection(
            {"command_id": str(uuid4()), "actor": ACTOR, "kind": "undercover_visit",
             "title": "bench", "started_on": "2026-05-01", "team": TEAM}
        )["inspection_id"]  # fmt: skip
        sent: dict[str, datetime] = {}
        round_trips: list[float] = []
        tracked = Tracked(db)
        tracked.start()
        start = time.monotonic()
        for n in range(calls):  # one call per slot of 1/rate seconds, as long as calls keep up
            time.sleep(max(0.0, start + n / rate - time.monotonic()))
            at, began = datetime.now(UTC), time.monotonic()
            finding = rpc.inspections.record_finding(
                {"command_id": str(uuid4()), "actor": ACTOR, "inspection_id": visit,
                 "unit_id": unit, "cadre_id": cadre, "situation": "procrastination",
                 "description": f"latency {n}", "found_on": "2026-05-02"}
            )["finding_id"]  # fmt: skip
            round_trips.append(time.monotonic() - began)
            sent[finding] = at
        while not set(sent) <= set(cases := cases_by_finding(db)):
            time.sleep(0.05)
        positions = finding_positions(db, set(sent))
        while tracked.position < max(positions.values()):
            time.sleep(0.05)
        tracked.stop()
    latencies = [(cases[f] - at).total_seconds() * 1000 for f, at in sent.items()]
    visible = [(tracked.seen(positions[f]) - at).total_seconds() * 1000 for f, at in sent.items()]
    trips = [t * 1000 for t in round_trips]
    click.echo(f"latency ({calls} record_finding calls at {rate:g}/s; ms)")
    click.echo("                      p50      p90      p99      max")
    for name, values in (("RPC round trip", trips), ("command → case", latencies),
                         ("→ records", visible)):  # fmt: skip
        figures = [quantile(values, q) for q in (0.5, 0.9, 0.99)] + [max(values)]
        click.echo(f"  {name:<16}" + "".join(f"{v:9.1f}" for v in figures))
    click.echo(f"  (mean command → case {statistics.mean(latencies):.1f} ms, "
               f"→ records {statistics.mean(visible):.1f} ms)")  # fmt: skip


def finding_positions(db, findings: set[str]) -> dict[str, int]:
    """Each finding's position in the inspections log (its ``finding_recorded`` event)."""
    ids = [UUID(f) for f in findings]
    return {
        str(d["originator_id"]): d["position"]
        for d in db[LOGS["inspections"]].find(
            {"originator_id": {"$in": ids}, "originator_version": 1}
        )
    }


class Tracked:
    """Samples how far the live ``personnel`` projection has applied the inspections log,
    and when each position was first seen applied."""

    def __init__(self, db) -> None:
        generation = db["projections"].find_one({"_id": "personnel"})["generation"]
        self.tracking = db[f"personnel_g{generation}_tracking"]
        self.samples: list[tuple[int, datetime]] = []
        self.position = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stopping.wait(SAMPLE_SECONDS):
            record = self.tracking.find_one({"_id": LOGS["inspections"]})
            at = datetime.now(UTC)
            if record and record["notification_id"] > self.position:
                self.position = record["notification_id"]
                self.samples.append((self.position, at))

    def seen(self, position: int) -> datetime:
        return next(at for reached, at in self.samples if reached >= position)


if __name__ == "__main__":
    main()
