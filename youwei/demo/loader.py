"""The loader: a plan's steps sent over nameko RPC with a few workers, each step after the
steps it needs, its placeholders filled in from earlier results (``resolve``); and
``main``, the ``youwei demo`` command."""

from __future__ import annotations

import heapq
import queue
import sys
import threading
import time
import uuid
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from .data import CITY
from .steps import NAMESPACE, YEAR, CaseDay, Plan, Ref, Step
from .year import describe, plan_year

SERVICES = ("cadre_registry", "evaluations", "inspections", "accountability")
DEFAULT_AMQP_URI = "pyamqp://guest:guest@127.0.0.1:5672/"
#: Sends of one step in all: after a timeout (the service may be restarting) or a lost race.
ATTEMPTS = 5


class DemoError(RuntimeError):
    """The demo could not load the year; the message says what to do."""


_NAMEKO: list = []


def _rpc() -> tuple[type, type, type, type]:
    """nameko's standalone proxy that sends the connection's user as the request's
    ``user_id`` (the services know the caller by it: docs/rpc.md), and nameko's errors;
    imported on first use (nameko imports eventlet, which announces its deprecation)."""
    if not _NAMEKO:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from nameko.exceptions import RemoteError, RpcTimeout, UnknownService

            from events.identity.agency import IdentifiedClusterRpcProxy
        _NAMEKO[:] = [IdentifiedClusterRpcProxy, RemoteError, RpcTimeout, UnknownService]
    return tuple(_NAMEKO)


def safe_uri(uri: str) -> str:
    from kombu.utils.url import maybe_sanitize_url

    return maybe_sanitize_url(uri)


def resolve(value: Any, results: dict[str, dict], opened: dict[str, date]) -> Any:
    if isinstance(value, Ref):
        return results[value.key][value.name]
    if isinstance(value, CaseDay):
        late = max(timedelta(0), opened[value.case] - value.planned_open)
        day = value.day + late
        if value.by_policy:  # opened on the services' today: nothing after it
            day = min(day, opened[value.case])
        return day.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: resolve(v, results, opened) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [resolve(v, results, opened) for v in value]
    return value


