"""The database dying: several clients send a stream of commands to the five services (run
as ``nameko run`` processes) while the test's own SecantusDB server (``--sync-on-commit``,
as the stack runs it) is killed with SIGKILL and restarted on the same port and storage,
several times: every other time right after it committed a transaction whose reply it never
sent (tests/commitcut.py, between the services and the server), else at a random moment;
the last outage outlasts the consumers' retry delays. The services give up waiting for the
server after 1.5 s (``serverSelectionTimeoutMS``), so an outage fails their reads and
writes rather than only slowing them. Afterwards:

- every command acknowledged to its caller is in its service's log exactly once, with the
  result the caller got and the events it produced; none that was refused is; one whose
  reply was lost may or may not be, and a retry with the same ``command_id`` answers what
  is recorded and records nothing new;
- every event in every log belongs to exactly one command record (or is an access record):
  no effect was applied twice or without its record;
- every log's hash chain, head and signed checkpoints verify, and each head is signed again;
- the accountability service's policy opened exactly one case for every finding about a
  cadre, no message was parked, and the records service's projections equal a rebuild.

``YOUWEI_DB_KILLS`` (default 3) is how many times the server is killed; set it higher for a
soak (``YOUWEI_DB_KILLS=30 .venv/bin/python -m pytest tests/test_database_kill.py``).
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from uuid import UUID, uuid4

import pymongo
import pytest
from kombu import Connection
from nameko.exceptions import RemoteError, RpcTimeout

from events.audit.checkpoints import CHECKPOINTS, new_private_key_pem
from events.audit.verify import stored_documents, verify_log
from events.identity.access import ACCESS_TYPES
from events.identity.agency import IdentifiedClusterRpcProxy
from events.log.commands import CommandRecord
from events.log.datastore import MongoDBDatastore
from events.log.published import event_type
from events.log.recorders import HEADS_COLLECTION
from events.log.transcoding import transcoder
from events.readmodels.projections import Projector, documents
from schemas.errors import EXPECTED
from schemas.events import LOGS
from services.records.projections import PersonnelFiles, PublicRecords
from tests.commitcut import CommitCutter
from tests.events.support import fresh_database_name
from tests.processes import ServiceProcess
from tests.services.support import ACTOR
from youwei.dlq import parked_queues
from youwei.ports import free_port
from youwei.stack import SecantusServer

pytestmark = pytest.mark.processes
KILLS = int(os.environ.get("YOUWEI_DB_KILLS") or 3)
CLIENTS = 4
REPLY_SECONDS = 5  # a reply later than this counts as lost (the caller's timeout)
SERVICES = ("cadre_registry", "evaluations", "inspections", "accountability", "records")
APPLICATIONS = {"cadre_registry": "CadreRegistry", "evaluations": "Evaluations",
                "inspections": "Inspections", "accountability": "Accountability"}  # fmt: skip
COMMAND_RECORDED = "command_record_recorded"
TODAY = date(2026, 6, 30)
TEAM = [{"name": "李纪检", "role": "commission"}, {"name": "王记者", "role": "media"}]


@dataclass
class Call:
    """One command sent, and what its caller heard: ``acknowledged`` (a result),
    ``refused`` (an error reply) or ``lost`` (no reply in time)."""

    service: str
    method: str
    payload: dict[str, Any]
    outcome: str = ""
    result: Any = None
    error: str | None = None
    retried: list[str] = field(default_factory=list)

    @property
    def command_id(self) -> str:
        return self.payload["command_id"]


class Client:
    """One agency's stream of commands, through its own RPC proxy."""

    def __init__(self, number: int, amqp_uri: str, stopping: threading.Event) -> None:
        self.number = number
        self.config = {"AMQP_URI": amqp_uri}
        self.stopping = stopping
        self.random = random.Random(number)
        self.calls: list[Call] = []
        self.failure: BaseException | None = None
        self.units: list[str] = []
        self.cadres: dict[str, date] = {}  # cadre → the day of their last posting
        self.inspections: list[str] = []
        self.proxy: IdentifiedClusterRpcProxy | None = None

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                self.step()
        except BaseException as error:  # reported by the test
            self.failure = error
        finally:
            self.close()

    def send(self, service: str, method: str, **fields: Any) -> Call:
        call = Call(service, method, {"command_id": str(uuid4()), "actor": ACTOR, **fields})
        self.calls.append(call)
        call.outcome, call.result, call.error = self.rpc(call)
        return call

    def rpc(self, call: Call) -> tuple[str, Any, str | None]:
        if self.proxy is None:
            self.proxy = IdentifiedClusterRpcProxy(self.config, timeout=REPLY_SECONDS)
            self.services = self.proxy.start()
        reply = send(self.services, call)
        if reply[0] == "lost":
            self.close()  # a late reply must not be taken for the next call's
        return reply

    def close(self) -> None:
        if self.proxy is not None:
            self.proxy.stop()
            self.proxy = None

    def step(self) -> None:
        """One command, chosen at random among those the client's state allows."""
        kinds = ["unit"] if not self.units else ["unit", "cadre", "inspection"]
        if self.cadres:
            kinds += ["appoint", "rating", "rating", "refused"]
        if self.cadres and self.inspections:
            kinds += ["finding", "finding", "finding"]
        kind = self.random.choice(kinds)
        n = len(self.calls)
        if kind == "unit":
            call = self.send("cadre_registry", "register_unit", name=f"单位 {self.number}-{n}")
            if call.outcome == "acknowledged":
                self.units.append(call.result["unit_id"])
        elif kind == "cadre":
            call = self.send("cadre_registry", "register_cadre", name=f"干部{self.number}号{n}",
                             gender="female", birth_date="1980-01-02",
                             unit_id=self.random.choice(self.units), post="科长",
                             rank="township_section", post_kind="leadership",
                             effective_date="2025-01-01")  # fmt: skip
            if call.outcome == "acknowledged":
                self.cadres[call.result["cadre_id"]] = date(2025, 1, 1)
        elif kind == "inspection":
            call = self.send("inspections", "open_inspection", kind="undercover_visit",
                             title=f"暗访 {self.number}-{n}", started_on="2026-05-01",
                             team=TEAM)  # fmt: skip
            if call.outcome == "acknowledged":
                self.inspections.append(call.result["inspection_id"])
        elif kind == "appoint":
            cadre = self.random.choice(sorted(self.cadres))
            day = self.cadres[cadre] + timedelta(days=1)
            call = self.send("cadre_registry", "appoint", cadre_id=cadre,
                             unit_id=self.random.choice(self.units), post=f"副主任{n}",
                             rank="township_section", post_kind="leadership",
                             effective_date=day.isoformat())  # fmt: skip
            if call.outcome != "refused":
                self.cadres[cadre] = day  # a lost appointment may have been recorded
        elif kind == "rating":
            cadre = self.random.choice(sorted(self.cadres))
            self.send("evaluations", "submit_rating", cadre_id=cadre,
                      channel="phone_spot_check", period="2026-05", value="satisfied",
                      rater_ref=f"phone-{self.number}-{n}")  # fmt: skip
        elif kind == "finding":
            self.send("inspections", "record_finding",
                      inspection_id=self.random.choice(self.inspections),
                      unit_id=self.random.choice(self.units),
                      cadre_id=self.random.choice(sorted(self.cadres)), situation="no_drive",
                      description=f"发现 {self.number}-{n}", found_on="2026-05-02")  # fmt: skip
        else:  # refused by the service: a finding of an inspection that does not exist
            self.send("inspections", "record_finding", inspection_id=str(uuid4()),
                      unit_id=self.random.choice(self.units), situation="no_drive",
                      description="无此督查", found_on="2026-05-02")  # fmt: skip


