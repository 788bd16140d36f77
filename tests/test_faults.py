"""Faults in the middle of a stream of 2,000 events, on a RabbitMQ node and in service
processes of the test's own (never the machine's): the inspections relay and one of two
accountability consumers (competing replicas) are killed with SIGKILL, the broker is
restarted, and at the end every message is delivered a second time. Afterwards the
consumers' effects are those of one clean pass: a case for each finding, none lost, none
doubled."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import date
from uuid import UUID, uuid4

import pytest

from events.log.transcoding import transcoder
from services.inspections.application import Inspections
from tests.processes import BrokerNode, ServiceProcess
from tests.services.support import ACTOR
from youwei.stack import SecantusServer

pytestmark = pytest.mark.processes
FINDINGS = 2000
CASE_OPENED = "services.accountability.domain:Case.Opened"


@pytest.fixture
def database(tmp_path):
    """A SecantusDB server of the test's own: its 2,000 findings, their cases and their
    repeats stay out of the session's server (dropping them there held it for minutes)."""
    server = SecantusServer.in_folder(tmp_path)
    server.start()
    yield server.uri
    server.stop()


@pytest.fixture
def broker(tmp_path):
    node = BrokerNode(home=tmp_path / "rabbit", pid_file=tmp_path / "rabbit.pid",
                      log_file=tmp_path / "rabbit.log")  # fmt: skip
    node.start()
    yield node
    node.stop()


def service(name: str, tmp_path, env: dict) -> ServiceProcess:
    return ServiceProcess(name=name, module=f"services.{name}.service", env=env,
                          pid_file=tmp_path / f"{name}.pid",
                          log_file=tmp_path / f"{name}.log")  # fmt: skip


def test_kills_a_broker_restart_and_duplicates_leave_one_clean_pass(
    broker, database, tmp_path
) -> None:
    env = {"AMQP_URI": broker.uri, "MONGODB_URI": database, "MONGODB_DATABASE": "faults",
           "RELAY_LEASE_SECONDS": "2", "EVENT_RETRY_DELAYS": "[0.2, 0.5, 1, 2, 4]"}  # fmt: skip
    inspections = Inspections(env={"PERSISTENCE_MODULE": "events.mongodb", **env})
    relay = service("inspections", tmp_path, env)
    consumer = service("accountability", tmp_path, env)
    replica = service("accountability", tmp_path / "replica", env)  # competing for messages
    relay.start()
    consumer.start()
    replica.start()
    store = inspections.factory.datastore
    stopped = threading.Event()
    writer = None
    try:
        team = [{"name": "李纪检", "role": "commission"}, {"name": "王记者", "role": "media"}]
        visit = inspections.open_inspection(
            {"command_id": uuid4(), "actor": ACTOR, "kind": "undercover_visit", "title": "暗访",
             "started_on": date(2026, 5, 1), "team": team}
        )["inspection_id"]  # fmt: skip
        visit = UUID(visit)
        cadres = [uuid4() for _ in range(50)]
        found: list[str] = []

        def write() -> None:
            for n in range(FINDINGS):
                if stopped.is_set():  # the test failed: stop writing, the services are stopping
                    return
                found.append(inspections.record_finding(
                    {"command_id": uuid4(), "actor": ACTOR, "inspection_id": visit,
                     "unit_id": uuid4(), "cadre_id": cadres[n % 50], "situation": "no_drive",
                     "cadre_type": None, "description": f"发现 {n}", "evidence": [],
                     "typical": False, "found_on": date(2026, 5, 2)}
                )["finding_id"])  # fmt: skip

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        wait(lambda: len(found) >= 400, "400 findings")
        relay.kill()  # the relay dies mid-batch; its lease expires; a new process takes over
        relay.start()
        wait(lambda: len(found) >= 800 and cases(store) >= 100, "cases being opened")
        consumer.kill()  # the consumer dies mid-handling
        consumer.start()
        wait(lambda: len(found) >= 1200, "1200 findings")
        broker.stop()
        broker.start()
        writer.join()
        store.collection("relay_leases").update_many({}, {"$set": {"position": 0}})  # again!

        head = store.collection("log_heads").find_one({"_id": "inspections_events"})["position"]
        head -= 1  # the last event is the last finding's command record, which is not relayed
        tracked = store.collection("accountability_tracking")

        def progress() -> str:
            lease = store.collection("relay_leases").find_one({"_id": "inspections_events"})
            return (f"(head {head}, relayed {lease['position']}, tracked "
                    f"{list(tracked.find())}, cases {cases(store)}, queues "
                    f"{queue_states(broker.uri)})")  # fmt: skip

        wait(lambda: (tracked.find_one({"_id": "case_for_finding<inspections_events"}) or {})
             .get("notification_id", 0) >= head, "the consumer to reach the log's head",
             seconds=300, status=progress)  # fmt: skip
        wait(
            lambda: (
                store.collection("relay_leases").find_one({"_id": "inspections_events"})["position"]
                >= head
            ),
            "the relay to publish it all",
        )
        time.sleep(2.0)  # the second copies of the last messages are handled (and ignored)

        bases = case_bases(store)
        assert len(bases) == FINDINGS, f"{len(bases)} cases for {FINDINGS} findings"
        assert Counter(bases).most_common(1)[0][1] == 1, "a finding opened two cases"
        assert set(bases) == set(found)
    finally:
        stopped.set()
        if writer is not None:
            writer.join(timeout=60)
        replica.stop()
        consumer.stop()
        relay.stop()
        inspections.close()


def wait(condition, what: str, seconds: float = 120, status=lambda: "") -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"waited {seconds} s for {what} {status()}"
        time.sleep(0.2)


def cases(store) -> int:
    return store.collection("accountability_events").count_documents({"topic": CASE_OPENED})


def case_bases(store) -> list[str]:
    coder = transcoder()
    documents = store.collection("accountability_events").find({"topic": CASE_OPENED})
    return [str(coder.decode(d["state"])["basis"][0]["finding_id"]) for d in documents]


def queue_states(uri: str) -> dict:
    from kombu import Connection

    name = "evt-inspections-finding_recorded--accountability.finding_recorded"
    states = {}
    with Connection(uri) as connection:
        for queue in (name, f"{name}.retry.1", f"{name}.parked"):
            try:
                _, messages, consumers = connection.channel().queue_declare(queue, passive=True)
                states[queue] = (messages, consumers)
            except Exception as error:
                states[queue] = repr(error)
    return states
