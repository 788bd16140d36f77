"""``youwei up``'s local stack: each service in a ``nameko run`` process of its own under the
supervisor, which restarts one that dies or stops answering; ``youwei status`` and
``youwei down``. The stack has a state folder, SecantusDB port, RabbitMQ vhost, public page
and metrics ports of the test's own: never the machine's (27017, 8000)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pymongo
import pytest

from tests.local_stack import GRACE, PROBE_FAILURES, YOUWEI, Stack, wait
from youwei.ports import ephemeral_port_range, free_port, free_ports
from youwei.stack import SERVICE_NAMES, pid_alive

REGISTER_UNIT = """
import eventlet; eventlet.monkey_patch()
import json, sys, uuid
from events.identity.agency import IdentifiedClusterRpcProxy
with IdentifiedClusterRpcProxy({"AMQP_URI": sys.argv[1]}, timeout=60) as cluster:
    print(json.dumps(cluster.cadre_registry.register_unit({
        "command_id": str(uuid.uuid4()), "actor": {"agency": "test", "person": "test"},
        "name": "玉溪市"})))
"""


def service_line(status: str, name: str) -> str:
    [line] = [line for line in status.splitlines() if line.split()[:1] == [name]]
    return line


@pytest.fixture(scope="module")
def stack(tmp_path_factory, rabbit_config_module):
    stack = Stack(tmp_path_factory.mktemp("stack"), rabbit_config_module["AMQP_URI"])
    up = stack.youwei("up", "--no-sync-on-commit")
    try:
        assert up.returncode == 0, up.stderr
        stack.up = up
        yield stack
    finally:
        stack.youwei("down")
        for pid in stack.processes():  # only if down failed: the test's own processes
            os.kill(pid, signal.SIGKILL)


@pytest.mark.processes
def test_up_runs_each_service_in_a_process_of_its_own_and_says_so_once_each_is_ready(
    stack,
) -> None:
    services = ", ".join(SERVICE_NAMES)
    assert f"services    {services} up" in stack.up.stdout
    assert f"public page http://127.0.0.1:{stack.web_port}/" in stack.up.stdout
    pids = {name: stack.pid(name) for name in SERVICE_NAMES}
    assert len(set(pids.values())) == len(SERVICE_NAMES)
    for name, pid in pids.items():
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        modules = [part for part in command if part.startswith(b"services.")]
        assert modules == [f"services.{name}.service".encode()]
        for path in ("/healthz", "/readyz"):
            url = f"http://127.0.0.1:{stack.port(name)}{path}"
            with urllib.request.urlopen(url, timeout=30) as answer:
                report = json.load(answer)
            assert report["ok"] is True and list(report["services"]) == [name]

    again = stack.youwei("up", "--no-sync-on-commit")
    assert again.returncode == 0, again.stderr
    assert {name: stack.pid(name) for name in SERVICE_NAMES} == pids, "up is idempotent"

    status = stack.youwei("status")
    assert status.returncode == 0, status.stdout
    for name in SERVICE_NAMES:
        assert re.search(rf"^\s+{name}\s+pid {pids[name]}\s+yes\s+yes\s+"
                         rf"http://127.0.0.1:{stack.port(name)}/$",
                         status.stdout, re.MULTILINE), status.stdout  # fmt: skip
    assert re.search(r"^supervisor  up \(pid \d+", status.stdout, re.MULTILINE)
    assert sorted(stack.answers(*SERVICE_NAMES)) == sorted(SERVICE_NAMES)
    with urllib.request.urlopen(f"http://127.0.0.1:{stack.web_port}/records.json",
                                timeout=30) as page:  # fmt: skip
        assert json.load(page)["total"] == 0


@pytest.mark.processes
def test_a_killed_service_is_restarted_while_the_others_keep_answering(stack, tmp_path) -> None:
    others = [name for name in SERVICE_NAMES if name != "inspections"]
    stop, calls = tmp_path / "stop", tmp_path / "calls"
    with open(calls, "w") as output:
        caller = stack.call(*others, until=str(stop), output=output)

    def answered() -> list[str]:
        return [json.loads(line) for line in calls.read_text().splitlines()]

    try:
        wait(lambda: len(answered()) >= len(others), "the other services to answer")
        supervisor, killed = stack.pid("supervisor"), stack.pid("inspections")
        os.kill(supervisor, signal.SIGSTOP)  # it looks away, so status sees the service down
        try:
            os.kill(killed, signal.SIGKILL)
            wait(lambda: not pid_alive(killed), "the killed process to be gone")
            status = stack.youwei("status")
        finally:
            os.kill(supervisor, signal.SIGCONT)
        assert status.returncode == 1, status.stdout
        assert re.match(r"\s+inspections\s+down\s+no\s+no\s", service_line(status.stdout,
                        "inspections")), status.stdout  # fmt: skip
        for name in others:
            assert re.match(rf"\s+{name}\s+pid \d+\s+yes\s+yes\s",
                            service_line(status.stdout, name)), status.stdout  # fmt: skip

        wait(lambda: stack.pid("inspections") != killed and stack.ready("inspections"),
             "inspections to be restarted", status=stack.supervisor_log)  # fmt: skip
        assert stack.answers("inspections") == ["inspections"]
        restarted = len(answered())
        wait(lambda: len(answered()) >= restarted + len(others), "the others after the restart")
        stop.touch()
        assert caller.wait(timeout=300) == 0, caller.stderr.read()
    finally:
        stop.touch()
        caller.wait(timeout=300)
    assert set(answered()) == set(others)  # and none failed: the caller stops at an error
    log = stack.supervisor_log()
    assert f"inspections (pid {killed}): killed by SIGKILL" in log
    assert "inspections: restarting in 1 s (restart 1 in a row)" in log

    again = stack.pid("inspections")  # a second death in a row waits longer
    os.kill(again, signal.SIGKILL)
    wait(lambda: stack.pid("inspections") != again and stack.ready("inspections"),
         "inspections to be restarted again", status=stack.supervisor_log)  # fmt: skip
    assert "inspections: restarting in 2 s (restart 2 in a row)" in stack.supervisor_log()


@pytest.mark.processes
def test_an_unresponsive_service_is_killed_and_restarted(stack) -> None:
    stuck = stack.pid("evaluations")
    os.kill(stuck, signal.SIGSTOP)  # it holds its port but answers nothing, not even SIGTERM
    wait(lambda: not pid_alive(stuck), "the stuck process to be killed",
         status=stack.supervisor_log)  # fmt: skip
    wait(lambda: stack.ready("evaluations"), "evaluations to be restarted",
         status=stack.supervisor_log)  # fmt: skip
    assert stack.answers("evaluations") == ["evaluations"]
    log = stack.supervisor_log()
    assert (f"evaluations (pid {stuck}): {PROBE_FAILURES} liveness probes failed in a row "
            "(last: timed out); stopping it (SIGTERM, SIGKILL after 5 s)") in log  # fmt: skip
    assert f"evaluations (pid {stuck}): still running 5 s after SIGTERM; SIGKILL" in log
    assert f"evaluations (pid {stuck}): killed by SIGKILL" in log


@pytest.mark.processes
def test_down_stops_everything_within_the_grace_period_and_keeps_the_data(stack) -> None:
    register = [sys.executable, "-c", REGISTER_UNIT, stack.amqp_uri]
    registered = subprocess.run(register, capture_output=True, text=True, timeout=300, check=False)
    assert registered.returncode == 0, registered.stderr
    unit_id = json.loads(registered.stdout)["unit_id"]
    uri = f"mongodb://127.0.0.1:{stack.mongodb_port}"
    with pymongo.MongoClient(uri) as client:
        client.youwei.kept.insert_one({"_id": "survives", "down": "and up"})

    os.kill(stack.pid("records"), signal.SIGSTOP)  # it cannot stop: it is killed after GRACE
    down = stack.youwei("down")
    assert down.returncode == 0, down.stderr
    lines = down.stdout.splitlines()
    assert lines[0] == "supervisor stopped", "the supervisor first: it restarts nothing"
    killed = f"killed (still running {GRACE} s after SIGTERM)"
    assert f"records {killed}" in lines
    for name in SERVICE_NAMES[:-1]:  # stopped, or killed if it took longer than GRACE
        assert f"{name} stopped" in lines or f"{name} {killed}" in lines
    assert lines[-1] == "SecantusDB stopped"
    assert stack.processes() == [], "down leaves no process behind"
    status = stack.youwei("status")
    assert status.returncode == 1
    assert "supervisor  down" in status.stdout
    for name in SERVICE_NAMES:
        assert re.match(rf"\s+{name}\s+down\s+no\s+no\s", service_line(status.stdout, name))

    up = stack.youwei("up", "--no-sync-on-commit")
    assert up.returncode == 0, up.stderr
    with pymongo.MongoClient(uri, uuidRepresentation="standard") as client:
        registered = client.youwei.cadreregistry_events.find_one({"position": 1})
        assert str(registered["originator_id"]) == unit_id
        assert client.youwei.kept.find_one({"_id": "survives"}) == {
            "_id": "survives",
            "down": "and up",
        }

    pids = {name: stack.pid(name) for name in SERVICE_NAMES}
    supervisor = stack.pid("supervisor")
    os.kill(supervisor, signal.SIGKILL)  # the services run on; a new supervisor adopts them
    wait(lambda: not pid_alive(supervisor), "the supervisor to be gone")
    again = stack.youwei("up", "--no-sync-on-commit")
    assert again.returncode == 0, again.stderr
    assert stack.pid("supervisor") not in (None, supervisor)
    adopted = [f"{name}: adopted the running process (pid {pid})" for name, pid in pids.items()]
    wait(lambda: all(line in stack.supervisor_log() for line in adopted),
         "the new supervisor to adopt the services", status=stack.supervisor_log)  # fmt: skip
    assert {name: stack.pid(name) for name in SERVICE_NAMES} == pids

    assert stack.youwei("down").returncode == 0
    assert stack.processes() == []


def test_a_bad_setting_is_refused_by_name_and_starts_nothing(tmp_path) -> None:
    env = {**os.environ, "YOUWEI_STATE_DIR": str(tmp_path), "YOUWEI_MONGODB_PORT": "1",
           "YOUWEI_STOP_GRACE_SECONDS": "soon"}  # fmt: skip
    for command in ("up", "down"):
        result = subprocess.run([*YOUWEI, command], env=env, capture_output=True, text=True,
                                timeout=120, check=False)  # fmt: skip
        assert result.returncode == 1
        assert "YOUWEI_STOP_GRACE_SECONDS: 'soon' is not a float of at least 0" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_up_refuses_a_probe_port_another_process_holds_and_starts_nothing(tmp_path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "YOUWEI_STATE_DIR": str(tmp_path), "YOUWEI_MONGODB_PORT": "1",
               "YOUWEI_METRICS_PORT": str(port - 2)}  # fmt: skip
        result = subprocess.run([*YOUWEI, "up"], env=env, capture_output=True, text=True,
                                timeout=120, check=False)  # fmt: skip
    assert result.returncode == 1
    assert f"port {port}, the probes of inspections, is taken by another process" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_free_ports_for_listeners_are_never_ones_an_outgoing_connection_can_take() -> None:
    low, high = ephemeral_port_range()
    ports = [free_port() for _ in range(50)]
    first = free_ports(len(SERVICE_NAMES))
    ports += range(first, first + len(SERVICE_NAMES))
    assert all(20000 <= port < low for port in ports), (low, high, ports)
    assert len(set(ports)) == len(ports)  # none given twice, though none is bound yet
    for port in ports[:5]:
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", port))