@pytest.fixture
def database_server(tmp_path):
    server = SecantusServer.in_folder(tmp_path, sync_on_commit=True)
    server.start()
    yield server
    server.stop()


def kill(server: SecantusServer) -> None:
    pid = server.pid()
    assert pid is not None, "the test's SecantusDB is not running"
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)  # our child: reaped, so its pid is free


@pytest.fixture
def cutter(database_server):
    """The services' way to the database, which can lose a commit's reply and kill the
    server right after it committed (tests/commitcut.py)."""
    proxy = CommitCutter(database_server.port, lambda: kill(database_server))
    yield proxy
    proxy.close()


@pytest.fixture
def services(database_server, cutter, rabbit_config_module, tmp_path):
    """The five services as processes on the test's own database and vhost; yields their
    environment."""
    (tmp_path / "signing.pem").write_bytes(new_private_key_pem())
    env = {
        "AMQP_URI": rabbit_config_module["AMQP_URI"],
        # an outage longer than this fails the services' reads and writes (not only slows
        # them, as with the default of 30 s): the error paths in a test's time
        "MONGODB_URI": f"{cutter.uri}/?directConnection=true&serverSelectionTimeoutMS=1500",
        "MONGODB_DATABASE": fresh_database_name(),
        "YOUWEI_TODAY": TODAY.isoformat(),
        "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}",
        "PROJECTIONS_POLL_SECONDS": "0.5",
        "RELAY_LEASE_SECONDS": "3",
        "EVENT_RETRY_DELAYS": "[0.2, 0.5]",
        "AUDIT_SIGNING_KEY_FILE": str(tmp_path / "signing.pem"),
        "AUDIT_CHECKPOINT_SECONDS": "1",
    }
    processes = [
        ServiceProcess(name=name, module=f"services.{name}.service", env=env,
                       pid_file=tmp_path / f"{name}.pid", log_file=tmp_path / f"{name}.log")
        for name in SERVICES
    ]  # fmt: skip
    try:
        for process in processes:
            process.start()
        yield env
    finally:
        for process in processes:
            process.kill()


