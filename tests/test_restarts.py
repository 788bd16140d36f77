"""A year loads while services die and restart (issue 29): the same demo year on two stacks
of the test's own, one of them with a service process chosen at random killed with SIGKILL
every few seconds (its supervisor restarts each), ends with the same logs, event type by
event type, and with every task served or needing an owner.

What the deadline timer causes is set aside: it runs at each start, so a restarted
inspections service marks overdue, mid-year, letters that are accepted later in the year,
and those that name a task open cases against its owner (the events of those letters'
overdue marks and of those cases). Whether a leaving cadre still owned a task when the
handling arrived depends on the order of events; it is checked as the invariant (every task
served or needing an owner), not as counts.

``YOUWEI_RESTART_KILLS`` (10) is how many kills at most, ``YOUWEI_RESTART_KILL_SECONDS`` (4)
the interval between them, ``YOUWEI_RESTART_SCALE`` the demo's scale (the loader test's,
0.03: every kind of event, fewest steps); the issue's run, a year at full scale with 30 kills:
``YOUWEI_RESTART_SCALE=1.0 YOUWEI_RESTART_KILLS=30 scripts/test tests/test_restarts.py``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pymongo
import pytest

from tests.local_stack import Stack, wait
from tests.test_demo import SMALL
from youwei import demo
from youwei.client import Client
from youwei.stack import SERVICE_NAMES, pid_alive

KILL_SECONDS = float(os.environ.get("YOUWEI_RESTART_KILL_SECONDS", "4"))
KILLS = int(os.environ.get("YOUWEI_RESTART_KILLS", "10"))
SCALE = float(os.environ.get("YOUWEI_RESTART_SCALE", str(SMALL)))
SEED = 29
TODAY = "2026-06-30"  # after every day of the demo's year, the same on both stacks
OVERDUE = "services.inspections.domain:RectificationLetter.BecameOverdue"
RECORDED = "events.commands:CommandRecord.Recorded"
#: A task's owner left it: only if the cadre still owned it when the handling arrived.
OWNER_LEFT = "services.cadre_registry.domain:Responsibility.OwnerLeft"


class Killer(threading.Thread):
    """Kills a service of ``stack`` at random every ``KILL_SECONDS``, ``KILLS`` times or until
    stopped."""

    def __init__(self, stack: Stack) -> None:
        super().__init__(daemon=True)
        self.stack, self.stopping, self.kills = stack, threading.Event(), Counter()
        self.chance = random.Random(SEED)

    def run(self) -> None:
        while sum(self.kills.values()) < KILLS and not self.stopping.wait(KILL_SECONDS):
            name = self.chance.choice(SERVICE_NAMES)
            pid = self.stack.pid(name)
            if pid is not None and pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
                self.kills[name] += 1


@pytest.fixture
def stacks(tmp_path, vhost_pipeline, request):
    from urllib.parse import urlparse

    broker = urlparse(request.config.getoption("RABBIT_AMQP_URI"))
    with vhost_pipeline.get() as calm_vhost, vhost_pipeline.get() as killed_vhost:
        made = [
            Stack(tmp_path / name, f"{broker.scheme}://{broker.netloc}/{vhost}",
                  YOUWEI_TODAY=TODAY, YOUWEI_RESTART_BACKOFF_RESET_SECONDS=None)
            for name, vhost in (("calm", calm_vhost), ("killed", killed_vhost))
        ]  # fmt: skip
        try:
            with ThreadPoolExecutor(2) as pool:
                ups = list(pool.map(lambda s: s.youwei("up", "--no-sync-on-commit"), made))
            for up in ups:
                assert up.returncode == 0, up.stderr
            yield made
        finally:
            for stack in made:
                stack.youwei("down")
                for pid in stack.processes():
                    os.kill(pid, signal.SIGKILL)


def load(stack: Stack, plan: demo.Plan) -> dict[str, dict]:
    loader = demo.Loader(stack.amqp_uri, workers=8)
    loader.check(timeout=60)
    return loader.load(plan)


def kind(event: dict) -> str:
    """An event's type; for a command's record, with the command's name."""
    if event["topic"] != RECORDED:
        return event["topic"]
    return f"{RECORDED} {json.loads(event['state'])['command']}"


