"""A local stack of a test's own (``youwei up`` with its own state folder, SecantusDB port,
RabbitMQ vhost, public page and probe ports: never the machine's 27017 or 8000), and what a
test asks of it: its processes, probes, logs and a caller of each service."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from youwei.ports import free_port, free_ports
from youwei.stack import SERVICE_NAMES, pid_alive, probe

YOUWEI = [sys.executable, "-m", "youwei"]
GRACE = 5  # YOUWEI_STOP_GRACE_SECONDS of the test's stack
PROBE_FAILURES = 3

#: Calls each named service's query with an unknown id, until the file ``until`` exists (or
#: once), printing one JSON line per call; a reply, an error reply included, is an answer.
CALLER = """
import eventlet; eventlet.monkey_patch()
import json, os, sys, uuid
from nameko.exceptions import IncorrectSignature, MalformedRequest, MethodNotFound, RemoteError
from events.identity.agency import IdentifiedClusterRpcProxy
uri, until, services = sys.argv[1], sys.argv[2], sys.argv[3:]
some = lambda: str(uuid.uuid4())
QUERIES = {
    "cadre_registry": lambda: ("get_unit", {"unit_id": some()}),
    "evaluations": lambda: ("get_assessment", {"cadre_id": some(), "year": 2026}),
    "inspections": lambda: ("get_inspection", {"inspection_id": some()}),
    "accountability": lambda: ("get_case", {"case_id": some()}),
    "records": lambda: ("public_records", {}),
}
with IdentifiedClusterRpcProxy({"AMQP_URI": uri}, timeout=60) as cluster:
    while True:
        for service in services:
            method, payload = QUERIES[service]()
            try:
                getattr(getattr(cluster, service), method)(payload)
            except (RemoteError, MalformedRequest, MethodNotFound, IncorrectSignature):
                pass
            print(json.dumps(service), flush=True)
        if until == "once" or os.path.exists(until):
            break
"""


class Stack:
    """The test's stack: ``youwei`` commands in its environment, and what they leave."""

    def __init__(self, state: Path, amqp_uri: str, **settings: str | None) -> None:
        """``settings`` change the stack's environment (None leaves a variable unset)."""
        self.state = state
        self.amqp_uri = amqp_uri
        self.mongodb_port, self.web_port = free_port(), free_port()
        self.metrics_port = free_ports(len(SERVICE_NAMES))
        self.env = {
            **os.environ,
            "YOUWEI_STATE_DIR": str(state),
            "YOUWEI_MONGODB_PORT": str(self.mongodb_port),
            "WEB_SERVER_ADDRESS": f"127.0.0.1:{self.web_port}",
            "YOUWEI_METRICS_PORT": str(self.metrics_port),
            "AMQP_URI": amqp_uri,
            "YOUWEI_PROBE_SECONDS": "1",
            "YOUWEI_PROBE_FAILURES": str(PROBE_FAILURES),
            "YOUWEI_STOP_GRACE_SECONDS": str(GRACE),
            "YOUWEI_RESTART_BACKOFF_RESET_SECONDS": "3600",
            **settings,
        }
        self.env = {name: value for name, value in self.env.items() if value is not None}

    def youwei(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*YOUWEI, *args], env=self.env, capture_output=True, text=True,
                              timeout=300, check=False)  # fmt: skip

    def pid(self, name: str) -> int | None:
        try:
            return int((self.state / "run" / f"{name}.pid").read_text())
        except (OSError, ValueError):
            return None

    def port(self, name: str) -> int:
        return self.metrics_port + SERVICE_NAMES.index(name)

    def ready(self, name: str) -> bool:
        pid = self.pid(name)
        return (pid is not None and pid_alive(pid)
                and probe(f"http://127.0.0.1:{self.port(name)}/readyz", 5).ok)  # fmt: skip

    def supervisor_log(self) -> str:
        return (self.state / "log" / "supervisor.log").read_text()

    def call(self, *services: str, until: str = "once", output=None) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-c", CALLER, self.amqp_uri, until, *services],
            stdout=output or subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    def answers(self, *services: str) -> list[str]:
        """Each service answers a query (each call waits up to 60 s for its reply)."""
        caller = self.call(*services)
        out, err = caller.communicate(timeout=300)
        assert caller.returncode == 0, err
        return [json.loads(line) for line in out.splitlines()]

    def processes(self) -> list[int]:
        """Every process that runs with this stack's state folder in its environment."""
        marker = f"YOUWEI_STATE_DIR={self.state}".encode()
        found = []
        for environ in Path("/proc").glob("[0-9]*/environ"):
            try:
                if marker in environ.read_bytes().split(b"\0"):
                    found.append(int(environ.parent.name))
            except OSError:
                continue
        return [pid for pid in found if pid_alive(pid)]


def wait(condition, what: str, seconds: float = 180, status=lambda: "") -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"waited {seconds} s for {what} {status()}"
        time.sleep(0.2)