def test_acknowledged_commands_survive_kills_of_the_database_exactly_once(
    database_server, cutter, services
) -> None:
    stopping = threading.Event()
    clients = [Client(n, services["AMQP_URI"], stopping) for n in range(CLIENTS)]
    threads = [threading.Thread(target=c.run, name=f"client-{c.number}") for c in clients]
    for thread in threads:
        thread.start()
    chance = random.Random(KILLS)
    try:
        for kill_number in range(KILLS):
            acknowledged = count(clients, "acknowledged")
            wait(lambda a=acknowledged: count(clients, "acknowledged") >= a + 20,
                 "20 commands acknowledged between kills", clients)  # fmt: skip
            if kill_number % 2 == 0:  # right after a commit, its reply lost
                cutter.arm()
                wait(cutter.done.is_set, "a commit to cut", clients)
            else:  # at any moment
                time.sleep(chance.uniform(0, 1.5))
                kill(database_server)
            # the last outage outlasts the consumers' retries (EVENT_RETRY_DELAYS)
            time.sleep(8 if kill_number == KILLS - 1 else chance.uniform(0, 4))
            database_server.start()
        acknowledged = count(clients, "acknowledged")
        wait(lambda: count(clients, "acknowledged") >= acknowledged + 20,
             "20 commands acknowledged after the last restart", clients)  # fmt: skip
    finally:
        stopping.set()
        for thread in threads:
            thread.join(timeout=120)
    for client in clients:
        assert client.failure is None, f"client {client.number}: {client.failure!r}"
    calls = [call for client in clients for call in client.calls]
    outcomes = Counter(call.outcome for call in calls)
    print(f"{KILLS} kills, {cutter.cuts} right after a commit; commands: {dict(outcomes)}")

    client = pymongo.MongoClient(database_server.uri, uuidRepresentation="standard",
                                 tz_aware=True)  # fmt: skip
    database = client[services["MONGODB_DATABASE"]]
    try:
        with IdentifiedClusterRpcProxy({"AMQP_URI": services["AMQP_URI"]}, timeout=60) as rpc:
            check_calls(database, calls)
            check_every_event_has_its_command(database)
            wait_for_cases(database)
            check_retries(database, rpc, calls)
            check_personal_data(rpc, calls)
        wait(lambda: heads_signed(database), "every log's head signed since the last restart")
        for log in LOGS.values():
            verdict = verify_log(database, log)
            assert verdict.ok, (log, verdict.first_break)
            assert verdict.checkpoints_checked or log == LOGS["records"], log
        check_projections(database_server.uri, database.name)
        assert parked(services["AMQP_URI"]) == {}, "messages parked for an outage"
    finally:
        client.close()