def settled_logs(stack: Stack, quiet: float = 3.0, limit: float = 180) -> dict[str, Counter]:
    """Each log's events by type, once no log grew for ``quiet`` seconds."""
    with pymongo.MongoClient(port=stack.mongodb_port, uuidRepresentation="standard") as client:
        database = client["youwei"]
        deadline, last = time.monotonic() + limit, None
        while time.monotonic() < deadline:
            logs = sorted(n for n in database.list_collection_names() if n.endswith("_events"))
            now = {log: Counter(map(kind, database[log].find({}, {"topic": 1, "state": 1})))
                   for log in logs}  # fmt: skip
            if now == last:
                return now
            last = now
            time.sleep(quiet)
    raise AssertionError(f"the logs of {stack.state.name} kept growing")


def timer_caused(stack: Stack) -> tuple[set[str], Counter]:
    """The cases opened from overdue letters, and their events by type in accountability's log."""
    with Client(stack.amqp_uri, timeout=60) as youwei:
        found = youwei.accountability.list_cases({"basis": "overdue_letter", "page_size": 500})
    cases = {case["case_id"] for case in found["cases"]}
    with pymongo.MongoClient(port=stack.mongodb_port, uuidRepresentation="standard") as client:
        log = client["youwei"]["accountability_events"]
        ids = [uuid.UUID(case) for case in cases] + list(cases)
        found = log.find({"originator_id": {"$in": ids}}, {"topic": 1})
        events = Counter(e["topic"] for e in found)
    return cases, events


def comparable(logs: dict[str, Counter], timer_events: Counter) -> dict[str, Counter]:
    """The logs' counts without what the deadline timer caused or the order decided."""
    kept = {log: Counter(events) for log, events in logs.items()}
    kept["inspections_events"].pop(OVERDUE, None)
    kept["inspections_events"].pop(f"{RECORDED} mark_overdue", None)
    kept["cadreregistry_events"].pop(OWNER_LEFT, None)
    kept["accountability_events"].subtract(timer_events)
    kept["accountability_events"].pop(f"{RECORDED} case_for_overdue_letter", None)
    return {log: +events for log, events in kept.items()}


def differences(calm: dict[str, Counter], killed: dict[str, Counter]) -> dict[str, dict]:
    """``{log: {type: (calm, killed)}}`` for each type whose count differs."""
    found = {}
    for log in sorted(set(calm) | set(killed)):
        a, b = calm.get(log, Counter()), killed.get(log, Counter())
        if differing := {t: (a[t], b[t]) for t in sorted(set(a) | set(b)) if a[t] != b[t]}:
            found[log] = differing
    return found


def tasks_served_or_needing_owner(stack: Stack, results: dict[str, dict]) -> None:
    tasks = [value["task_id"] for key, value in results.items()
             if key.startswith("task/") and "task_id" in value]  # fmt: skip
    assert tasks
    with Client(stack.amqp_uri, timeout=60) as youwei:
        registry = youwei.cadre_registry
        needing = {task["task_id"] for task in registry.tasks_needing_owner(
            {"page_size": 500})["tasks"]}  # fmt: skip
        for task in tasks:
            answer = registry.owner_of({"task_id": task})
            if answer["needs_owner"]:
                assert task in needing, answer
            else:
                owner = registry.get_cadre({"cadre_id": answer["owner_id"]})
                assert owner["status"]["code"] == "in_post", (answer, owner["status"])


@pytest.mark.processes
def test_a_year_loads_while_services_are_killed_and_ends_with_the_same_logs(stacks) -> None:
    calm, killed = stacks
    plan = demo.plan_year(SEED, SCALE)
    killer = Killer(killed)
    with ThreadPoolExecutor(2) as pool:
        calm_load = pool.submit(load, calm, plan)
        killer.start()
        try:
            killed_results = pool.submit(load, killed, plan).result()
        finally:
            killer.stopping.set()
            killer.join()
        calm_results = calm_load.result()
    print(f"kills: {dict(killer.kills)}")
    assert sum(killer.kills.values()) >= min(3, KILLS), "the year loaded before a third kill"
    wait(lambda: all(killed.ready(name) for name in SERVICE_NAMES), "the killed stack ready",
         status=killed.supervisor_log)  # fmt: skip

    calm_logs, killed_logs = settled_logs(calm), settled_logs(killed)
    calm_cases, calm_timer = timer_caused(calm)
    killed_cases, killed_timer = timer_caused(killed)
    assert calm_cases <= killed_cases  # the restarts' checks can only add to them
    assert differences(comparable(calm_logs, calm_timer),
                       comparable(killed_logs, killed_timer)) == {}  # fmt: skip
    assert sum(calm_logs["inspections_events"].values()) > 0

    tasks_served_or_needing_owner(calm, calm_results)
    tasks_served_or_needing_owner(killed, killed_results)
