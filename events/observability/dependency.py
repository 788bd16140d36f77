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
their retries and parks (``events.bus.consumer``), and refusals (``Forbidden``) are counted.

Unset or empty, no server runs and the metrics are only counted.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import defaultdict
from typing import Any

from nameko.extensions import DependencyProvider

from events.observability.probes import SERVER
from events.runtime.metrics import (
    ACCESS_REFUSED,
    CALLS,
    CHECKPOINT_AGE,
    CONSUMER_LAG,
    CONSUMER_POSITION,
    ERRORS,
    LATENCY,
    PROJECTION_LAG,
    RELAY_LAG,
    SAMPLED,
)
from schemas.errors import Forbidden

log = logging.getLogger(__name__)

LAG_SCAN_LIMIT = 100_000


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
        from events.bus.relay import RelayExtension
        from events.readmodels.projections import Generation, ProjectionsRunner

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
        from events.runtime.dependency import ApplicationDependency

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
        from events.bus.consumer import LogEventHandler
        from events.log.published import event_type
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
        """How long the oldest event no signed checkpoint covers has waited, while a key is
        set to sign this service's log: a signer that fails (an unregistered or retired key,
        the database away) shows as a growing age once something is appended, which an alert
        watches (YouweiCheckpointStale). A quiet log is not stale: signing skips an
        unchanged head, so the time since the last signature says nothing."""
        from events.audit.checkpoints import CheckpointSigner, unsigned_event_age
        from schemas.events import LOGS

        signing = any(isinstance(e, CheckpointSigner) and e.key_file
                      for e in self.container.extensions)  # fmt: skip
        log_name = LOGS.get(self.service)
        if not signing or log_name is None:
            return
        labels = (self.service, log_name)
        CHECKPOINT_AGE.labels(*labels).set(unsigned_event_age(database, log_name, time.time()))
        self.labels.add((CHECKPOINT_AGE, labels))

    def _forget_lag(self) -> None:
        """A stopped service's lag is no longer known: its series go."""
        for gauge, labels in self.labels:
            with contextlib.suppress(KeyError):
                gauge.remove(*labels)
        self.labels.clear()