def count(clients: list[Client], outcome: str) -> int:
    return sum(1 for client in clients for call in list(client.calls) if call.outcome == outcome)


def wait(condition, what: str, clients: list[Client] = (), seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        failed = [c.failure for c in clients if c.failure is not None]
        assert not failed, f"a client failed: {failed[0]!r}"
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.2)


def records_of(database, service: str, command_id: str) -> list[dict[str, Any]]:
    """The stored command records of ``command_id`` in ``service``'s log, decoded."""
    record_id = CommandRecord.create_id(APPLICATIONS[service], UUID(command_id))
    found = database[LOGS[service]].find({"originator_id": record_id})
    return [{**document, "state": transcoder().decode(document["state"])} for document in found]


def plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def check_calls(database, calls: list[Call]) -> None:
    """Acknowledged: recorded once with the result the caller got. Refused: not recorded.
    Lost: recorded at most once."""
    for call in calls:
        records = records_of(database, call.service, call.command_id)
        where = f"{call.service}.{call.method} {call.command_id} ({call.outcome} {call.error})"
        if call.outcome == "acknowledged":
            assert len(records) == 1, f"{where}: {len(records)} records"
            assert plain(records[0]["state"]["result"]) == call.result, where
        elif call.outcome == "refused":
            assert records == [], f"{where}: refused, but recorded"
        else:
            assert len(records) <= 1, f"{where}: {len(records)} records"


def check_every_event_has_its_command(database) -> None:
    """Each log is a sequence of appends, each a command's events followed by its record
    (``events`` of them), or an access record alone: an event outside them is an effect
    applied without its command, or twice."""
    for service, log in LOGS.items():
        head = database[HEADS_COLLECTION].find_one({"_id": log})["position"]
        unclaimed: list[dict[str, Any]] = []
        records = 0
        for document in stored_documents(database, log, head):
            kind = event_type(document["topic"])
            if kind == COMMAND_RECORDED:
                claimed = transcoder().decode(document["state"])["events"]
                records += 1
                assert len(unclaimed) >= claimed, (log, document["position"])
                if claimed:
                    unclaimed = unclaimed[:-claimed]
                assert unclaimed == [], (
                    f"{log}: events {[d['position'] for d in unclaimed]} belong to no command"
                )
            elif kind in ACCESS_TYPES:
                assert unclaimed == [], (log, document["position"])
            else:
                unclaimed.append(document)
        assert unclaimed == [], f"{log}: its last events belong to no command"
        assert records or service == "records", f"{log} has no commands"


def finding_ids(database) -> list[str]:
    return [
        str(document["originator_id"])
        for document in database[LOGS["inspections"]].find({}, {"topic": 1, "originator_id": 1})
        if event_type(document["topic"]) == "finding_recorded"
    ]


def case_bases(database) -> list[str]:
    cases = []
    for document in database[LOGS["accountability"]].find():
        if event_type(document["topic"]) == "case_opened":
            state = transcoder().decode(document["state"])
            cases.append(str(state["basis"][0]["finding_id"]))
    return cases


def wait_for_cases(database) -> None:
    """The policy catches up: a case for every finding about a cadre, exactly one."""
    findings = finding_ids(database)
    assert findings, "no finding was recorded"
    wait(lambda: len(case_bases(database)) >= len(findings),
         f"cases for {len(findings)} findings", seconds=180)  # fmt: skip
    bases = case_bases(database)
    assert Counter(bases).most_common(1)[0][1] == 1, "a finding opened two cases"
    assert set(bases) == set(findings)


