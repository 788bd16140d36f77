"""An agency's RPC round trip measured from outside Python: a Node.js client (amqplib,
``bench/node/round_trip.js``) calling ``cadre_registry.get_unit`` one request at a time, as
an agency's own RabbitMQ user, with Nagle's algorithm on (amqplib's default) and off
(``TCP_NODELAY``).

    (cd bench/node && npm ci)   # amqplib, pinned in bench/node/package-lock.json
    .venv/bin/python -m bench.agency_round_trip [--calls 300]

Starts a SecantusDB server of its own, a vhost and an agency user of its own on the
machine's RabbitMQ (management API on 15672, as ``guest``; both deleted at the end) and the
registry as a ``nameko run`` process; prints p50 and p99 of each run (nothing is asserted).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from uuid import uuid4

import click
import requests
from kombu import Connection

from events.identity.agency import IdentifiedClusterRpcProxy, agency_broker_permissions
from youwei.ports import free_port
from youwei.stack import PROJECT_ROOT, SecantusServer

MANAGEMENT = "http://127.0.0.1:15672/api"
GUEST = ("guest", "guest")
CLIENT = PROJECT_ROOT / "bench" / "node" / "round_trip.js"


def management(method: str, path: str, body: dict | None = None) -> None:
    response = requests.request(method, f"{MANAGEMENT}/{path}", json=body, auth=GUEST,
                                timeout=30)  # fmt: skip
    response.raise_for_status()


def agency_user(vhost: str, user: str, password: str) -> None:
    """The user with exactly an agency's permissions (docs/rpc-wire.md, section 1)."""
    management("PUT", f"users/{user}", {"password": password, "tags": ""})
    allowed = agency_broker_permissions(user)
    management("PUT", f"permissions/{vhost}/{user}", allowed["permissions"])
    for topic in allowed["topic_permissions"]:
        management("PUT", f"topic-permissions/{vhost}/{user}", topic)


def wait_for_registry(uri: str, process: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the registry exited with {process.returncode}")
        try:
            with Connection(uri, connect_timeout=2) as connection:
                _, _, consumers = connection.channel().queue_declare(
                    "rpc-cadre_registry", passive=True
                )
            if consumers:
                return
        except Exception:
            pass
        time.sleep(0.5)
    raise SystemExit("the registry did not start")


def node_run(url: str, user: str, unit_id: str, calls: int, nodelay: bool) -> dict:
    env = {**os.environ, "AMQP_URL": url, "AGENCY": user, "UNIT_ID": unit_id,
           "CALLS": str(calls), "NODELAY": "1" if nodelay else "0"}  # fmt: skip
    out = subprocess.run(["node", str(CLIENT)], env=env, check=True, capture_output=True,
                         text=True, timeout=600)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


@click.command()
@click.option("--calls", default=300, show_default=True, help="Calls per run.")
def main(calls: int) -> None:
    if not (CLIENT.parent / "node_modules" / "amqplib").is_dir():
        raise SystemExit("first: (cd bench/node && npm ci)")
    tag = secrets.token_hex(4)
    vhost, user, password = f"youwei-bench-{tag}", f"bench-agency-{tag}", secrets.token_hex(12)
    management("PUT", f"vhosts/{vhost}")
    management("PUT", f"permissions/{vhost}/guest",
               {"configure": ".*", "write": ".*", "read": ".*"})  # fmt: skip
    process = None
    with tempfile.TemporaryDirectory(prefix="youwei-bench-") as folder:
        server = SecantusServer.in_folder(Path(folder))
        server.start()
        try:
            agency_user(vhost, user, password)
            uri = f"pyamqp://guest:guest@127.0.0.1:5672/{vhost}"
            env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "AMQP_URI": uri,
                   "MONGODB_URI": server.uri, "MONGODB_DATABASE": "bench",
                   "YOUWEI_AGENCIES": json.dumps({user: ["organization_department"],
                                                  "guest": ["local_development"]}),
                   "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}"}  # fmt: skip
            nameko = Path(sys.executable).parent / "nameko"
            process = subprocess.Popen(
                [str(nameko), "run", "services.cadre_registry.service",
                 "--config", str(PROJECT_ROOT / "services" / "config.yaml")],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            wait_for_registry(uri, process)
            with IdentifiedClusterRpcProxy({"AMQP_URI": uri}, timeout=30) as rpc:
                unit = rpc.cadre_registry.register_unit({
                    "command_id": str(uuid4()), "name": "测速市",
                    "actor": {"agency": "bench", "person": "bench"}})  # fmt: skip
            url = f"amqp://{user}:{password}@127.0.0.1:5672/{vhost}"
            print(f"{calls} calls of cadre_registry.get_unit, one at a time, from Node.js "
                  f"(amqplib), as an agency's user:")  # fmt: skip
            print("| TCP_NODELAY | p50 | p99 |\n|---|---:|---:|")
            for nodelay in (False, True):
                figures = node_run(url, user, unit["unit_id"], calls, nodelay)
                print(f"| {'on' if nodelay else 'off (amqplib default)'} | "
                      f"{figures['p50_ms']:.1f} ms | {figures['p99_ms']:.1f} ms |")  # fmt: skip
        finally:
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
            server.stop()
            management("DELETE", f"users/{user}")
            management("DELETE", f"vhosts/{vhost}")


if __name__ == "__main__":
    main()