class Loader:
    """Sends a plan's steps with ``workers`` threads (green threads under eventlet), each
    with its own RPC proxy; a step runs once the steps it needs have returned."""

    def __init__(self, amqp_uri: str = DEFAULT_AMQP_URI, workers: int = 8,
                 timeout: float = 30.0, patience: float = 180.0) -> None:  # fmt: skip
        self.amqp_uri, self.workers, self.timeout, self.patience = (
            amqp_uri, workers, timeout, patience)  # fmt: skip

    def check(self, timeout: float = 10.0) -> None:
        """Each service answers a query within ``timeout``, asked ``ATTEMPTS`` times (a
        service restarting answers once it is back), or DemoError says which not."""
        cluster_proxy, remote_error, rpc_timeout, unknown_service = _rpc()
        nobody = str(uuid.UUID(int=0))
        queries = {
            "cadre_registry": ("get_unit", {"unit_id": nobody}),
            "evaluations": ("get_assessment", {"cadre_id": nobody, "year": YEAR}),
            "inspections": ("get_finding", {"finding_id": nobody}),
            "accountability": ("get_case", {"case_id": nobody}),
        }
        where = safe_uri(self.amqp_uri)
        hint = (
            "is the stack up? (.venv/bin/youwei status tells what runs; scripts/up brings it "
            "up; a service restarting again and again may be down a minute)"
        )
        try:
            proxy = cluster_proxy({"AMQP_URI": self.amqp_uri}, timeout=timeout)
            cluster = proxy.start()
        except Exception as error:
            msg = f"cannot reach RabbitMQ at {where}: {error}; {hint}"
            raise DemoError(msg) from None
        try:
            for service, (method, query) in queries.items():
                try:
                    self._asked(getattr(getattr(cluster, service), method), query, rpc_timeout)
                except remote_error as error:
                    if error.exc_type == "Forbidden":
                        msg = (f"{service}.{method} refused the broker user of {where}: "
                               f"{error.value}; the demo calls every service as one user, "
                               "which needs the local_development role (guest on a local "
                               "stack: schemas/authorization.py)")  # fmt: skip
                        raise DemoError(msg) from None
                    if error.exc_type != "NotFound":
                        raise
                except unknown_service:
                    msg = f"the {service} service is not running on {where}: {hint}"
                    raise DemoError(msg) from None
                except rpc_timeout:
                    msg = (f"the {service} service did not answer within {timeout:g} s, "
                           f"{ATTEMPTS} times: {hint}")  # fmt: skip
                    raise DemoError(msg) from None
        finally:
            proxy.stop()

    @staticmethod
    def _asked(method: Callable[[dict], Any], query: dict[str, Any], rpc_timeout: type) -> Any:
        for attempt in range(ATTEMPTS):
            try:
                return method(query)
            except rpc_timeout:
                if attempt == ATTEMPTS - 1:
                    raise
        raise AssertionError  # pragma: no cover

    def load(self, plan: Plan, progress: Callable[[int], None] | None = None) -> dict[str, dict]:
        """Run every step; return each step's result by key (the same on a re-run). The
        steps of one ``bulk`` key go as one ``submit_ratings`` once all of them may run;
        each gets its rating's outcome."""
        steps = {s.key: s for s in plan.steps}
        order = {s.key: n for n, s in enumerate(plan.steps)}
        waiting = {s.key: len(s.after) for s in plan.steps}
        dependents: dict[str, list[str]] = defaultdict(list)
        for step in plan.steps:
            for need in step.after:
                dependents[need].append(step.key)
        bulks: dict[str, list[str]] = defaultdict(list)
        for step in plan.steps:
            if step.bulk:
                bulks[step.bulk].append(step.key)
        held: Counter[str] = Counter()
        ready: list[tuple[int, str]] = []

        def may_run(key: str) -> None:
            bulk = steps[key].bulk
            if bulk is None:
                heapq.heappush(ready, (order[key], key))
                return
            held[bulk] += 1
            if held[bulk] == len(bulks[bulk]):
                heapq.heappush(ready, (order[bulks[bulk][0]], bulk))

        for key, n in waiting.items():
            if n == 0:
                may_run(key)
        later: list[tuple[float, int, str]] = []  # finds to ask again: (when, order, key)
        first_try: dict[str, float] = {}
        tries: Counter[str] = Counter()
        results: dict[str, dict] = {}
        opened: dict[str, date] = {}
        work: queue.Queue = queue.Queue()
        done: queue.Queue = queue.Queue()
        stop = threading.Event()
        threads = [threading.Thread(target=self._work, args=(work, done, stop), daemon=True)
                   for _ in range(self.workers)]  # fmt: skip
        for thread in threads:
            thread.start()
        in_flight = 0
        try:
            while len(results) < len(steps):
                now = time.monotonic()
                while later and later[0][0] <= now:
                    _, n, key = heapq.heappop(later)
                    heapq.heappush(ready, (n, key))
                while ready and in_flight < 2 * self.workers:
                    _, key = heapq.heappop(ready)
                    if key in bulks:
                        work.put(self._bulk(plan, key, [steps[k] for k in bulks[key]], results))
                        in_flight += 1
                        continue
                    step = steps[key]
                    work.put((step, resolve(step.payload, results, opened)))
                    first_try.setdefault(key, now)
                    in_flight += 1
                if in_flight == 0 and not later:
                    msg = "steps wait on each other: " + ", ".join(
                        k for k, n in waiting.items() if n and k not in results
                    )
                    raise DemoError(msg)
                wait = 1.0 if not later else max(0.01, min(1.0, later[0][0] - now))
                try:
                    key, status, value = done.get(timeout=wait)
                except queue.Empty:
                    continue
                if status == "failed":
                    raise DemoError(value)
                in_flight -= 1
                if key in bulks:
                    for member, outcome in zip(bulks[key], value["outcomes"], strict=True):
                        if outcome["outcome"] == "refused":
                            msg = f"step {member}: rating refused: {outcome['reason']}"
                            raise DemoError(msg)
                        results[member] = outcome
                        for dependent in dependents[member]:
                            waiting[dependent] -= 1
                            if waiting[dependent] == 0:
                                may_run(dependent)
                    if progress is not None:
                        progress(len(bulks[key]))
                    continue
                step = steps[key]
                if status == "not yet":
                    tries[key] += 1
                    if time.monotonic() - first_try[key] > self.patience:
                        msg = (f"the accountability service did not open the case of step {key}"
                               f" ({step.payload}) within {self.patience:g} s: are its event "
                               "handlers running? (.venv/bin/youwei dlq list)")  # fmt: skip
                        raise DemoError(msg)
                    delay = min(5.0, 0.25 * 2 ** min(tries[key], 5))
                    heapq.heappush(later, (time.monotonic() + delay, order[key], key))
                    continue
                results[key] = value
                if step.method == "open_case" and not step.find:
                    opened[key] = date.fromisoformat(
                        resolve(step.payload["opened_on"], results, opened)
                    )
                elif step.find:
                    opened[key] = date.fromisoformat(value["opened_on"])
                if progress is not None:
                    progress(1)
                for dependent in dependents[key]:
                    waiting[dependent] -= 1
                    if waiting[dependent] == 0:
                        may_run(dependent)
        finally:
            stop.set()
            for _ in threads:
                work.put(None)
            for thread in threads:  # daemons: one stuck on its broker connection is left
                thread.join(timeout=2)
        return results

    @staticmethod
    def _bulk(
        plan: Plan, bulk: str, members: list[Step], results: dict[str, dict]
    ) -> tuple[Step, dict[str, Any]]:
        """The ``submit_ratings`` of ``members``, ratings of one agency, in plan order."""
        first = members[0].payload
        command_id = str(uuid.uuid5(NAMESPACE, f"{plan.seed}:{plan.scale:g}:{bulk}"))
        ratings = [
            {k: v for k, v in resolve(m.payload, results, {}).items()
             if k not in ("command_id", "actor")}
            for m in members
        ]  # fmt: skip
        step = Step(bulk, "evaluations", "submit_ratings", {})
        return step, {"command_id": command_id, "actor": first["actor"], "ratings": ratings}

    def _work(self, work: queue.Queue, done: queue.Queue, stop: threading.Event) -> None:
        cluster_proxy, *_ = _rpc()
        proxy = None
        try:
            proxy = cluster_proxy({"AMQP_URI": self.amqp_uri}, timeout=self.timeout)
            cluster = proxy.start()
        except Exception as error:
            done.put((None, "failed", f"cannot reach RabbitMQ at {safe_uri(self.amqp_uri)}: "
                                      f"{error}"))  # fmt: skip
            return
        try:
            while (item := work.get()) is not None:
                if stop.is_set():
                    break
                step, payload = item
                try:
                    status, value = self._call(cluster, step, payload)
                except DemoError as error:
                    status, value = "failed", str(error)
                except Exception as error:
                    what = f"{step.service}.{step.method}: {type(error).__name__}: {error}"
                    status, value = "failed", f"step {step.key} failed: {what}"
                done.put((step.key, status, value))
        finally:
            proxy.stop()

    def _call(self, cluster: Any, step: Step, payload: dict[str, Any]) -> tuple[str, Any]:
        """The step's call, sent again after a timeout (a query as it is, a command with its
        ``command_id``, so the service does it once) and after a lost race, five times in all:
        a service restarting answers once it is back."""
        _, remote_error, rpc_timeout, _ = _rpc()
        send = self._find if step.find else self._send
        for attempt in range(ATTEMPTS):
            last = attempt == ATTEMPTS - 1
            try:
                return send(cluster, step, payload)
            except rpc_timeout:
                if last:
                    msg = (f"step {step.key}: {step.service}.{step.method} did not answer within "
                           f"{self.timeout:g} s, {ATTEMPTS} times")  # fmt: skip
                    raise DemoError(msg) from None
            except remote_error as error:
                if error.exc_type == "Conflict" and "already used" in (error.value or ""):
                    msg = (
                        f"step {step.key}: {error.value}. This seed and scale were loaded "
                        "before by another version of the demo: choose another --seed"
                    )
                    raise DemoError(msg) from None
                if error.exc_type != "Conflict" or last:
                    msg = (f"step {step.key}: {step.service}.{step.method} refused: "
                           f"{error.exc_type}: {error.value}")  # fmt: skip
                    raise DemoError(msg) from None
                time.sleep(0.1 * (attempt + 1))  # a concurrent change won: the same again
        raise AssertionError  # pragma: no cover

    @staticmethod
    def _send(cluster: Any, step: Step, payload: dict[str, Any]) -> tuple[str, Any]:
        return "ok", getattr(getattr(cluster, step.service), step.method)(payload)

    @staticmethod
    def _find(cluster: Any, step: Step, wanted: dict[str, Any]) -> tuple[str, Any]:
        named = {k: v for k, v in wanted.items() if k not in ("cadre_id", "basis")}
        query = {"cadre_id": wanted["cadre_id"], "basis": wanted["basis"], "page_size": 500}
        for case in cluster.accountability.list_cases(query)["cases"]:
            for item in case["basis"]:
                if item["kind"]["code"] == wanted["basis"] and all(
                    item.get(k) == v for k, v in named.items()
                ):
                    return "ok", {"case_id": case["case_id"], "opened_on": case["opened_on"]}
        return "not yet", None