def heads_signed(database) -> bool:
    """Whether each log's head (of the logs that have events) has a signed checkpoint: the
    services' signers work again."""
    for log, position in heads(database).items():
        if log not in LOGS.values():
            continue
        latest = database[CHECKPOINTS].find_one({"log": log}, sort=[("position", -1)])
        if position and (latest or {}).get("position") != position:
            return False
    return True


def heads(database) -> dict[str, int]:
    return {head["_id"]: head["position"] for head in database[HEADS_COLLECTION].find()}


def check_retries(database, rpc, calls: list[Call]) -> None:
    """A retry of a recorded command answers its result and records nothing; a retry of
    one the service refused is refused again. A command not recorded whose reply was lost,
    or an error of the database rather than a refusal, is retried first, as its caller
    would: it is then recorded once (or refused), and checked like the others."""
    for call in calls:
        if call.outcome == "lost" or (call.outcome == "refused" and not refusal(call)):
            if records_of(database, call.service, call.command_id):
                continue  # its reply was lost: the retry below must answer what is recorded
            call.retried.append(f"{call.outcome} {call.error}")
            call.outcome, call.result, call.error = send(rpc, call)
            assert call.outcome != "lost", f"no reply to a retry of {call}"
    check_calls(database, calls)
    wait_for_cases(database)
    before = heads(database)
    for call in calls:
        where = f"{call.service}.{call.method} {call.command_id} ({call.outcome})"
        if call.outcome == "refused":
            assert refusal(call), where
            assert send(rpc, call) == ("refused", None, call.error), where
        else:
            [record] = records_of(database, call.service, call.command_id)
            answer = plain(record["state"]["result"])
            assert send(rpc, call) == ("acknowledged", answer, None), where
    assert heads(database) == before, "a retry recorded something"


def check_personal_data(rpc, calls: list[Call]) -> None:
    """Every cadre registered reads back with the name and birth date sent: the personal
    keys sealing them (written beside the log, events.identity.personal) survived with the
    events."""
    for call in calls:
        if call.method == "register_cadre" and call.outcome == "acknowledged":
            cadre = rpc.cadre_registry.get_cadre({"cadre_id": call.result["cadre_id"]})
            sent = (call.payload["name"], call.payload["birth_date"])
            assert (cadre["name"], cadre["birth_date"]) == sent, call.command_id


def refusal(call: Call) -> bool:
    """Whether an error reply is the service's refusal (a documented error), not a failure."""
    return (call.error or "").split(":")[0] in {kind.__name__ for kind in EXPECTED}


def send(rpc, call: Call) -> tuple[str, Any, str | None]:
    method = getattr(getattr(rpc, call.service), call.method)
    try:
        return "acknowledged", method(call.payload), None
    except RemoteError as error:
        return "refused", None, f"{error.exc_type}: {error.value}"[:500]
    except RpcTimeout:
        return "lost", None, None


def parked(uri: str) -> dict[str, int]:
    """The parked messages of each queue that has any: the database being away is not a
    message's fault, and parking it would leave its policy behind until the next one."""
    counts = {}
    with Connection(uri) as connection:
        for queue in parked_queues(uri):
            _, messages, _ = connection.channel().queue_declare(queue["queue"], passive=True)
            if messages:
                counts[queue["queue"]] = messages
    return counts


def check_projections(uri: str, name: str) -> None:
    """The records service's projections reach the logs' heads and equal a rebuild."""
    datastore = MongoDBDatastore(uri, name)
    try:
        for projection in (PersonnelFiles(), PublicRecords()):
            projector = Projector(datastore, projection)
            wait(lambda p=projector: p.positions(p.live()) == p.heads(),
                 f"the records service's {projection.name} projection to catch up")  # fmt: skip
            live = documents(projector.live())
            new = projector.rebuild()
            assert documents(new) == live, projection.name
    finally:
        datastore.close()
