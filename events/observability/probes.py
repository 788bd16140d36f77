"""The process's one HTTP server: ``/metrics``, and the liveness (``/healthz``) and readiness
(``/readyz``) probes of the containers it runs (``events.observability.dependency`` joins
each container to it)."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from typing import TYPE_CHECKING, Any

from kombu import Connection
from prometheus_client import make_wsgi_app
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from events.runtime.metrics import REGISTRY

if TYPE_CHECKING:
    from events.observability.dependency import Observability

log = logging.getLogger(__name__)

PROBE_TIMEOUT_SECONDS = 2.0
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
