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
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pymongo

from youwei.ports import free_port, port_open

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


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped by its parent, does not)."""
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False  # our child, just reaped
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc here: the signal test is all there is
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def signal_group(pid: int, sig: int) -> None:
    """Send ``sig`` to ``pid``'s process group (the stack starts each process in a session of
    its own), or to ``pid`` alone when it leads none; a process already gone is no error."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def terminate(processes: dict[str, int], grace: float) -> dict[str, str]:
    """SIGTERM each process (name → pid), SIGKILL those still running after ``grace``
    seconds; what happened to each: ``stopped`` or ``killed after …``."""
    for pid in processes.values():
        signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    outcome = {name: "stopped" for name in processes}
    while any(pid_alive(pid) for pid in processes.values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    for name, pid in processes.items():
        if pid_alive(pid):
            signal_group(pid, signal.SIGKILL)
            outcome[name] = f"killed (still running {grace:g} s after SIGTERM)"
    wait_until(lambda: not any(pid_alive(pid) for pid in processes.values()), 10,
               f"{', '.join(processes)} to die after SIGKILL")  # fmt: skip
    return outcome


@dataclass(kw_only=True)
class BackgroundProcess:
    """A process of the stack, started detached, known by its pid file, logging to a file."""

    name: str
    pid_file: Path
    log_file: Path
    #: A word of its command line, checked before a pid from the pid file is trusted (the
    #: pid may since have gone to another process).
    marker: str | None = None

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) and self.runs_here(pid) else None

    def runs_here(self, pid: int) -> bool:
        """Whether ``pid`` is this process (not another that reused a stale pid file's pid)."""
        if self.marker is None or not Path("/proc").is_dir():
            return True
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False
        if not command:  # a process that is being exec'd has none for a moment
            return True
        return any(self.marker in part.decode(errors="replace") for part in command.split(b"\0"))

    def popen(self, command: list[str], env: dict | None = None) -> subprocess.Popen:
        """Start ``command`` detached (a session of its own), logging to the log file, and
        write its pid file."""
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
        return process

    def log_tail(self, size: int = 2000) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-size:]
        except OSError:
            return ""

    def launch(self, command: list[str], ready, timeout: float, env: dict | None = None) -> None:
        """Start ``command`` and wait until ``ready()``; fail with its log if it exits."""
        process = self.popen(command, env)

        def started() -> bool:
            if process.poll() is not None:
                raise StackError(f"{self.name} exited with {process.returncode}:\n"
                                 f"{self.log_tail()}")  # fmt: skip
            return ready()

        wait_until(started, timeout, f"{self.name} to be ready")

    def stop(self, timeout: float = 30) -> bool:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; False if it was not running."""
        pid = self.pid()
        if pid is None:
            return False
        terminate({self.name: pid}, timeout)
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

    @classmethod
    def in_folder(cls, folder: Path, sync_on_commit: bool = False) -> SecantusServer:
        """A server of a test's or a benchmark's own, on a free port, its data, pid file and
        log in ``folder``."""
        return cls(port=free_port(), storage_path=folder / "secantus",
                   pid_file=folder / "secantus.pid", log_file=folder / "secantus.log",
                   sync_on_commit=sync_on_commit)  # fmt: skip

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


#: The nameko services that ``youwei up`` runs, each in a ``nameko run`` process of its own;
#: the n-th (from 0) serves its probes on 127.0.0.1, port ``YOUWEI_METRICS_PORT`` + n.
SERVICE_NAMES = ["cadre_registry", "evaluations", "inspections", "accountability", "records"]
DEFAULT_METRICS_PORT = 9101
NAMEKO_CONFIG = PROJECT_ROOT / "services" / "config.yaml"


def _setting(env, variable: str, default: float, kind=float, least: float = 0) -> float:
    raw = (env.get(variable) or "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or value < least or (kind is float and value != value):
        raise StackError(f"{variable}: {raw[:40]!r} is not a {kind.__name__} of at least {least}")
    return value


@dataclass(frozen=True)
class Supervision:
    """How the supervisor looks after the services (docs/operations.md, "The local stack").

    Every ``probe_seconds`` it asks each service's ``/healthz``, allowing a probe as long
    to answer; ``failures`` probes in a row that fail (no answer, or not ok) restart it. A
    service that was never live is given ``startup_seconds`` before that. Stopping is
    SIGTERM, then SIGKILL after ``grace_seconds``. A restart waits 1 s, then 2, 4, … up to
    ``backoff_max_seconds`` while restarts follow each other; the count starts again when a
    process that was live for ``backoff_reset_seconds`` dies. So a service is down at most
    ``backoff_max_seconds`` and its start after a death, however often it is killed
    (bench/restarts.py measures it; docs/operations.md, "The local stack").
    """

    probe_seconds: float = 5.0
    failures: int = 3
    startup_seconds: float = 120.0
    grace_seconds: float = 30.0
    backoff_max_seconds: float = 30.0
    backoff_reset_seconds: float = 10.0

    @classmethod
    def from_env(cls, env=None) -> Supervision:
        env = os.environ if env is None else env
        return cls(
            probe_seconds=_setting(env, "YOUWEI_PROBE_SECONDS", cls.probe_seconds, least=0.1),
            failures=_setting(env, "YOUWEI_PROBE_FAILURES", cls.failures, int, least=1),
            startup_seconds=_setting(env, "YOUWEI_STARTUP_SECONDS", cls.startup_seconds),
            grace_seconds=_setting(env, "YOUWEI_STOP_GRACE_SECONDS", cls.grace_seconds),
            backoff_max_seconds=_setting(env, "YOUWEI_RESTART_BACKOFF_MAX_SECONDS",
                                         cls.backoff_max_seconds, least=1),
            backoff_reset_seconds=_setting(env, "YOUWEI_RESTART_BACKOFF_RESET_SECONDS",
                                           cls.backoff_reset_seconds),
        )  # fmt: skip

    def backoff(self, restarts: int) -> float:
        """Seconds to wait before the restart that follows ``restarts`` others in a row."""
        return min(self.backoff_max_seconds, 2.0 ** min(restarts, 30))


@dataclass(frozen=True)
class Probe:
    """What one probe found: ``ok``, else ``reason`` says why not."""

    ok: bool
    reason: str = "ok"


def probe(url: str, timeout: float) -> Probe:
    """GET ``url``, a probe of events.observability: ok when it answers 200 with ``"ok":
    true``; else the reason (no answer, or the report's first complaint)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            report = json.load(response)
    except urllib.error.HTTPError as error:
        try:
            report = json.load(error)
        except ValueError:
            return Probe(False, f"HTTP {error.code}")
    except (OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        return Probe(False, getattr(reason, "strerror", None) or str(reason) or repr(reason))
    if report.get("ok") is True:
        return Probe(True)
    complaints = [
        f"{service}: {field} {value}"
        for service, entry in sorted((report.get("services") or {}).items())
        for field, value in sorted(entry.items())
        if value not in (True, "ok") and field != "ready"
    ]
    return Probe(False, "; ".join(complaints)[:300] or "not ok")


@dataclass(kw_only=True)
class StackService(BackgroundProcess):
    """One service of the stack: ``nameko run services.<name>.service`` in a process of its
    own, its metrics and probes on ``127.0.0.1:<metrics_port>``."""

    metrics_port: int

    def __post_init__(self) -> None:
        self.marker = self.module

    @property
    def module(self) -> str:
        return f"services.{self.name}.service"

    @property
    def metrics_address(self) -> str:
        return f"127.0.0.1:{self.metrics_port}"

    def command(self) -> list[str]:
        nameko = Path(sys.executable).parent / "nameko"
        return [str(nameko), "run", self.module, "--config", str(NAMEKO_CONFIG)]

    def environment(self, base: dict[str, str]) -> dict[str, str]:
        return {**base, "METRICS_ADDRESS": self.metrics_address}

    def probe(self, path: str, timeout: float = 5.0) -> Probe:
        return probe(f"http://{self.metrics_address}{path}", timeout)

    def not_ready(self) -> str | None:
        """None when it runs, ``/readyz`` is ok and its RPC queue has a consumer; else why
        not (readiness comes a moment before nameko consumes: both are asked)."""
        if self.pid() is None:
            return "no process"
        readiness = self.probe("/readyz")
        if not readiness.ok:
            return readiness.reason
        if not rpc_consumers_ready([self.name]):
            return f"no consumer on rpc-{self.name} yet"
        return None


@dataclass(kw_only=True)
class SupervisorProcess(BackgroundProcess):
    """The stack's supervisor (``python -m youwei.supervisor``): it starts the services and
    restarts one that died or stopped answering its liveness probe."""

    name: str = "supervisor"
    marker: str | None = "youwei.supervisor"

    def start(self, mongodb_uri: str) -> bool:
        """Start it, unless it runs; whether it was started."""
        if self.pid() is not None:
            return False
        Supervision.from_env()
        check_probe_ports(stack_services())
        env = {
            "AUDIT_SIGNING_KEY_FILE": str(signing_key()),
            **os.environ,
            "AMQP_URI": amqp_uri(),
            "MONGODB_URI": mongodb_uri,
            "PYTHONPATH": str(PROJECT_ROOT),
            "YOUWEI_STATE_DIR": str(state_dir().resolve()),
        }
        self.popen([sys.executable, "-m", "youwei.supervisor"], env)
        return True


def check_probe_ports(services: list[StackService]) -> None:
    """Fail if another process listens on the probe port of a service that is to start."""
    for service in services:
        if service.pid() is None and port_open(service.metrics_port):
            raise StackError(
                f"port {service.metrics_port}, the probes of {service.name}, is taken by another "
                "process: stop it, or set YOUWEI_METRICS_PORT to another range of five"
            )


def wait_ready(services: list[StackService], supervisor: SupervisorProcess,
               timeout: float) -> None:  # fmt: skip
    """Wait until every service is ready; fail with the logs of those that are not, or the
    supervisor's if it exits."""
    deadline = time.monotonic() + timeout
    while True:
        if supervisor.pid() is None:
            raise StackError(f"the supervisor exited:\n{supervisor.log_tail()}")
        reasons = [(service, service.not_ready()) for service in services]
        waiting = [(service, reason) for service, reason in reasons if reason]
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise StackError(f"not ready after {timeout:.0f} s: " + "".join(
                f"\n{service.name}: {reason}; the end of {service.log_file}:\n"
                f"{service.log_tail(1200)}" for service, reason in waiting))  # fmt: skip
        time.sleep(1)


def signing_key_path() -> Path:
    """Where the local stack keeps its checkpoint signing key (``signing_key`` makes it)."""
    return state_dir() / "audit-signing-key.pem"


def signing_key() -> Path:
    """The local stack's checkpoint signing key (made on first use, kept in the state
    folder); a deployment gives its own in ``AUDIT_SIGNING_KEY_FILE`` (docs/audit.md)."""
    from events.audit.checkpoints import new_private_key_pem

    path = signing_key_path()
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


def metrics_ports() -> dict[str, int]:
    """Each service's metrics and probe port: ``YOUWEI_METRICS_PORT`` (9101) and the next."""
    last = 65535 - len(SERVICE_NAMES) + 1
    first = int(_setting(os.environ, "YOUWEI_METRICS_PORT", DEFAULT_METRICS_PORT, int, least=1))
    if first > last:
        raise StackError(f"YOUWEI_METRICS_PORT: {first} leaves no room for "
                         f"{len(SERVICE_NAMES)} ports (at most {last})")  # fmt: skip
    return {name: first + n for n, name in enumerate(SERVICE_NAMES)}


def stack_services() -> list[StackService]:
    """The services, each with its pid file (``run/<name>.pid``) and log (``log/<name>.log``)
    under the state folder."""
    state = state_dir()
    return [
        StackService(
            name=name,
            metrics_port=port,
            pid_file=state / "run" / f"{name}.pid",
            log_file=state / "log" / f"{name}.log",
        )
        for name, port in metrics_ports().items()
    ]


def stack_supervisor() -> SupervisorProcess:
    state = state_dir()
    return SupervisorProcess(
        pid_file=state / "run" / "supervisor.pid", log_file=state / "log" / "supervisor.log"
    )


def single_process_services() -> BackgroundProcess:
    """The five services in one ``nameko run``, as ``youwei up`` ran them before each had
    its own process: ``up`` and ``down`` stop one still running from then."""
    state = state_dir()
    return BackgroundProcess(
        name="services (one process, as before)", marker="nameko",
        pid_file=state / "run" / "services.pid", log_file=state / "log" / "services.log",
    )  # fmt: skip


def state_dir() -> Path:
    return Path(os.environ.get("YOUWEI_STATE_DIR") or LOCAL)