# --- the command -----------------------------------------------------------------------


def main(seed: int, scale: float, amqp_uri: str, workers: int = 8) -> None:
    """``youwei demo``: plan the year, check the services answer, load with a progress bar,
    and say what was loaded and how long it took."""
    import click

    plan = plan_year(seed, scale)
    loader = Loader(amqp_uri, workers=workers)
    try:
        loader.check()
    except DemoError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"youwei demo: {CITY}, {YEAR} (seed {seed}, scale {scale:g}): "
               f"{len(plan.steps)} RPC steps to {safe_uri(amqp_uri)}", err=True)  # fmt: skip
    started = time.monotonic()
    try:
        with click.progressbar(length=len(plan.steps), label="loading the year",
                               file=sys.stderr, show_pos=True) as bar:  # fmt: skip
            loader.load(plan, progress=bar.update)
    except DemoError as error:
        raise click.ClickException(str(error)) from error
    elapsed = time.monotonic() - started
    click.echo(f"loaded in {elapsed:.0f} s (a re-run with the same seed and scale adds nothing):")
    for line in describe(plan):
        click.echo(f"  {line}")
    click.echo(
        "  letters past their deadline become overdue at the inspections service's next "
        "deadline check (INSPECTIONS_DEADLINE_CHECK_SECONDS, hourly by default); those that "
        "name a task then open a case against its owner"
    )
