"""The local stack on the embedded default: the machine's RabbitMQ and a SecantusDB server.

Every step is idempotent and works as root on a fresh Debian machine: what is missing is
installed, what is stopped is started, what runs is left alone. SecantusDB lives in its own
virtualenv under ``.local/`` (ignored by git) and keeps its data there across down/up.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pymongo

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOCAL = PROJECT_ROOT / ".local"
SECANTUS_REQUIREMENT = "SecantusDB==0.7.0b3"
SECANTUS_VENV = LOCAL / "secantus-venv"
SECANTUSD = SECANTUS_VENV / "bin" / "secantusd-py"
DEFAULT_MONGODB_PORT = 27017
AMQP_PORT = 5672
RABBIT_MANAGEMENT_PORT = 15672


class StackError(RuntimeError):
    """A step of bringing the stack up failed; the message says which and why."""


def log(message: str) -> None:
    print(f"youwei: {message}", file=sys.stderr, flush=True)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout: float, what: str, interval: float = 0.25) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise StackError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, check=False, capture_output=True, text=True, **kwargs)


# --- RabbitMQ -------------------------------------------------------------------------


def ensure_rabbitmq() -> None:
    """Install (apt), start (detached) and enable the management plugin, as needed."""
    if shutil.which("rabbitmq-server") is None and not Path("/usr/sbin/rabbitmq-server").exists():
        log("installing rabbitmq-server (apt-get)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (["apt-get", "update"], ["apt-get", "install", "-y", "rabbitmq-server"]):
            result = run(command, env=env)
            if result.returncode != 0:
                raise StackError(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    if not port_open(AMQP_PORT):
        log("starting RabbitMQ (rabbitmq-server -detached)")
        result = run(["rabbitmq-server", "-detached"])
        if result.returncode != 0:
            raise StackError(f"rabbitmq-server -detached failed:\n{result.stderr[-2000:]}")
        wait_until(lambda: port_open(AMQP_PORT), 120, "RabbitMQ on port 5672")
    if not port_open(RABBIT_MANAGEMENT_PORT):
        log("enabling rabbitmq_management")
        result = run(["rabbitmq-plugins", "enable", "rabbitmq_management"])
        if result.returncode != 0:
            raise StackError(f"rabbitmq-plugins enable failed:\n{result.stderr[-2000:]}")
        wait_until(lambda: port_open(RABBIT_MANAGEMENT_PORT), 120, "RabbitMQ management")


def rabbitmq_status() -> str:
    amqp = "up" if port_open(AMQP_PORT) else "down"
    management = "up" if port_open(RABBIT_MANAGEMENT_PORT) else "down"
    return f"amqp 127.0.0.1:{AMQP_PORT} {amqp}, management :{RABBIT_MANAGEMENT_PORT} {management}"


# --- SecantusDB -----------------------------------------------------------------------


def ensure_secantus_installed() -> Path:
    """SecantusDB in a virtualenv of its own (its dependencies stay out of ours)."""
    if SECANTUSD.exists():
        return SECANTUSD
    log(f"installing {SECANTUS_REQUIREMENT} into {SECANTUS_VENV}")
    SECANTUS_VENV.parent.mkdir(parents=True, exist_ok=True)
    for command in (
        [sys.executable, "-m", "venv", str(SECANTUS_VENV)],
        [str(SECANTUS_VENV / "bin" / "pip"), "install", "-q", SECANTUS_REQUIREMENT],
    ):
        result = run(command)
        if result.returncode != 0:
            raise StackError(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    return SECANTUSD


def ping(uri: str, timeout_ms: int = 1000) -> bool:
    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=500)
    try:
        client.admin.command("ping")
        return True
    except pymongo.errors.PyMongoError:
        return False
    finally:
        client.close()


@dataclass(kw_only=True)
class BackgroundProcess:
    """A process of the stack, started detached, known by its pid file, logging to a file."""

    name: str
    pid_file: Path
    log_file: Path

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        return pid

    def launch(self, command: list[str], ready, timeout: float, env: dict | None = None) -> None:
        """Start ``command`` and wait until ``ready()``; fail with its log if it exits."""
        for directory in (self.pid_file.parent, self.log_file.parent):
            directory.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log_file:
            process = subprocess.Popen(
                command,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=env,
            )
        self.pid_file.write_text(f"{process.pid}\n")

        def started() -> bool:
            if process.poll() is not None:
                tail = self.log_file.read_text(errors="replace")[-2000:]
                raise StackError(f"{self.name} exited with {process.returncode}:\n{tail}")
            return ready()

        wait_until(started, timeout, f"{self.name} to be ready")

    def stop(self, timeout: float = 30) -> bool:
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)

        def gone() -> bool:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            try:
                os.kill(pid, 0)
            except OSError:
                return True
            return False

        try:
            wait_until(gone, timeout, f"{self.name} (pid {pid}) to stop")
        except StackError:
            os.kill(pid, signal.SIGKILL)
            wait_until(gone, 10, f"{self.name} (pid {pid}) to die")
        self.pid_file.unlink(missing_ok=True)
        return True


@dataclass(kw_only=True)
class SecantusServer(BackgroundProcess):
    """A SecantusDB process: the stack's on port 27017, or a test's on a free port."""

    name: str = "SecantusDB"
    port: int = DEFAULT_MONGODB_PORT
    storage_path: Path = LOCAL / "data" / "secantus"
    sync_on_commit: bool = False
    host: str = "127.0.0.1"

    @property
    def uri(self) -> str:
        return f"mongodb://{self.host}:{self.port}"

    def start(self, timeout: float = 60) -> None:
        if self.pid() is not None and ping(self.uri):
            return
        if port_open(self.port, self.host):
            raise StackError(
                f"port {self.port} is taken by another process: stop it, or set another port"
            )
        binary = ensure_secantus_installed()
        self.storage_path.mkdir(parents=True, exist_ok=True)
        command = [
            str(binary),
            "--host", self.host,
            "--port", str(self.port),
            "--storage-path", str(self.storage_path),
            "--log-level", "WARNING",
        ]  # fmt: skip
        if self.sync_on_commit:
            command.append("--sync-on-commit")
        self.launch(command, lambda: ping(self.uri, timeout_ms=500), timeout)


#: The nameko services that ``youwei up`` runs, as ``nameko run`` module paths.
SERVICE_MODULES = [
    "services.cadre_registry.service",
    "services.evaluations.service",
    "services.inspections.service",
    "services.accountability.service",
    "services.records.service",
]
SERVICE_NAMES = ["cadre_registry", "evaluations", "inspections", "accountability", "records"]


@dataclass(kw_only=True)
class Services(BackgroundProcess):
    """youwei's nameko services, in one ``nameko run`` process (eventlet)."""

    name: str = "services"

    def start(self, mongodb_uri: str, timeout: float = 120) -> None:
        if self.pid() is not None:
            return
        nameko = Path(sys.executable).parent / "nameko"
        command = [
            str(nameko), "run", *SERVICE_MODULES,
            "--config", str(PROJECT_ROOT / "services" / "config.yaml"),
        ]  # fmt: skip
        env = {
            "AUDIT_SIGNING_KEY_FILE": str(signing_key()),
            **os.environ,
            "AMQP_URI": amqp_uri(),
            "MONGODB_URI": mongodb_uri,
            "PYTHONPATH": str(PROJECT_ROOT),
        }
        self.launch(command, lambda: rpc_consumers_ready(SERVICE_NAMES), timeout, env=env)


