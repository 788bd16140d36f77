"""What an idle stack costs: CPU of the database and of each service while nothing happens.

    .venv/bin/python -m bench.idle [--settle 20] [--seconds 60]

Starts a SecantusDB server and a RabbitMQ node of its own and the five services as ``nameko
run`` processes (as ``bench.bus`` does), records one command so that every log and
projection exists, waits ``--settle`` seconds, then prints each process's CPU over the next
``--seconds`` (user + system time from ``/proc``, as a share of one core). Nothing is
asserted. The relays' and the projections' polls (their safety nets) are what an idle
stack does.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from uuid import uuid4

import click

from bench.scratch import scratch_stack
from events.identity.agency import IdentifiedClusterRpcProxy

SERVICES = ("cadre_registry", "evaluations", "inspections", "accountability", "records")
ACTOR = {"agency": "bench", "person": "bench"}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@click.command()
@click.option("--settle", default=20.0, show_default=True, help="Seconds before measuring.")
@click.option("--seconds", default=60.0, show_default=True, help="Seconds measured.")
def main(settle: float, seconds: float) -> None:
    with scratch_stack(list(SERVICES)) as (env, mongo, services):
        with IdentifiedClusterRpcProxy({"AMQP_URI": env["AMQP_URI"]}, timeout=60) as rpc:
            rpc.cadre_registry.register_unit(
                {"command_id": str(uuid4()), "actor": ACTOR, "name": "bench unit"}
            )
        time.sleep(settle)
        pids = {"database": mongo.pid()} | {s.name: s.pid() for s in services}
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        time.sleep(seconds)
        after = {name: cpu_seconds(pid) for name, pid in pids.items()}
        click.echo(f"CPU of an idle stack over {seconds:g} s (share of one core)")
        for name in pids:
            click.echo(f"  {name:<16}{100 * (after[name] - before[name]) / seconds:6.1f}%")
        spent = sum(after[n] - before[n] for n in pids if n != "database")
        click.echo(f"  {'services':<16}{100 * spent / seconds:6.1f}%")


if __name__ == "__main__":
    main()
