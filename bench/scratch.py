"""A SecantusDB server of a benchmark's own, on a free port, with its data in a temporary
folder, and the datastore of its database ``bench``: both gone when the benchmark ends; and
a whole stack of a benchmark's own (that server, a RabbitMQ node and service processes)."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from events.log.datastore import MongoDBDatastore
from tests.processes import BrokerNode, ServiceProcess
from youwei.ports import free_port
from youwei.stack import SecantusServer


@contextlib.contextmanager
def scratch_datastore() -> Iterator[tuple[MongoDBDatastore, Path]]:
    """Yield the datastore and the temporary folder (for a benchmark's other files)."""
    with tempfile.TemporaryDirectory(prefix="youwei-bench-") as name:
        folder = Path(name)
        server = SecantusServer.in_folder(folder)
        server.start()
        datastore = MongoDBDatastore(server.uri, "bench")
        try:
            yield datastore, folder
        finally:
            datastore.close()
            server.stop()


@contextlib.contextmanager
def scratch_stack(names: list[str]) -> Iterator[tuple[dict[str, str], SecantusServer, list]]:
    """Yield the services' environment (``AMQP_URI``, ``MONGODB_URI``, database ``bench``,
    a free page address), the database server and the started ``ServiceProcess`` of each of
    ``names``, on a RabbitMQ node and a SecantusDB of the benchmark's own; all stopped after."""
    with tempfile.TemporaryDirectory(prefix="youwei-bench-") as folder:
        root = Path(folder)
        mongo = SecantusServer.in_folder(root)
        broker = BrokerNode(home=root / "rabbit", pid_file=root / "rabbit.pid",
                            log_file=root / "rabbit.log")  # fmt: skip
        mongo.start()
        broker.start()
        env = {"AMQP_URI": broker.uri, "MONGODB_URI": mongo.uri, "MONGODB_DATABASE": "bench",
               "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}"}  # fmt: skip
        services = [
            ServiceProcess(name=name, module=f"services.{name}.service", env=env,
                           pid_file=root / f"{name}.pid", log_file=root / f"{name}.log")
            for name in names
        ]  # fmt: skip
        try:
            for service in services:
                service.start()
            yield env, mongo, services
        finally:
            for service in services:
                service.stop()
            broker.stop()
            mongo.stop()