def signing_key() -> Path:
    """The local stack's checkpoint signing key (made on first use, kept in the state
    folder); a deployment gives its own in ``AUDIT_SIGNING_KEY_FILE`` (docs/audit.md)."""
    from events.checkpoints import new_private_key_pem

    path = state_dir() / "audit-signing-key.pem"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_bytes(new_private_key_pem())
    return path


def web_address() -> str:
    """Where the records service serves the public page (``WEB_SERVER_ADDRESS``)."""
    return os.environ.get("WEB_SERVER_ADDRESS") or "127.0.0.1:8000"


def amqp_uri() -> str:
    return os.environ.get("AMQP_URI") or "pyamqp://guest:guest@127.0.0.1:5672/"


def broker_queues(uri: str | None = None) -> list[dict]:
    """The queues of the vhost of ``uri`` (default ``AMQP_URI``), from RabbitMQ's
    management API on the broker's host, with the URI's credentials."""
    broker = urllib.parse.urlsplit(uri or amqp_uri())
    vhost = urllib.parse.quote(urllib.parse.unquote(broker.path[1:]) or "/", safe="")
    host = broker.hostname or "127.0.0.1"
    request = urllib.request.Request(f"http://{host}:{RABBIT_MANAGEMENT_PORT}/api/queues/{vhost}")
    credentials = f"{broker.username or 'guest'}:{broker.password or 'guest'}"
    request.add_header("Authorization", f"Basic {base64.b64encode(credentials.encode()).decode()}")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


def rpc_consumers_ready(service_names: list[str]) -> bool:
    """Whether each service's RPC queue has a consumer, in the vhost of ``AMQP_URI``."""
    try:
        queues = {q["name"]: q.get("consumers", 0) for q in broker_queues()}
    except OSError:
        return False
    return all(queues.get(f"rpc-{name}", 0) > 0 for name in service_names)


def stack_database(sync_on_commit: bool = True) -> SecantusServer:
    """The stack's SecantusDB: port ``YOUWEI_MONGODB_PORT`` (27017), data, pid and log under
    ``YOUWEI_STATE_DIR`` (``.local``)."""
    state = state_dir()
    return SecantusServer(
        port=int(os.environ.get("YOUWEI_MONGODB_PORT") or DEFAULT_MONGODB_PORT),
        storage_path=state / "data" / "secantus",
        pid_file=state / "run" / "secantus.pid",
        log_file=state / "log" / "secantus.log",
        sync_on_commit=sync_on_commit,
    )


def stack_services() -> Services:
    state = state_dir()
    return Services(
        pid_file=state / "run" / "services.pid", log_file=state / "log" / "services.log"
    )


def state_dir() -> Path:
    return Path(os.environ.get("YOUWEI_STATE_DIR") or LOCAL)
