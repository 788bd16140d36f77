"""Processes a fault test can stop and kill without touching the machine's own: a RabbitMQ
node of its own on its own ports, and youwei services in ``nameko run`` processes."""

from __future__ import annotations

import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from kombu import Connection

from youwei.ports import free_port, port_open
from youwei.stack import PROJECT_ROOT, BackgroundProcess

RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")


def kill_group(process: BackgroundProcess, sig: int) -> None:
    pid = process.pid()
    if pid is not None:
        os.killpg(pid, sig)


@dataclass(kw_only=True)
class BrokerNode(BackgroundProcess):
    """A RabbitMQ node with its own name, ports, data and Erlang cookie (under ``home``);
    its data survives a restart."""

    home: Path
    port: int = 0
    name: str = "broker"

    def __post_init__(self) -> None:
        self.port = self.port or free_port()
        self.dist_port = free_port()

    @property
    def uri(self) -> str:
        return f"pyamqp://guest:guest@127.0.0.1:{self.port}/"

    def start(self, timeout: float = 90) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "enabled_plugins").write_text("[].\n")
        env = {
            **os.environ,
            "HOME": str(self.home),
            "RABBITMQ_NODENAME": f"youwei-test-{self.port}@localhost",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.home / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.home / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.home / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.home / "rabbitmq"),
        }
        self.launch([str(RABBITMQ_SERVER)], self._accepts, timeout, env=env)

    def _accepts(self) -> bool:
        if not port_open(self.port):
            return False
        try:
            with Connection(self.uri, connect_timeout=2) as connection:
                connection.connect()
        except OSError:
            return False
        return True

    def stop(self, timeout: float = 60) -> bool:
        """Stop the node (SIGTERM to its process group: a clean shutdown)."""
        pid = self.pid()
        if pid is None:
            return False
        kill_group(self, signal.SIGTERM)
        return super().stop(timeout)


@dataclass(kw_only=True)
class ServiceProcess(BackgroundProcess):
    """One youwei service under ``nameko run``, configured by environment variables."""

    module: str
    env: dict[str, str]

    def start(self, timeout: float = 60) -> None:
        nameko = Path(sys.executable).parent / "nameko"
        command = [str(nameko), "run", self.module,
                   "--config", str(PROJECT_ROOT / "services" / "config.yaml")]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **self.env}
        self.launch(command, self._consuming, timeout, env=env)

    def _consuming(self) -> bool:
        """Its RPC queue has a consumer: the container runs."""
        try:
            with Connection(self.env["AMQP_URI"], connect_timeout=2) as connection:
                channel = connection.channel()
                _, _, consumers = channel.queue_declare(f"rpc-{self.name}", passive=True)
        except Exception:
            return False
        return consumers > 0

    def kill(self) -> None:
        """kill -9, the whole process group: no clean-up of any kind."""
        kill_group(self, signal.SIGKILL)
        self.stop(timeout=10)
