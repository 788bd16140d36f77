"""Metrics and probes for youwei's nameko services: one HTTP server per process.

Every service class has ``observability = Observability()``. Each container counts its
entrypoint calls and their latency (``prometheus_client``), and samples its relay's and
its projections' lag behind the logs. When ``METRICS_ADDRESS`` (``host:port``) is set, the
first container of a process to start opens one HTTP server for the whole process
(``nameko run`` with several services runs many containers in one process: a server per
container would clash on the port; ``youwei up`` runs one service per process, each on a
port of its own); the last one to stop closes it. It serves:

- ``/metrics``: Prometheus' text format (``docs/operations.md`` lists the metrics);
- ``/healthz`` (liveness): 200 while the process answers and each of its containers runs;
  a blocked event loop answers nothing, so the probe fails;
- ``/readyz`` (readiness): 200 when each container runs and this process can reach its
  RabbitMQ (an AMQP connection is opened) and its MongoDB (a ``ping``) now; else 503. The
  records service is ready without the broker: its public page is served from MongoDB alone
  (``SERVES_WITHOUT_BROKER``; the report still says whether the broker answers). Both answer
  a JSON report per service.

Besides calls, it samples what to watch (docs/operations.md, "Watch it"): the lag of the
relay, of the projections and of every policy consumer (its tracked position against its
upstream log), and the age of the log's latest signed checkpoint; event handlers count
their retries and parks (``events.consumer``), and refusals (``Forbidden``) are counted.

Unset or empty, no server runs and the metrics are only counted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections import defaultdict
from datetime import datetime
from typing import Any

from kombu import Connection
from nameko.extensions import DependencyProvider
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    make_wsgi_app,
)
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from schemas.errors import Forbidden

log = logging.getLogger(__name__)

#: The process's metrics (not prometheus_client's global registry, so that nothing else
#: imported into the process adds to what youwei exposes).
REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

CALLS = Counter(
    "youwei_calls",
    "Entrypoint calls (RPC commands and queries, HTTP requests, event handlers, timers) by "
    "outcome: ok, refused (an expected error: invalid, not found, rule, conflict), failed",
    ["service", "method", "outcome"],
    registry=REGISTRY,
)
ERRORS = Counter(
    "youwei_errors",
    "Errors raised by entrypoints, by type (expected ones included)",
    ["service", "method", "error"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "youwei_handler_seconds",
    "Time an entrypoint's worker took, from its start to its result",
    ["service", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
RELAY_LAG = Gauge(
    "youwei_relay_lag_events",
    "Events in a service's log that its relay has not yet had confirmed by the broker",
    ["service", "log"],
    registry=REGISTRY,
)
PROJECTION_LAG = Gauge(
    "youwei_projection_lag_events",
    "Events of a source log that a projection's live generation has not yet applied",
    ["service", "projection", "source"],
    registry=REGISTRY,
)
SAMPLED = Gauge(
    "youwei_lag_sampled_timestamp_seconds",
    "When a service last sampled its relay and projection lag (Unix time)",
    ["service"],
    registry=REGISTRY,
)

CONSUMER_LAG = Gauge(
    "youwei_consumer_lag_events",
    "Events of the types a policy handles in its upstream log after the position it tracked "
    "(at most LAG_SCAN_LIMIT counted)",
    ["service", "policy", "source"],
    registry=REGISTRY,
)
CONSUMER_POSITION = Gauge(
    "youwei_consumer_position",
    "The position of its upstream log that a policy has tracked",
    ["service", "policy", "source"],
    registry=REGISTRY,
)
RETRIES = Counter(
    "youwei_event_retries",
    "Event messages whose handler failed and that were sent to a retry queue",
    ["service", "queue"],
    registry=REGISTRY,
)
PARKS = Counter(
    "youwei_event_parks",
    "Event messages parked (<queue>.parked): malformed, or failed after every retry",
    ["service", "queue", "reason"],
    registry=REGISTRY,
)
CHECKPOINT_AGE = Gauge(
    "youwei_checkpoint_age_seconds",
    "Seconds since the latest signed checkpoint of the service's log (since the process "
    "started, if none is signed); only while a signing key is configured",
    ["service", "log"],
    registry=REGISTRY,
)
ACCESS_REFUSED = Counter(
    "youwei_access_refused",
    "Calls refused by the authorization policy (Forbidden; recorded as AccessDenied)",
    ["service", "method"],
    registry=REGISTRY,
)

PROBE_TIMEOUT_SECONDS = 2.0
LAG_SCAN_LIMIT = 100_000
#: Services that serve without the broker: records' public page reads MongoDB only, so
#: its pods stay in the Ingress while RabbitMQ is away.
SERVES_WITHOUT_BROKER = frozenset({"records"})


def _consuming(container) -> bool:
    """Whether every queue consumer of the container has its consumers declared and set up
    (nameko marks a container started before that)."""
    from nameko.messaging import QueueConsumer

    consumers = [e for e in container.subextensions if isinstance(e, QueueConsumer)]
    return all(c._consumers_ready.ready() for c in consumers)


def _running(container) -> bool:
    return bool(container.started) and not container._being_killed and not container._died.ready()


def amqp_reachable(uri: str, timeout: float = PROBE_TIMEOUT_SECONDS) -> str | None:
    """None if an AMQP connection to ``uri`` opens now, else why not."""
    try:
        with Connection(uri, connect_timeout=timeout) as connection:
            connection.connect()
    except Exception as error:  # any failure to connect is the answer, not an error here
        return f"{type(error).__name__}: {error}"[:300]
    return None


class _Databases:
    """One small client per MongoDB URI for probes, with short timeouts."""

    def __init__(self) -> None:
        self.clients: dict[str, MongoClient] = {}

    def reachable(self, uri: str) -> str | None:
        client = self.clients.get(uri)
        if client is None:
            client = self.clients[uri] = MongoClient(
                uri,
                serverSelectionTimeoutMS=int(PROBE_TIMEOUT_SECONDS * 1000),
                connectTimeoutMS=int(PROBE_TIMEOUT_SECONDS * 1000),
                socketTimeoutMS=int(PROBE_TIMEOUT_SECONDS * 1000),
                appname="youwei-probe",
            )
        try:
            client.admin.command("ping")
        except PyMongoError as error:
            return f"{type(error).__name__}: {error}"[:300]
        return None

    def close(self) -> None:
        for client in self.clients.values():
            client.close()
        self.clients.clear()


class _ProcessServer:
    """The process's one HTTP server, and the providers (one per container) it reports."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.providers: list[Observability] = []
        self.address: str | None = None
        self.socket = None
        self.thread = None
        self.databases = _Databases()
        self.metrics_app = make_wsgi_app(REGISTRY)

    def join(self, provider: Observability, address: str | None) -> None:
        with self.lock:
            self.providers.append(provider)
            if not address:
                return
            if self.socket is None:
                self._open(address)
            elif address != self.address:
                log.warning("METRICS_ADDRESS %s ignored: this process serves metrics on %s",
                            address, self.address)  # fmt: skip

    def leave(self, provider: Observability) -> None:
        with self.lock:
            if provider in self.providers:
                self.providers.remove(provider)
            if not self.providers and self.socket is not None:
                self._close()

    def _open(self, address: str) -> None:
        import eventlet
        import eventlet.wsgi

        host, _, port = address.rpartition(":")
        self.socket = eventlet.listen((host or "0.0.0.0", int(port)))
        self.address = address
        self.thread = eventlet.spawn(
            eventlet.wsgi.server, self.socket, self.app, log_output=False, debug=False
        )
        log.info("metrics and probes on http://%s/ (/metrics, /healthz, /readyz)", address)

    def _close(self) -> None:
        with contextlib.suppress(Exception):
            self.thread.kill()
        with contextlib.suppress(Exception):
            self.socket.close()
        self.databases.close()
        self.socket = self.thread = self.address = None

    # -- the WSGI application ---------------------------------------------------------------
    def app(self, environ: dict[str, Any], start_response) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return self.metrics_app(environ, start_response)
        if path == "/healthz":
            return self._answer(start_response, *self.liveness())
        if path == "/readyz":
            return self._answer(start_response, *self.readiness())
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found: /metrics, /healthz or /readyz\n"]

    @staticmethod
    def _answer(start_response, ok: bool, report: dict[str, Any]) -> list[bytes]:
        body = json.dumps({"ok": ok, "services": report}, sort_keys=True).encode()
        status = "200 OK" if ok else "503 Service Unavailable"
        start_response(status, [("Content-Type", "application/json"),
                                ("Content-Length", str(len(body)))])  # fmt: skip
        return [body]

    def liveness(self) -> tuple[bool, dict[str, Any]]:
        report = {p.container.service_name: {"running": _running(p.container)}
                  for p in list(self.providers)}  # fmt: skip
        return bool(report) and all(r["running"] for r in report.values()), report

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Each container runs, and its broker and database answer now (each distinct URI
        is checked once per request)."""
        amqp: dict[str, str | None] = {}
        mongodb: dict[str, str | None] = {}
        report: dict[str, Any] = {}
        for provider in list(self.providers):
            if provider.amqp_uri not in amqp:
                amqp[provider.amqp_uri] = amqp_reachable(provider.amqp_uri)
            if provider.mongodb_uri not in mongodb:
                mongodb[provider.mongodb_uri] = self.databases.reachable(provider.mongodb_uri)
            entry = {
                "running": _running(provider.container),
                "consuming": _consuming(provider.container),
                "rabbitmq": amqp[provider.amqp_uri] or "ok",
                "mongodb": mongodb[provider.mongodb_uri] or "ok",
            }
            broker = entry["rabbitmq"] == "ok" or provider.service in SERVES_WITHOUT_BROKER
            consuming = entry["consuming"] or provider.service in SERVES_WITHOUT_BROKER
            entry["ready"] = entry["running"] and entry["mongodb"] == "ok" and broker and consuming
            report[provider.container.service_name] = entry
        return bool(report) and all(r["ready"] for r in report.values()), report


SERVER = _ProcessServer()


class Observability(DependencyProvider):
    """Counts its service's calls, samples its lag every ``METRICS_SAMPLE_SECONDS``
    (default 5), and takes part in the process's metrics and probe server
    (``METRICS_ADDRESS``)."""

    def setup(self) -> None:
        config = self.container.config
        settings = config.get("EVENTSOURCING") or {}
        self.amqp_uri = config["AMQP_URI"]
        self.mongodb_uri = settings.get("MONGODB_URI") or "mongodb://127.0.0.1:27017"
        self.address = (config.get("METRICS_ADDRESS") or "").strip() or None
        self.sample_seconds = float(config.get("METRICS_SAMPLE_SECONDS") or 5.0)
        self.service = self.container.service_name
        self.started_at: dict[Any, float] = {}
        self.process_started = time.time()
        self.stopping = False
        self.labels: set[tuple[Any, ...]] = set()

    def start(self) -> None:
        SERVER.join(self, self.address)
        self.container.spawn_managed_thread(self._sample_forever)

    def stop(self) -> None:
        self.stopping = True
        SERVER.leave(self)
        self._forget_lag()

    def kill(self) -> None:
        self.stop()

    # -- calls ------------------------------------------------------------------------------
    def worker_setup(self, worker_ctx) -> None:
        self.started_at[worker_ctx] = time.perf_counter()

    def worker_result(self, worker_ctx, result=None, exc_info=None) -> None:
        started = self.started_at.pop(worker_ctx, None)
        entrypoint = worker_ctx.entrypoint
        method = entrypoint.method_name
        if started is not None:
            LATENCY.labels(self.service, method).observe(time.perf_counter() - started)
        if exc_info is None:
            outcome = "ok"
        else:
            expected = getattr(entrypoint, "expected_exceptions", ()) or ()
            outcome = "refused" if isinstance(exc_info[1], expected) else "failed"
            ERRORS.labels(self.service, method, exc_info[0].__name__).inc()
            if isinstance(exc_info[1], Forbidden):
                ACCESS_REFUSED.labels(self.service, method).inc()
        CALLS.labels(self.service, method, outcome).inc()

    def worker_teardown(self, worker_ctx) -> None:
        self.started_at.pop(worker_ctx, None)

    # -- lag --------------------------------------------------------------------------------
    def _sample_forever(self) -> None:
        while not self.stopping:
            try:
                self.sample()
            except Exception as error:  # the database may be away; the probes say so
                log.warning("sampling the lag of %s failed: %s", self.service, error)
            time.sleep(self.sample_seconds)

    def sample(self) -> None:
        """Set this service's relay and projection lag gauges from the database."""
        from events.projections import Generation, ProjectionsRunner
        from events.relay import RelayExtension

        for extension in self.container.dependencies:
            if isinstance(extension, RelayExtension) and hasattr(extension, "relay"):
                relay = extension.relay
                lease = relay.lease.leases.find_one({"_id": relay.reader.log}) or {}
                labels = (self.service, relay.reader.log)
                RELAY_LAG.labels(*labels).set(relay.reader.head() - lease.get("position", 0))
                self.labels.add((RELAY_LAG, labels))
            if isinstance(extension, ProjectionsRunner) and hasattr(extension, "projectors"):
                for name, projector in extension.projectors.items():
                    pointer = projector.pointers.find_one({"_id": name})
                    generation = pointer["generation"] if pointer else None
                    for source, reader in projector.readers.items():
                        position = 0
                        if generation is not None:
                            live = Generation(projector.datastore, projector.projection, generation)
                            position = live.position(reader.log)
                        labels = (self.service, name, source)
                        PROJECTION_LAG.labels(*labels).set(reader.head() - position)
                        self.labels.add((PROJECTION_LAG, labels))
        application = self._application()
        if application is not None:
            database = application.factory.datastore.database
            self._sample_consumers(application, database)
            self._sample_checkpoint(database)
        SAMPLED.labels(self.service).set(time.time())
        self.labels.add((SAMPLED, (self.service,)))

    def _application(self):
        from events.dependency import ApplicationDependency

        for extension in self.container.dependencies:
            if isinstance(extension, ApplicationDependency) and extension.application is not None:
                return extension.application
        return None

    def _sample_consumers(self, application, database) -> None:
        """Each policy's lag: the events of its types after the position it tracked.

        A tracking record ``<policy><<log>`` says how far a policy walked its upstream log;
        the types it handles are those of the service's handlers on that log. Where a service
        runs several policies on one log, each is taken to handle the type of the event at its
        tracked position (a policy's position is always one of its own events once it has
        applied one), so that one policy's events are not counted as another's lag."""
        from events.consumer import LogEventHandler
        from events.published import event_type
        from schemas.events import LOGS

        handled: dict[str, set[str]] = defaultdict(set)
        sources: dict[str, str] = {}
        for entrypoint in self.container.entrypoints:
            if isinstance(entrypoint, LogEventHandler):
                log_name = LOGS[entrypoint.source_service]
                handled[log_name].add(entrypoint.event_type)
                sources[log_name] = entrypoint.source_service
        tracking = getattr(application.recorder, "tracking", None)
        if not handled or tracking is None:
            return
        policies: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for record in tracking.find({}, {"notification_id": True}):
            policy, separator, log_name = str(record["_id"]).partition("<")
            if separator and log_name in handled:
                policies[log_name].append((policy, record["notification_id"]))
        for log_name, tracked in policies.items():
            events = database[log_name]
            for policy, position in tracked:
                types = handled[log_name]
                if len(tracked) > 1:
                    at = events.find_one({"position": position}, {"topic": True})
                    own = at and event_type(at["topic"])
                    types = {own} if own in types else types
                after = events.find({"position": {"$gt": position}}, {"topic": True})
                pending = sum(
                    1 for e in after.limit(LAG_SCAN_LIMIT) if event_type(e["topic"]) in types
                )
                labels = (self.service, policy, sources[log_name])
                CONSUMER_LAG.labels(*labels).set(pending)
                CONSUMER_POSITION.labels(*labels).set(position)
                self.labels.update({(CONSUMER_LAG, labels), (CONSUMER_POSITION, labels)})

    def _sample_checkpoint(self, database) -> None:
        """The age of the latest checkpoint of this service's log, while a key is set to
        sign it: a signer that fails (an unregistered or retired key, the database away)
        shows as a growing age, which an alert watches (YouweiCheckpointStale)."""
        from events.checkpoints import CHECKPOINTS, CheckpointSigner
        from schemas.events import LOGS

        signing = any(isinstance(e, CheckpointSigner) and e.key_file
                      for e in self.container.extensions)  # fmt: skip
        log_name = LOGS.get(self.service)
        if not signing or log_name is None:
            return
        latest = database[CHECKPOINTS].find_one(
            {"log": log_name}, {"signed_at": True}, sort=[("signed_at", -1)]
        )
        since = self.process_started
        if latest is not None:
            since = datetime.fromisoformat(latest["signed_at"].replace("Z", "+00:00")).timestamp()
        labels = (self.service, log_name)
        CHECKPOINT_AGE.labels(*labels).set(max(0.0, time.time() - since))
        self.labels.add((CHECKPOINT_AGE, labels))

    def _forget_lag(self) -> None:
        """A stopped service's lag is no longer known: its series go."""
        for gauge, labels in self.labels:
            with contextlib.suppress(KeyError):
                gauge.remove(*labels)
        self.labels.clear()
